"""Waiting for ``serve --json``'s ready line: found after other lines, and a server that never prints
it fails within the timeout instead of blocking its caller forever."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from resnet_deploy.bench.live_server import _wait_ready
from resnet_deploy.errors import ResNetDeployError


def _popen(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


def test_the_ready_line_is_found_after_other_lines() -> None:
    proc = _popen("import time; print('starting'); print('{\"status\": \"loading\"}'); "
                  "print('{\"status\": \"ready\", \"http\": \"http://127.0.0.1:1\"}', flush=True); time.sleep(30)")
    try:
        assert _wait_ready(proc, timeout_s=20)["http"] == "http://127.0.0.1:1"
    finally:
        proc.kill()
        proc.wait()


def test_a_server_that_never_says_ready_fails_within_the_timeout() -> None:
    proc = _popen("import sys, time; sys.stdout.write('a partial line'); sys.stdout.flush(); time.sleep(60)")
    t = time.monotonic()
    try:
        with pytest.raises(ResNetDeployError, match="no ready line within 2 s"):
            _wait_ready(proc, timeout_s=2)
        assert time.monotonic() - t < 10
    finally:
        proc.kill()
        proc.wait()


def test_a_server_that_exits_says_so() -> None:
    proc = _popen("print('{\"status\": \"starting\"}')")
    with pytest.raises(ResNetDeployError, match="exit code 0"):
        _wait_ready(proc, timeout_s=20)

"""Readiness means ready: /v2/health/ready turns 200 only when every served model answers."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from resnet_deploy.serve.environment import find_free_port

pytest.importorskip("pytriton")


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


@pytest.mark.slow
def test_health_ready_waits_for_every_model(tmp_path: Path) -> None:
    from resnet_deploy.export.config import ExportConfig
    from resnet_deploy.export.pipeline import export_artifact

    art = tmp_path / "resnet20"
    export_artifact(ExportConfig(arch="resnet20", num_classes=10, input_size=32, formats=("onnx",), out=art))
    ports = [find_free_port() for _ in range(3)]
    cmd = [sys.executable, "-c", "from resnet_deploy.cli import main; main()", "serve", str(art),
           "--http-port", str(ports[0]), "--grpc-port", str(ports[1]), "--metrics-port", str(ports[2])]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{ports[0]}/v2"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            if _status(f"{base}/health/ready") == 200:
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"serve never became ready (exit code {proc.poll()})")
        # the first instant the server says ready, every model must be ready too
        assert _status(f"{base}/models/resnet/ready") == 200
        assert _status(f"{base}/models/resnet_image/ready") == 200
    finally:  # clean shutdown on SIGTERM is the hardening catalogue's to check; here just stop it all
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=90)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

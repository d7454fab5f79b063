"""Errors keep their cause (``raise ... from exc``) and the CLI still prints one line, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from resnet_deploy.errors import CheckpointError
from resnet_deploy.models.weights import read_state_dict

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def truncated_pth(tmp_path: Path) -> Path:
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"PK\x03\x04 not really a zip archive" * 4)
    return bad


def test_the_library_error_keeps_the_torch_cause(truncated_pth: Path) -> None:
    with pytest.raises(CheckpointError) as info:
        read_state_dict(truncated_pth)
    assert info.value.__cause__ is not None, "the backend exception must stay as __cause__ for logs"
    assert not isinstance(info.value.__cause__, CheckpointError)


def test_cli_prints_exactly_one_error_line_for_a_chained_error(truncated_pth: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "from resnet_deploy.cli import main; main()",
         "info", "--arch", "resnet18", "--weights", str(truncated_pth)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert str(truncated_pth) in lines[0] or "bad.pth" in lines[0]
    assert "Traceback" not in proc.stderr and "direct cause" not in proc.stderr

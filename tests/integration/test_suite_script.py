"""benchmarks/suite.py on a small exported artifact: it writes its run directory and latest.md,
leaves no staging directory, and refuses bad options with one line (structure, not speed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("openvino")

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "suite.py"


def _suite(*args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RESNET_DEPLOY_HOST_WAIT_S": "0"}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout, env=env)


def test_suite_on_given_artifacts_writes_its_results(tmp_path: Path) -> None:
    from resnet_deploy.export.config import ExportConfig
    from resnet_deploy.export.pipeline import export_artifact

    art = tmp_path / "resnet18"
    export_artifact(ExportConfig(arch="resnet18", num_classes=10, input_size=32, formats=("onnx",), out=art))
    out = tmp_path / "results"
    res = _suite("--artifacts", str(art), "--backends", "onnxruntime:fp32", "--batch-sizes", "1", "--repeats", "1",
                 "--time-budget", "0.1", "--paired-rounds", "0", "--eval-size", "16", "--calib-size", "16",
                 "--retime", "0", "--out", str(out))
    assert res.returncode == 0, res.stderr[-2000:]
    runs = [d for d in out.iterdir() if d.is_dir()]
    assert len(runs) == 1 and not runs[0].name.startswith(".")  # the staging directory was renamed, not left
    suite = json.loads((runs[0] / "suite.json").read_text())
    assert list(suite["reports"]) == ["resnet18"] and suite["header"]["batch sizes"] == [1]
    assert {t["name"] for t in suite["targets"]}  # every target is listed, judged or not
    assert (runs[0] / "resnet18" / "report.html").is_file()
    assert "resnet18" in (out / "latest.md").read_text()
    assert f"results: {runs[0]}/summary.md" in res.stdout


@pytest.mark.parametrize(("args", "needle"), [
    (["--batch-sizes", "x"], "--batch-sizes"),
    (["--artifacts", "/nonexistent/resnet18"], "does not exist"),
])
def test_bad_options_are_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    res = _suite(*args, "--out", str(tmp_path), timeout=120)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().startswith("error:") and needle in res.stderr
    assert not any(tmp_path.iterdir())  # nothing written

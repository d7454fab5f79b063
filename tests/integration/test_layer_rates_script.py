"""benchmarks/layer_rates.py on a small exported model: its convolution MACs add up to the manifest's
GMACs and the profile accounts for the wall time (structure, not speed)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("openvino")

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "layer_rates.py"


def test_layer_rates_adds_up(tmp_path: Path) -> None:
    from resnet_deploy.artifact import load_manifest
    from resnet_deploy.export.config import ExportConfig
    from resnet_deploy.export.pipeline import export_artifact

    art = tmp_path / "resnet18"
    export_artifact(ExportConfig(arch="resnet18", num_classes=10, input_size=64, formats=("onnx",), out=art))
    out = tmp_path / "rates.md"
    res = subprocess.run([sys.executable, str(SCRIPT), str(art), "--key", "fp32", "--rounds", "3", "--threads", "1",
                          "--rates", "3x3=50,1x1=40", "--out", str(out)], capture_output=True, text=True, cwd=ROOT,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    text = out.read_text()
    gmacs = float(re.search(r"; ([0-9.]+) GMACs in convolutions", text).group(1))
    assert gmacs == pytest.approx(load_manifest(art).model.gmacs, rel=0.02)  # every conv of the model, counted once
    rows = [line for line in text.splitlines() if line.startswith("| 3x3") or line.startswith("| 1x1")]
    assert rows and all(float(r.split("|")[4]) > 0 for r in rows)  # GMACs per class
    wall, profiled = map(float, re.search(r"Wall ([0-9.]+) ms per call; the profile accounts for ([0-9.]+) ms",
                                          text).groups())
    assert 0 < profiled <= wall * 1.5


def test_a_missing_key_is_one_line(tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path), "--key", "int8-openvino"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert res.stderr.strip().startswith("error:") and "--key" in res.stderr

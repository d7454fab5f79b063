"""benchmarks/int8_agreement.py on a small quantized artifact: every variant scored on the same images, the
shipped variant reproducing what quantize recorded, NNCF's presets beside it (structure, not accuracy)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from resnet_deploy.bench.peer import probe_peer

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "int8_agreement.py"
EVAL = 64

pytestmark = pytest.mark.skipif(probe_peer() is not None, reason=f"needs openvino and nncf: {probe_peer()}")


def test_variants_are_scored_and_the_shipped_one_matches_quantize(tmp_path: Path) -> None:
    from resnet_deploy.artifact import load_manifest
    from resnet_deploy.export.config import ExportConfig
    from resnet_deploy.export.pipeline import export_artifact
    from resnet_deploy.quantize import QuantizeConfig, quantize_artifact

    art = tmp_path / "r18"
    export_artifact(ExportConfig(arch="resnet18", num_classes=10, input_size=32, formats=("onnx",), out=art))
    quantize_artifact(art, QuantizeConfig(targets=("openvino",), calib_size=32, eval_size=EVAL, report_size=8))
    out = tmp_path / "agreement.md"
    res = subprocess.run([sys.executable, str(SCRIPT), str(art), "--exclude", "2", "--eval-size", str(EVAL),
                          "--out", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert res.returncode == 0, res.stderr
    data = json.loads(out.with_suffix(".json").read_text())
    names = [r["variant"] for r in data["rows"]]
    assert names == ["ours (openvino): as shipped", "ours (openvino): 8-bit weights",
                     "ours (openvino): 2 most sensitive nodes in float", "NNCF performance", "NNCF mixed"]
    assert data["images"] == EVAL
    for row in data["rows"]:
        for how in ("ort", "simulated", "openvino"):
            if how in row:
                s = row[how]
                assert 0.0 <= s["agreement"] <= 1.0 and s["flips"] == round((1 - s["agreement"]) * EVAL)
    assert all("ort" in r and "simulated" in r for r in data["rows"][:3])
    recorded = load_manifest(art).quantization.drift["int8-openvino"].agreement  # quantize's own ORT figure
    assert data["rows"][0]["ort"]["agreement"] == pytest.approx(recorded)  # same ranges, same images, same file
    assert out.read_text().count("\n| ") == len(names) + 1  # header + one row per variant


def test_a_directory_that_is_no_artifact_is_one_line(tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path), "--no-peer"], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert res.stderr.strip().startswith("error:") and "artifact" in res.stderr

"""scripts/gpu_check.py: its decisions, and a real run on this host where every GPU row skips with a reason."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from resnet_deploy._optional import is_available

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "gpu_check.py"


def load_script():
    """The script as a module (scripts/ is not a package); registered so its dataclasses resolve."""
    name = "gpu_check_under_test"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, SCRIPT)
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


H200 = {"driver": "580.65", "gpu": "NVIDIA H200", "compute_capability": "9.0"}
RTX4090 = {"driver": "580.65", "gpu": "NVIDIA GeForce RTX 4090", "compute_capability": "8.9"}


def test_engine_family_never_runs_rtx_engines_on_a_data_centre_gpu(monkeypatch):
    gc = load_script()
    monkeypatch.setattr(gc, "is_available", lambda name: name == "tensorrt_rtx")  # only TensorRT-RTX here
    family, run_reason, _ = gc.engine_family(H200)
    assert family == "tensorrt-rtx" and "not on NVIDIA H200 (9.0)" in run_reason and "install tensorrt" in run_reason
    assert gc.engine_family(RTX4090)[:2] == ("tensorrt-rtx", None)
    monkeypatch.setattr(gc, "is_available", lambda name: name in ("tensorrt", "tensorrt_rtx"))
    assert gc.engine_family(H200)[:2] == ("tensorrt", None)  # full TensorRT wins where there is a GPU
    monkeypatch.setattr(gc, "is_available", lambda name: False)
    family, _, why = gc.engine_family(H200)
    assert family is None and "resnet-deploy[tensorrt]" in why


def test_compare_measures_and_refuses():
    gc = load_script()
    ref = np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]], dtype=np.float32)
    m = gc.compare(ref + 1e-4, ref, 1e-3, "x")
    assert m["top1_agreement"] == 1.0 and abs(m["rel_max_abs"] - 5e-5) < 1e-6
    with pytest.raises(AssertionError, match=r"max \|Δ\|/range 5.00e-02 > 1e-03"):
        gc.compare(ref + 0.1, ref, 1e-3, "x")
    with pytest.raises(AssertionError):
        gc.compare(ref * np.nan, ref, 1.0, "x")


def test_run_on_this_host_skips_every_gpu_row_with_its_reason(onnx_artifact, tmp_path, gpu_missing):
    if gpu_missing is None:
        pytest.skip("this host has a GPU: run scripts/gpu_check.sh instead")
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, str(SCRIPT), "--artifact", str(onnx_artifact), "--out", str(out)],
                         capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(ROOT)})
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    report = json.loads((out / "gpu_check.json").read_text())
    rows = {r["check"]: r for r in report["rows"]}
    assert rows["artifact"]["status"] == "pass" and report["counts"]["fail"] == 0
    gpu_rows = [r for name, r in rows.items() if not name.endswith("build") and name not in ("environment", "artifact")]
    assert len(gpu_rows) >= 14
    for row in gpu_rows:
        assert row["status"] == "skip" and row["detail"], row
    assert "no NVIDIA GPU" in rows["torch cuda eager fp32"]["detail"] or "no model.pt2" in rows["torch cuda eager fp32"]["detail"] \
        or "sees no CUDA" in rows["torch cuda eager fp32"]["detail"]
    build = rows[next(n for n in rows if n.endswith("fp32 build"))]
    if is_available("tensorrt_rtx"):  # TensorRT-RTX builds without a GPU: the build itself runs here
        assert build["status"] == "pass" and "engines/model.fp32.tensorrt-rtx.plan" in build["detail"]
        assert rows["tensorrt-rtx fp16 build"]["status"] == "skip"  # the tiny artifact has no fp16 file
    else:
        assert build["status"] == "skip"
    assert (out / "gpu_check.md").read_text().count("skip") >= len(gpu_rows)

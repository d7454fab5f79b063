"""The quantize summary a user reads: published paths, and the worst ten layers by SQNR."""

from __future__ import annotations

from pathlib import Path

from resnet_deploy.cli._common import Output
from resnet_deploy.cli.quantize_cmd import render
from resnet_deploy.metrics import Drift
from resnet_deploy.quantize.config import QuantizeResult, TargetResult


def _result(root: Path) -> QuantizeResult:
    drift = Drift(n=10, labelled=True, agreement=1.0, max_abs=0.1, cosine_mean=0.9999, top1=0.9, ref_top1=0.9)
    worst = [{"tensor": f"layer_{i}", "sqnr_db": 30.0 + i} for i in range(10)]
    return QuantizeResult(
        artifact_dir=root, calibration={}, calibration_reused=False,
        targets={"cpu": TargetResult("cpu", root / "model.int8-cpu.onnx", 100, 0.25, drift)},
        worst_layers={"cpu": worst},
    )


def test_relocated_points_at_the_published_artifact(tmp_path: Path) -> None:
    staged = _result(tmp_path / ".art.pipeline-x" / "art")
    final = staged.relocated(tmp_path / "art")
    assert final.artifact_dir == tmp_path / "art"
    assert final.targets["cpu"].path == tmp_path / "art" / "model.int8-cpu.onnx"
    assert final.to_dict()["artifact"] == str(tmp_path / "art")
    assert staged.artifact_dir == tmp_path / ".art.pipeline-x" / "art"  # a copy, not an edit


def test_summary_names_the_worst_ten_layers(tmp_path: Path, capsys) -> None:
    out = Output()
    out.console.width = 400  # one line per message
    render(out, _result(tmp_path / "art"))
    err = capsys.readouterr().err
    line = next(ln for ln in err.splitlines() if ln.startswith("Lowest SQNR (cpu)"))
    assert all(f"layer_{i} " in line for i in range(10))
    assert str(tmp_path / "art") in err and ".pipeline" not in err

"""Bench on a real artifact: export (resnet20, 32 px) -> quantize (INT8 cpu) -> run_bench with the NNCF peer.

One module-scoped pipeline keeps this fast. Checks that every runner available
here (torch-compile excluded: its compile alone takes longer than this whole
test on two cores) agrees with the FP32 PyTorch reference on the held-out sample
images, that the peer was quantised on the same calibration data and timed in
the same run, and that the selection lands in the manifest.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from resnet_deploy.artifact import load_manifest, update_manifest
from resnet_deploy.bench import BenchConfig, compare_backends, load_report, run_bench
from resnet_deploy.bench.select import record_selection, select_backend

CPU_BACKENDS = ["onnxruntime", "openvino", "torchscript", "torch", "torch-channels-last"]
CALIB = 32


@pytest.fixture(scope="module")
def benched(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    from resnet_deploy.demo_model import ensure_demo_model
    from resnet_deploy.export.pipeline import export_artifact
    from resnet_deploy.quantize.config import QuantizeConfig
    from resnet_deploy.quantize.pipeline import quantize_artifact

    # a trained model: a random one's near-tie logits make INT8 agreement meaningless
    sm = ensure_demo_model("tiny")
    art = tmp_path_factory.mktemp("bench") / "r20"
    export_artifact(sm.export_config(art, ("onnx", "torchscript", "exported-program")))
    quantize_artifact(art, QuantizeConfig(calib_size=CALIB, eval_size=32, targets=("cpu",)))
    cfg = BenchConfig(backends=CPU_BACKENDS, batch_sizes=[1, 4], iterations=4, warmup=1, threads=1,
                      eval_size=48, select="min-latency", max_drop=10.0, paired_rounds=2)
    report = run_bench(art, cfg)
    return SimpleNamespace(art=art, report=report)


def test_every_runner_agrees_with_the_reference(benched: SimpleNamespace) -> None:
    r = benched.report
    assert r.reference == "torch:fp32"
    ok = {row.spec: row for row in r.rows if row.ok}
    failed = [(row.spec, row.reason) for row in r.rows if row.status == "failed"]
    assert not failed, failed
    expected = {"onnxruntime:fp32", "onnxruntime:int8-cpu", "openvino:fp32", "openvino:int8-cpu",
                "torchscript:fp32", "torch:fp32", "torch-channels-last:fp32", "openvino-nncf:int8"}
    assert expected <= set(ok), sorted(ok)
    for spec, row in ok.items():
        d = row.drift
        assert d is not None and d["n"] == 48 and d["labelled"] and d["reference"] == "torch:fp32"
        if spec.endswith("fp32"):
            assert d["agreement"] == 1.0, (spec, d)
            assert d["max_abs"] < 1e-3 and d["cosine_min"] > 0.99999, (spec, d)
        else:  # INT8 may flip a near-tie, not more
            assert d["agreement"] >= 0.9 and d["cosine_mean"] > 0.98, (spec, d)
        assert [b.batch for b in row.batches] == [1, 4] and row.threads == 1
        assert row.scenarios["single-stream"]["p90_ms"] == row.at(1).latency.p90


def test_peer_is_nncf_on_the_same_calibration_data(benched: SimpleNamespace) -> None:
    r = benched.report
    m = load_manifest(benched.art)
    info = r.config["peer_info"]
    assert m.calibration is not None and info["calib_count"] == m.calibration.count == CALIB
    assert info["calib_sha256"] == m.calibration.dataset_sha256
    assert info["same_data_as_ours"] is True
    assert info["preset"] == "performance" and info["inference_precision_hint"] == "f32"
    pc = r.peer_comparison
    assert pc["peer"] == "openvino-nncf:int8" and pc["scope"] == "int8"
    assert pc["latency"]["ratio"] > 0 and pc["throughput"]["batch"] == 4  # largest common batch
    paired = pc["paired"]  # head-to-head rounds with the real runners
    assert paired["latency"]["backend"] == pc["latency"]["backend"] and paired["latency"]["rounds"] == 2
    assert paired["throughput"]["batch"] == 4 and len(paired["throughput"]["peer"]) == 2
    assert all(v > 0 for v in paired["latency"]["ours"] + paired["latency"]["peer"])
    assert "head-to-head" in (benched.art / "bench" / "report.md").read_text()


def test_reports_manifest_and_selection(benched: SimpleNamespace) -> None:
    r = benched.report
    m = load_manifest(benched.art)
    assert m.bench is not None and m.selection is not None
    assert m.bench.reference == "torch:fp32" and m.bench.rows.keys() == {row.spec for row in r.rows}
    assert m.selection.to_dict() == r.selection and m.selection.backend in m.bench.rows
    assert m.selection.backend != "openvino-nncf:int8"
    again = load_report(benched.art / "bench" / "report.json")
    assert again.to_dict() == r.to_dict()
    skipped = {row.spec: row.reason for row in r.rows if row.status == "skipped"}
    assert all(reason for reason in skipped.values())


def test_compare_ten_crop(benched: SimpleNamespace) -> None:
    d = compare_backends(benched.art, "torch:fp32", "onnxruntime:int8-cpu", eval_mode="ten-crop",
                         eval_size=16, threads=1)
    assert d["eval_mode"] == "ten-crop" and d["n"] == 16 and d["labelled"]
    assert d["agreement"] >= 0.85 and 0 <= d["top1"] <= 1


def test_runtime_auto_uses_the_selection(benched: SimpleNamespace, tmp_path: Path) -> None:
    """auto loads the recorded selection, also one that differs from what auto picks without it."""
    from resnet_deploy.runtime.predictor import load

    art = tmp_path / "art"
    shutil.copytree(benched.art, art)
    with load(art, backend="auto", threads=1) as pred:
        assert pred.backend == benched.report.selection["backend"]
    update_manifest(art, lambda m: setattr(m, "selection", None))
    with load(art, backend="auto", threads=1, probe=False) as pred:
        default = pred.backend  # auto's fixed preference order (no timed probe)
        assert "fixed preference" in pred.explain()
    # the selection code itself, on the rows auto would not pick first (plain CPU runners only)
    plain = {"onnxruntime:fp32", "onnxruntime:int8-cpu", "openvino:fp32", "openvino:int8-cpu"} - {default}
    others = dataclasses.replace(benched.report, rows=[r for r in benched.report.rows if r.spec in plain])
    selection = select_backend(others, "min-latency", max_drop=10.0)
    record_selection(art, selection)
    with load(art, backend="auto", threads=1) as pred:
        assert pred.backend == selection["backend"] != default
        assert "the benchmark's selection" in pred.explain()

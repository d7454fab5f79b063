"""Each backend is timed in its own fresh process; noisy rows are re-timed (structure, not speed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from resnet_deploy.bench import BenchConfig, run_bench


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from resnet_deploy.export.config import ExportConfig
    from resnet_deploy.export.pipeline import export_artifact

    out = tmp_path_factory.mktemp("iso") / "resnet20"
    export_artifact(ExportConfig(arch="resnet20", num_classes=10, input_size=32, formats=("onnx",), out=out))
    return out


def _cfg(**kw) -> BenchConfig:
    return BenchConfig(batch_sizes=[1], time_budget=0.2, repeats=1, eval_data=None, peer=False,
                       plots=False, record=False, **kw)


def test_every_row_is_timed_in_a_child_that_holds_only_its_own_runtime(artifact: Path) -> None:
    import os

    import onnxruntime  # noqa: F401 - the parent holds ORT; the children must not inherit it

    rep = run_bench(artifact, _cfg(backends=["onnxruntime:fp32", "openvino:fp32"]))
    rows = {r.spec: r for r in rep.ok_rows}
    assert set(rows) == {"onnxruntime:fp32", "openvino:fp32"}
    ort, ov = rows["onnxruntime:fp32"].isolation, rows["openvino:fp32"].isolation
    assert ort["start_method"] == "spawn" and ort["pid"] != os.getpid() != ov["pid"] != ort["pid"]
    assert ort["runtimes_loaded"] == ["onnxruntime"]  # not openvino, not torch
    assert ov["runtimes_loaded"] == ["openvino"]
    for r in rows.values():
        assert r.noise is not None and r.noise["others_cores"] is not None
        assert r.memory is not None and r.memory["rss_peak_mb"] > 0


def test_noisy_rows_are_timed_again(artifact: Path) -> None:
    from resnet_deploy.bench.suite import retime_noisy

    cfg = _cfg(backends=["onnxruntime:fp32"])
    rep = run_bench(artifact, cfg)
    first = rep.row("onnxruntime:fp32")
    assert first is not None
    first.noise = dict(first.noise or {}, noisy=True)  # as if a neighbour had been busy
    rep = retime_noisy(artifact, rep, cfg, tries=1)
    again = rep.row("onnxruntime:fp32")
    assert again is not first and again.isolation["pid"] != first.isolation["pid"]
    assert any("re-timed" in n for n in again.notes)

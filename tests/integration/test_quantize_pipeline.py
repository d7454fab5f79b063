"""quantize_artifact end to end on the tiny trained demo model (ResNet-20 at 32 px).

One module-scoped run writes both INT8 targets + FP16; the other tests copy that
artifact and re-run pieces of the stage. A spy on the real CalibrationReader
counts how often calibration data is read, to prove ranges are computed once.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnx
import pytest

from resnet_deploy.artifact import load_manifest, read_manifest
from resnet_deploy.errors import AccuracyBudgetError
from resnet_deploy.quantize import QuantizeConfig, quantize_artifact

SMALL = {"calib_size": 64, "eval_size": 160, "report_size": 16}


class ReaderSpy:
    """Counts get_next() calls on every real CalibrationReader."""

    def __init__(self, mp: pytest.MonkeyPatch) -> None:
        from resnet_deploy.data.calib_reader import CalibrationReader

        self.calls = 0
        original = CalibrationReader.get_next

        def counted(reader: CalibrationReader):  # type: ignore[no-untyped-def]
            self.calls += 1
            return original(reader)

        mp.setattr(CalibrationReader, "get_next", counted)


@pytest.fixture(scope="module")
def fp32_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from resnet_deploy.demo_model import ensure_demo_model
    from resnet_deploy.export import export_artifact

    sm = ensure_demo_model("tiny")
    out = tmp_path_factory.mktemp("quantize-int") / "tiny"
    export_artifact(sm.export_config(out))
    return out


@pytest.fixture(scope="module")
def quantized(fp32_artifact: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    art = tmp_path_factory.mktemp("quantized") / "art"
    shutil.copytree(fp32_artifact, art)
    with pytest.MonkeyPatch.context() as mp:
        spy = ReaderSpy(mp)
        result = quantize_artifact(art, QuantizeConfig(fp16=True, **SMALL))
    return art, result, spy.calls


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "art"
    shutil.copytree(src, dst)
    return dst


def test_everything_is_written_and_listed(quantized) -> None:
    art, result, calls = quantized
    assert calls == 64 // 32 + 1  # two batches of 32, then None: calibrated exactly once
    m = load_manifest(art)  # verifies every file's sha256
    keys = {f.key for f in m.files if f.format == "onnx"}
    assert {"fp32", "int8-cpu", "int8-tensorrt", "int8-openvino", "fp16"} <= keys  # every target by default
    assert {f.path for f in m.files} >= {"calibration.json", "quant_report.json"}
    assert m.file("onnx", "int8", "cpu").path == "model.int8-cpu.onnx"
    assert m.calibration is not None and m.calibration.count == 64 and m.calibration.file == "calibration.json"
    assert m.calibration.method == result.calibration["method"]
    for target in ("cpu", "tensorrt", "openvino"):
        d = m.quantization.drift[f"int8-{target}"]
        written = json.loads((art / "manifest.json").read_text())["quantization"]["drift"][f"int8-{target}"]
        assert {"ref_top1", "top1", "ref_top5", "top5", "agreement", "max_abs", "mean_abs", "cosine_mean",
                "cosine_min", "n"} <= written.keys()
        assert not {"top1_fp32", "top5_fp32", "cosine"} & written.keys()  # the one set of names (metrics.Drift)
        assert d == result.targets[target].drift
        assert d.n == 160 and d.labelled is True and d.ref_top1 is not None and d.top1 is not None
        assert m.quantization.excluded_nodes[target] == []
        assert 0.2 < m.quantization.targets[target].size_ratio < 0.4
    fusion = m.quantization.targets["cpu"].fusion
    assert fusion is not None and fusion["float"] == 0
    assert not list(art.glob(".tmp*"))  # the work directory is gone


def test_calibration_json_holds_ranges_method_count_and_data_hash(quantized) -> None:
    from resnet_deploy.data import open_source

    art, _, _ = quantized
    cal = json.loads((art / "calibration.json").read_text())
    assert cal["count"] == 64 and cal["method"] in ("entropy", "minmax", "percentile")
    pre = read_manifest(art).preprocessing
    assert cal["dataset_sha256"] == open_source("sample", pre, split="calib", limit=64).sha256
    assert "input" in cal["ranges"] and len(cal["ranges"]) > 30
    assert all(lo <= hi for lo, hi in cal["ranges"].values())


def test_quant_report_has_per_layer_sqnr_and_worst_ten(quantized) -> None:
    art, result, _ = quantized
    report = json.loads((art / "quant_report.json").read_text())
    for target in ("cpu", "tensorrt", "openvino"):
        sec = report["targets"][target]
        assert len(sec["weights"]) == 20  # 19 convs + the classifier
        assert all("sqnr_db" in v and "cumulative_sqnr_db" in v for v in sec["activations"].values())
        worst = sec["worst"]
        assert len(worst) == 10 and worst == result.worst_layers[target]
        assert [w["sqnr_db"] for w in worst] == sorted(w["sqnr_db"] for w in worst)


def test_fp16_is_fp16_inside_fp32_outside_and_matches(quantized) -> None:
    art, result, _ = quantized
    model = onnx.load(str(art / "model.fp16.onnx"))
    f32 = onnx.TensorProto.FLOAT
    assert [i.type.tensor_type.elem_type for i in model.graph.input] == [f32]
    assert [o.type.tensor_type.elem_type for o in model.graph.output] == [f32]
    conv_w = {n.input[1] for n in model.graph.node if n.op_type == "Conv"}
    assert {i.data_type for i in model.graph.initializer if i.name in conv_w} == {onnx.TensorProto.FLOAT16}
    assert result.fp16["parity"]["passed"] and read_manifest(art).parity["onnx:fp16"].passed


def test_another_target_reuses_the_saved_ranges(quantized, tmp_path: Path, monkeypatch) -> None:
    art = _copy(quantized[0], tmp_path)
    spy = ReaderSpy(monkeypatch)
    said: list[str] = []  # a plain callback as the reporter: it must get plain text only
    result = quantize_artifact(art, QuantizeConfig(targets=("tensorrt",), **SMALL), reporter=said.append)
    assert spy.calls == 0 and result.calibration_reused
    assert any(s.startswith("Reusing calibration.json") for s in said)
    report = json.loads((art / "quant_report.json").read_text())
    assert set(report["targets"]) == {"cpu", "tensorrt", "openvino"}  # the other sections survive
    other = "minmax" if result.calibration["method"] != "minmax" else "percentile"
    result = quantize_artifact(art, QuantizeConfig(targets=("cpu",), calib_method=other, **SMALL),
                               reporter=said.append)
    assert spy.calls == 3 and not result.calibration_reused  # another method: calibrated once more
    m = read_manifest(art)
    assert m.calibration is not None and m.calibration.method == other
    # the tensorrt and openvino files came from the old ranges: removed everywhere, and the user is told
    # how to re-emit them
    assert not (art / "model.int8-tensorrt.onnx").exists() and not (art / "model.int8-openvino.onnx").exists()
    assert m.file("onnx", "int8", "openvino") is None and "int8-openvino" not in m.quantization.drift
    assert any("--targets openvino" in n for n in result.notes)
    assert m.file("onnx", "int8", "tensorrt") is None and m.file("onnx", "int8", "cpu") is not None
    assert set(m.quantization.targets) == {"cpu"} and "int8-tensorrt" not in m.quantization.drift
    assert set(json.loads((art / "quant_report.json").read_text())["targets"]) == {"cpu"}
    assert any("--targets tensorrt" in n for n in result.notes)
    assert any(s.startswith("note: removed model.int8-tensorrt.onnx") for s in said)
    assert any(s.startswith("Emitting INT8 cpu") for s in said)
    assert [s for s in said if "[yellow]" in s or "[bold]" in s or "[/" in s] == []
    load_manifest(art)  # every listed file still verifies


def test_cli_json_is_clean_on_stdout(quantized, tmp_path: Path, boundary_eval, monkeypatch, capsys) -> None:
    from resnet_deploy.cli import main

    art = _copy(quantized[0], tmp_path)
    monkeypatch.setattr(sys, "argv", ["resnet-deploy", "quantize", str(art), "--targets", "cpu",
                                      "--calib-size", "64", "--eval-data", str(boundary_eval), "--json"])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["calibration"]["reused"] is True and out["targets"]["cpu"]["file"] == "model.int8-cpu.onnx"


def _boundary_inputs(model: Path, pre, pairs: int = 16) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Inputs on FP32 decision boundaries (bisection between images of different classes).

    Their top-1 margin is ~0, so INT8 noise flips about half of them: an eval set
    on which no quantised model can reach perfect agreement.
    """
    import onnxruntime as ort

    from resnet_deploy.data import open_source

    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])

    def top1(x: np.ndarray) -> np.ndarray:
        return sess.run(None, {"input": x.astype(np.float32)})[0].argmax(1)

    rng = np.random.default_rng(0)
    x, _ = open_source("sample", pre, split="eval", limit=64).arrays()
    x = np.concatenate([x, 3 * rng.standard_normal((64, *x.shape[1:])).astype(np.float32)])
    cls = top1(x)
    out = []
    for _ in range(pairs * 20):
        i, j = rng.integers(len(x), size=2)
        if cls[i] == cls[j]:
            continue
        lo, hi = 0.0, 1.0
        for _ in range(40):
            mid = (lo + hi) / 2
            if top1(((1 - mid) * x[i] + mid * x[j])[None])[0] == cls[i]:
                lo = mid
            else:
                hi = mid
        out += [(1 - lo) * x[i] + lo * x[j], (1 - hi) * x[i] + hi * x[j]]
        if len(out) >= 2 * pairs:
            break
    assert len(out) >= 8, "the FP32 model predicts a single class everywhere"
    return np.stack(out).astype(np.float32)


@pytest.fixture(scope="module")
def boundary_eval(quantized, tmp_path_factory: pytest.TempPathFactory) -> Path:
    art = quantized[0]
    path = tmp_path_factory.mktemp("boundary") / "boundary.npy"
    np.save(path, _boundary_inputs(art / "model.fp32.onnx", read_manifest(art).preprocessing))
    return path


class EmitSpy:
    """Records every emission of the guard: nodes excluded, the ranges object used, the model written."""

    def __init__(self, mp: pytest.MonkeyPatch) -> None:
        from resnet_deploy.quantize import guard

        self.calls: list[SimpleNamespace] = []
        original = guard.emit_qdq

        def recorded(prepared, ranges, target, out_path, **kw):  # type: ignore[no-untyped-def]
            path = original(prepared, ranges, target, out_path, **kw)
            self.calls.append(SimpleNamespace(exclude=list(kw.get("exclude", ())), ranges=ranges,
                                              model=onnx.load(str(out_path))))
            return path

        mp.setattr(guard, "emit_qdq", recorded)


def _runs_quantised(model: onnx.ModelProto, name: str) -> bool:
    """In Q/DQ form a node computes in INT8 when every input comes out of a DequantizeLinear and every
    output goes only into QuantizeLinear (or is the graph's output); a node kept in float breaks one."""
    producer = {o: n.op_type for n in model.graph.node for o in n.output}
    consumers: dict[str, set[str]] = {}
    for n in model.graph.node:
        for i in n.input:
            consumers.setdefault(i, set()).add(n.op_type)
    node = next(n for n in model.graph.node if n.name == name)
    return all(producer.get(i) == "DequantizeLinear" for i in node.input if i) and all(
        consumers.get(o, {"QuantizeLinear"}) == {"QuantizeLinear"} for o in node.output)


def test_guard_keeps_sensitive_nodes_float_from_the_same_ranges(quantized, tmp_path, boundary_eval, monkeypatch) -> None:
    from resnet_deploy.quantize.calibrate import CalibrationRanges

    art = _copy(quantized[0], tmp_path)
    saved = (art / "calibration.json").read_bytes()
    spy, emits = ReaderSpy(monkeypatch), EmitSpy(monkeypatch)
    config = QuantizeConfig(targets=("cpu",), eval_data=str(boundary_eval), max_drop=0.0, **SMALL)
    try:
        result = quantize_artifact(art, config)
    except AccuracyBudgetError as exc:
        assert f"{len(emits.calls)} emissions from the same ranges" in str(exc)
        assert read_manifest(art).quantization.excluded_nodes["cpu"] == []  # nothing half-written
        kept = []
    else:
        t = result.targets["cpu"]
        assert t.excluded_nodes and t.rounds == len(emits.calls) and t.drift.agreement == 1.0  # budget 0 met
        assert read_manifest(art).quantization.excluded_nodes["cpu"] == t.excluded_nodes == emits.calls[-1].exclude
        history = json.loads((art / "quant_report.json").read_text())["targets"]["cpu"]["guard"]["history"]
        assert [h["excluded"] for h in history] == [len(c.exclude) for c in emits.calls]
        kept = t.excluded_nodes
    first, retries = emits.calls[0], emits.calls[1:]
    # the guard retried: nothing excluded first, then a growing prefix of one sensitivity ranking
    assert first.exclude == [] and retries, "the guard never retried"
    sizes = [len(c.exclude) for c in retries]
    assert sizes[0] == 1 and all(a < b for a, b in zip(sizes, sizes[1:], strict=False))
    assert all(c.exclude == retries[-1].exclude[: len(c.exclude)] for c in retries)
    for c in retries:  # each retry wrote another model, its excluded nodes left in float
        same = c.model.SerializeToString() == first.model.SerializeToString()
        assert not same, f"excluding {c.exclude} wrote the fully quantised model again"
        for name in c.exclude:
            assert _runs_quantised(first.model, name) and not _runs_quantised(c.model, name), name
    # from the same ranges: every emission used calibration.json's ranges, which is untouched; no data read
    saved_ranges = CalibrationRanges.load(art / "calibration.json").ranges
    assert all(c.ranges.ranges == saved_ranges for c in emits.calls)
    assert (art / "calibration.json").read_bytes() == saved and spy.calls == 0
    if kept:  # the installed model is the last emission
        installed = onnx.load(str(art / "model.int8-cpu.onnx"))
        assert installed.SerializeToString() == emits.calls[-1].model.SerializeToString()


def test_budget_error_names_the_best_attempt(quantized, tmp_path, boundary_eval) -> None:
    art = _copy(quantized[0], tmp_path)
    before = (art / "model.int8-cpu.onnx").read_bytes()
    config = QuantizeConfig(targets=("cpu",), eval_data=str(boundary_eval), max_drop=0.0, max_rounds=1, **SMALL)
    with pytest.raises(AccuracyBudgetError, match=r"could not reach .* best was [0-9.]+ pt with [01] node\(s\) excluded") as exc:
        quantize_artifact(art, config)
    assert exc.value.exit_code == 1
    assert (art / "model.int8-cpu.onnx").read_bytes() == before
    load_manifest(art)


def test_fp16_only_needs_no_calibration(fp32_artifact, tmp_path, monkeypatch) -> None:
    art = _copy(fp32_artifact, tmp_path)
    spy = ReaderSpy(monkeypatch)
    result = quantize_artifact(art, QuantizeConfig(targets=(), fp16=True, eval_size=64))
    assert spy.calls == 0 and result.calibration == {} and not result.targets
    m = load_manifest(art)
    assert m.file("onnx", "fp16") is not None and m.calibration is None
    assert not (art / "calibration.json").exists()

"""The OpenVINO INT8 form on the 64 px trained demo model (ResNet-18): file, accuracy, specs, structure, bench.

One module-scoped export + quantize (targets cpu and openvino, the same ranges)
feeds every test. The structural test compiles our int8-openvino file and the
NNCF peer with OpenVINO and compares the layer types / kernels of the compiled
graphs (``get_runtime_model``): ours must have none that the peer's lacks, while
the ONNX Runtime form (int8-cpu) still shows the f32 head that motivated it.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnx
import pytest

from resnet_deploy.artifact import load_manifest
from resnet_deploy.bench.peer import probe_peer

SMALL = {"calib_size": 64, "eval_size": 200, "report_size": 16}
needs_peer = pytest.mark.skipif(probe_peer() is not None, reason=f"needs openvino and nncf: {probe_peer()}")


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    from resnet_deploy.demo_model import ensure_demo_model
    from resnet_deploy.export import export_artifact
    from resnet_deploy.quantize import QuantizeConfig, quantize_artifact

    sm = ensure_demo_model("quickstart")
    art = tmp_path_factory.mktemp("ovform") / "r18"
    export_artifact(sm.export_config(art))
    result = quantize_artifact(art, QuantizeConfig(targets=("cpu", "openvino"), **SMALL))
    return SimpleNamespace(art=art, result=result, input_size=sm.input_size)


def test_file_is_written_recorded_and_verified(made: SimpleNamespace) -> None:
    m = load_manifest(made.art)  # verifies every file's sha256
    entry = m.file("onnx", "int8", "openvino")
    assert entry is not None and entry.path == "model.int8-openvino.onnx" and entry.key == "int8-openvino"
    assert (made.art / entry.path).is_file() and len(entry.sha256) == 64
    assert entry.extra["calibration"] == "calibration.json"
    t = m.quantization.targets["openvino"]
    assert t.file == entry.path and t.format == "QDQ"
    assert "int8-openvino" in m.quantization.drift
    assert m.file("onnx", "int8", "cpu").path == "model.int8-cpu.onnx"


def test_float_bias_and_head_qdq_on_the_pooled_tensor(made: SimpleNamespace) -> None:
    ov_model = onnx.load(str(made.art / "model.int8-openvino.onnx"))
    cpu_model = onnx.load(str(made.art / "model.int8-cpu.onnx"))

    def int32_dq(model: onnx.ModelProto) -> int:
        inits = {t.name: t.data_type for t in model.graph.initializer}
        return sum(1 for n in model.graph.node if n.op_type == "DequantizeLinear"
                   and inits.get(n.input[0]) == onnx.TensorProto.INT32)

    assert int32_dq(cpu_model) > 0 and int32_dq(ov_model) == 0
    producer = {o: n for n in ov_model.graph.node for o in n.output}
    [gemm] = [n for n in ov_model.graph.node if n.op_type == "Gemm"]
    flat = producer[gemm.input[0]]
    assert flat.op_type in ("Reshape", "Flatten")
    dq = producer[flat.input[0]]
    q = producer[dq.input[0]]
    assert (dq.op_type, q.op_type) == ("DequantizeLinear", "QuantizeLinear")
    assert producer[q.input[0]].op_type in ("ReduceMean", "GlobalAveragePool")


def test_agreement_with_fp32_is_like_the_cpu_form(made: SimpleNamespace) -> None:
    ov_drift = made.result.targets["openvino"].drift
    cpu_drift = made.result.targets["cpu"].drift
    assert ov_drift.agreement >= 0.97 and abs(ov_drift.agreement - cpu_drift.agreement) <= 0.015


@needs_peer
def test_openvino_runs_it_close_to_fp32(made: SimpleNamespace) -> None:
    from resnet_deploy.data import open_source
    from resnet_deploy.runtime.predictor import load

    m = load_manifest(made.art)
    x, _ = open_source("sample", m.preprocessing, split="eval", limit=200).arrays()
    with load(made.art, backend="onnxruntime:fp32", threads=1) as ref:
        want = ref.infer(x).argmax(1)
    with load(made.art, backend="openvino", threads=1) as ov:
        assert ov.backend == "openvino:int8-openvino"
        got = ov.infer(x).argmax(1)
    assert float(np.mean(got == want)) >= 0.97


def test_specs_resolve(made: SimpleNamespace) -> None:
    from resnet_deploy.runtime.resolve import resolve

    m = load_manifest(made.art)
    assert resolve(m, "openvino:int8-openvino").entry.path == "model.int8-openvino.onnx"
    assert resolve(m, "openvino:int8-cpu").entry.path == "model.int8-cpu.onnx"  # a spec names a file
    if probe_peer() is None:
        assert resolve(m, "openvino").key == "int8-openvino"
    assert resolve(m, "onnxruntime").key == "int8-cpu"  # ONNX Runtime keeps the form it fuses


@needs_peer
def test_compiled_graph_has_no_kernel_the_nncf_peer_lacks(made: SimpleNamespace) -> None:
    import openvino as ov

    from resnet_deploy.bench.peer import kernel_diff, quantize_peer, runtime_kernels
    from resnet_deploy.runtime.openvino import cpu_compile_config

    m = load_manifest(made.art)
    core = ov.Core()
    peer = runtime_kernels(core.compile_model(quantize_peer(made.art, m, calib_size=16).model, "CPU",
                                              cpu_compile_config(1)))

    def kernels(name: str) -> object:
        return runtime_kernels(core.compile_model(str(made.art / name), "CPU", cpu_compile_config(1)))

    def fake_quantizes(counts: object) -> int:
        return sum(v for (layer, _), v in counts.items() if layer == "FakeQuantize")  # type: ignore[attr-defined]

    ours = kernels("model.int8-openvino.onnx")
    only_ours, _ = kernel_diff(ours, peer)
    assert only_ours == [], only_ours
    assert fake_quantizes(ours) == fake_quantizes(peer)  # the input's only: the head's is fused, as in NNCF's
    old = kernels("model.int8-cpu.onnx")  # ORT's form: the f32 head this target exists to remove
    assert kernel_diff(old, peer)[0] and fake_quantizes(old) > fake_quantizes(peer)


@needs_peer
def test_bench_rows_select_and_same_runtime_comparison(made: SimpleNamespace, tmp_path: Path) -> None:
    import shutil

    from resnet_deploy.bench import BenchConfig, run_bench

    art = tmp_path / "art"
    shutil.copytree(made.art, art)
    cfg = BenchConfig(backends=["openvino"], batch_sizes=[1], iterations=4, warmup=1, threads=1,
                      eval_size=32, select="min-latency", max_drop=10.0, calib_size=16)
    report = run_bench(art, cfg)
    ok = {r.spec for r in report.rows if r.ok}
    assert {"openvino:int8-openvino", "openvino:int8-cpu", "openvino-nncf:int8"} <= ok, report.rows
    same = report.peer_comparison["same_runtime"]
    assert same["backend"] == "openvino:int8-openvino" and same["latency"]["ratio"] > 0
    m = load_manifest(art)
    assert m.selection is not None and m.selection.backend in ok - {"openvino-nncf:int8"}
    assert "same runtime" in (art / "bench" / "report.md").read_text()

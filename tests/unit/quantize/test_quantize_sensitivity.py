"""Per-layer SQNR: the hand-written fake-quant matches ORT, and the report/ranking hold together."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from resnet_deploy.quantize.guard import exclusion_sizes
from resnet_deploy.quantize.sensitivity import fake_quant, measure


def test_fake_quant_equals_ort_quantize_dequantize(tmp_path: Path) -> None:
    x = np.random.default_rng(0).standard_normal((4, 1000)).astype(np.float32) * 3
    x[0, :4] = [0.5 * 0.05, 1.5 * 0.05, -2.5 * 0.05, 100.0]  # ties and saturation
    for zp_value, dtype in ((np.uint8(128), TensorProto.UINT8), (np.int8(0), TensorProto.INT8)):
        scale = numpy_helper.from_array(np.array(0.05, np.float32), "s")
        zp = helper.make_tensor("z", dtype, [], [int(zp_value)])
        graph = helper.make_graph(
            [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"])],
            "qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 1000])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 1000])], [scale, zp])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        onnx.save(model, str(tmp_path / "qdq.onnx"))
        y = ort.InferenceSession(str(tmp_path / "qdq.onnx"), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
        info = np.iinfo(zp_value.dtype)
        np.testing.assert_array_equal(fake_quant(x, 0.05, int(zp_value), info.min, info.max), y)


def test_report_covers_every_weight_and_ranks_nodes(qmodels) -> None:
    report = measure(qmodels.prepared, qmodels.cpu, qmodels.x[:8], qmodels.work)
    prepared = onnx.load(str(qmodels.prepared))
    kernels = [n.input[1] for n in prepared.graph.node if n.op_type in ("Conv", "Gemm")]
    assert sorted(report.weights) == sorted(kernels)
    assert all(25.0 < v < 60.0 for v in report.weights.values()), report.weights  # int8 per-channel
    assert "input" in report.activations
    for row in report.activations.values():
        assert 10.0 < row["sqnr_db"] < 80.0
        assert row["cumulative_sqnr_db"] <= row["sqnr_db"] + 1.0  # error accumulates through the net
    worst = report.worst(10)
    assert len(worst) == 10 and [w["sqnr_db"] for w in worst] == sorted(w["sqnr_db"] for w in worst)
    ranked = report.ranking()
    assert len(ranked) == 20 + 8 + 1  # convs, residual adds, classifier
    assert [n["sqnr_db"] for n in report.nodes] == sorted(n["sqnr_db"] for n in report.nodes)


def test_exclusion_sizes_double_then_take_everything() -> None:
    assert exclusion_sizes(29, 8) == [1, 2, 4, 8, 16, 29]
    assert exclusion_sizes(70, 8) == [1, 2, 4, 8, 16, 32, 64, 70]
    assert exclusion_sizes(70, 3) == [1, 2, 4]
    assert exclusion_sizes(0, 8) == []

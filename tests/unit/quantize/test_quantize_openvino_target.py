"""The openvino INT8 target: the cpu form with float biases and the head's Q/DQ on the pooled tensor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from resnet_deploy.quantize import targets
from resnet_deploy.quantize.config import TARGETS, QuantizeConfig
from resnet_deploy.quantize.head import hoist_head_qdq
from resnet_deploy.quantize.qdq import emit_qdq


def _run_unfused(path: Path, x: np.ndarray, name: str = "input") -> np.ndarray:
    """ORT with graph optimisations off: every Q/DQ runs as written, so two graphs compare exactly."""
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"]).run(None, {name: x})[0]


@pytest.fixture(scope="module")
def ov_path(qmodels) -> Path:
    return emit_qdq(qmodels.prepared, qmodels.ranges, "openvino", qmodels.work / "ov.onnx", cache_path=qmodels.cache)


def test_target_is_listed_and_emitted_by_default() -> None:
    assert "openvino" in TARGETS and "openvino" in QuantizeConfig().targets
    entry = targets.manifest_entry("openvino")
    assert entry["file"] == "model.int8-openvino.onnx" and entry["activations"] == "uint8 asymmetric"
    assert targets.spec("openvino").extra_options["QuantizeBias"] is False


def test_biases_stay_float_and_weights_match_the_cpu_form(qmodels, ov_path: Path) -> None:
    ov_model, cpu_model = onnx.load(str(ov_path)), onnx.load(str(qmodels.cpu))
    ov_init = {i.name: numpy_helper.to_array(i) for i in ov_model.graph.initializer}
    cpu_init = {i.name: numpy_helper.to_array(i) for i in cpu_model.graph.initializer}
    assert not [k for k, v in ov_init.items() if v.dtype == np.int32]
    assert [k for k, v in cpu_init.items() if v.dtype == np.int32]  # ORT's form keeps its int32 biases
    for name, value in cpu_init.items():  # same ranges, same quantised weights and scales
        if value.dtype in (np.int8, np.uint8) and name in ov_init:
            assert np.array_equal(value, ov_init[name]), name


def test_pooled_tensor_is_quantized_before_the_flatten(ov_path: Path) -> None:
    """Legacy-exported head (GlobalAveragePool -> Flatten): ORT already quantizes the pool output."""
    model = onnx.load(str(ov_path))
    graph = model.graph
    [pool] = [n for n in graph.node if n.op_type in ("GlobalAveragePool", "ReduceMean")]
    users = [n for n in graph.node if pool.output[0] in n.input]
    assert [n.op_type for n in users] == ["QuantizeLinear"]
    onnx.checker.check_model(model, full_check=True)


def _head_graph(pool_users: int = 1) -> onnx.ModelProto:
    """x -> Q/DQ -> ReduceMean -> Reshape -> Q/DQ -> Gemm: the dynamo exporter's ResNet head."""
    from onnx import TensorProto, helper

    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(np.float32(0.02), "s_in"), numpy_helper.from_array(np.uint8(0), "z_in"),
        numpy_helper.from_array(np.float32(0.01), "s_head"), numpy_helper.from_array(np.uint8(3), "z_head"),
        numpy_helper.from_array(np.array([2, 3], np.int64), "axes"),
        numpy_helper.from_array(np.array([-1, 8], np.int64), "flat_shape"),
        numpy_helper.from_array(rng.standard_normal((5, 8)).astype(np.float32), "w"),
        numpy_helper.from_array(rng.standard_normal(5).astype(np.float32), "b"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s_in", "z_in"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "s_in", "z_in"], ["xd"]),
        helper.make_node("ReduceMean", ["xd", "axes"], ["mean"], keepdims=1),
        helper.make_node("Reshape", ["mean", "flat_shape"], ["view"]),
        helper.make_node("QuantizeLinear", ["view", "s_head", "z_head"], ["vq"]),
        helper.make_node("DequantizeLinear", ["vq", "s_head", "z_head"], ["vd"]),
        helper.make_node("Gemm", ["vd", "w", "b"], ["logits"], transB=1),
    ]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 5])]
    if pool_users > 1:
        outputs.append(helper.make_tensor_value_info("mean", TensorProto.FLOAT, ["n", 8, 1, 1]))
    graph = helper.make_graph(nodes, "head", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 8, 4, 4])],
                              outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    return onnx.shape_inference.infer_shapes(model)


def test_hoist_moves_the_pair_onto_the_pool_output_exactly(tmp_path: Path) -> None:
    before, model = tmp_path / "before.onnx", _head_graph()
    onnx.save(model, str(before))
    assert hoist_head_qdq(model) == 1 and hoist_head_qdq(model) == 0
    onnx.checker.check_model(model, full_check=True)
    producer = {o: n for n in model.graph.node for o in n.output}
    chain, name = [], "logits"
    while name in producer:
        chain.append(producer[name].op_type)
        name = producer[name].input[0]
    assert chain[:5] == ["Gemm", "Reshape", "DequantizeLinear", "QuantizeLinear", "ReduceMean"]
    # named after the tensor it now quantizes, as ORT names pairs (qdq_loss_debug pairs them by name)
    assert producer["mean_DequantizeLinear_Output"].input[0] == "mean_QuantizeLinear_Output"
    after = tmp_path / "after.onnx"
    onnx.save(model, str(after))
    x = np.abs(np.random.default_rng(1).standard_normal((6, 8, 4, 4))).astype(np.float32)
    assert np.array_equal(_run_unfused(before, x, "x"), _run_unfused(after, x, "x"))


def test_hoist_leaves_a_pool_output_with_other_users_alone() -> None:
    model = _head_graph(pool_users=2)
    assert hoist_head_qdq(model) == 0

"""The two INT8 targets, checked on the emitted graphs and on what ONNX Runtime makes of them."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

from resnet_deploy.quantize.qdq import conv_fusion, emit_qdq


def _inits(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}


def _ort_optimized_ops(path: Path, out: Path) -> Counter[str]:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.optimized_model_filepath = str(out)
    so.log_severity_level = 3
    ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])
    return Counter(n.op_type for n in onnx.load(str(out)).graph.node)


def test_cpu_target_every_conv_runs_as_an_int8_kernel_in_ort(qmodels) -> None:
    convs = sum(n.op_type == "Conv" for n in onnx.load(str(qmodels.prepared)).graph.node)
    assert convs == 20
    ops = _ort_optimized_ops(qmodels.cpu, qmodels.work / "cpu-opt.onnx")
    assert ops["QLinearConv"] + ops["ConvInteger"] == convs, ops
    assert ops["Conv"] + ops["FusedConv"] + ops["NchwcConv"] == 0, ops
    assert conv_fusion(qmodels.cpu, qmodels.work / "cpu-opt2.onnx") == {"convs": 20, "int8": 20, "float": 0}


def test_tensorrt_flavour_would_not_fuse_on_cpu(qmodels) -> None:
    """The reason for two targets: ORT's CPU provider leaves S8S8 convs partly in float."""
    fusion = conv_fusion(qmodels.tensorrt, qmodels.work / "trt-opt.onnx")
    assert fusion["float"] > 0


def test_cpu_target_is_u8s8_with_per_channel_symmetric_7bit_weights(qmodels) -> None:
    model = onnx.load(str(qmodels.cpu))
    inits = _inits(model)
    q_nodes = [n for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert q_nodes and all(inits[n.input[2]].dtype == np.uint8 for n in q_nodes)
    weights = {n.input[1] for n in model.graph.node if n.op_type in ("Conv", "Gemm")}
    for dq in model.graph.node:
        if dq.op_type == "DequantizeLinear" and dq.output[0] in weights:
            q, scale, zp = inits[dq.input[0]], inits[dq.input[1]], inits[dq.input[2]]
            assert q.dtype == np.int8 and scale.size == q.shape[0] > 1  # per output channel
            assert not zp.any()  # symmetric
            assert np.abs(q.astype(np.int32)).max() <= 64  # reduce_range: no int16 saturation without VNNI


def test_emission_uses_the_saved_ranges(qmodels) -> None:
    lo, hi = qmodels.ranges.ranges["input"]
    for path, expected in (
        (qmodels.cpu, (max(hi, 0.0) - min(lo, 0.0)) / 255.0),
        (qmodels.tensorrt, max(abs(lo), abs(hi)) / 127.0),
    ):
        model = onnx.load(str(path))
        inits = _inits(model)
        q = next(n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "input")
        assert float(inits[q.input[1]]) == np.float32(expected) or np.isclose(float(inits[q.input[1]]), expected, rtol=1e-6)


def test_tensorrt_target_zero_points_are_all_zero(qmodels) -> None:
    model = onnx.load(str(qmodels.tensorrt))
    inits = _inits(model)
    qdq = [n for n in model.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    assert len(qdq) > 40
    for n in qdq:
        zp = inits[n.input[2]]
        assert zp.dtype in (np.int8, np.int32), (n.name, zp.dtype)
        assert not zp.any(), n.name


def residual_placement(model) -> list[tuple[str, str]]:
    """For every residual Add: (what feeds the conv-branch input, what feeds the identity input).

    Each is "qdq" (DequantizeLinear <- QuantizeLinear) or the op type of the producer.
    The branches are told apart by torchvision's names, independently of the code under
    test: the main branch ends in the block's last ``convN`` (``/layer1/layer1.0/conv2/Conv``);
    the shortcut is a Relu/MaxPool output or a ``downsample`` conv.
    """
    producer = {o: n for n in model.graph.node for o in n.output}

    def source(name: str):
        node = producer[name]
        if node.op_type == "DequantizeLinear":
            q = producer[node.input[0]]
            assert q.op_type == "QuantizeLinear"
            return "qdq", producer[q.input[0]]
        return node.op_type, node

    out = []
    for add in (n for n in model.graph.node if n.op_type == "Add" and all(i in producer for i in n.input)):
        feeds = [source(i) for i in add.input]
        main = [k for k, (_, node) in enumerate(feeds)
                if node.op_type == "Conv" and "/conv" in node.name and "downsample" not in node.name]
        assert len(main) == 1, (add.name, [node.name for _, node in feeds])
        k = main[0]
        out.append((feeds[k][0], feeds[1 - k][0] + ("+downsample" if "downsample" in feeds[1 - k][1].name else "")))
    return out


def test_tensorrt_target_puts_qdq_on_the_identity_input_of_every_residual_add_only(qmodels) -> None:
    placement = residual_placement(onnx.load(str(qmodels.tensorrt)))
    assert len(placement) == 8
    assert all(conv == "Conv" for conv, _ in placement), placement  # conv branch reaches the Add in float
    assert all(ident.startswith("qdq") for _, ident in placement), placement  # the shortcut is int8
    assert sum(ident == "qdq+downsample" for _, ident in placement) == 3  # strided blocks: downsample conv


def test_cpu_target_keeps_qdq_on_both_residual_inputs(qmodels) -> None:
    """ORT's CPU kernels want QLinearAdd: both inputs quantized; the TensorRT rewrite must not touch cpu."""
    placement = residual_placement(onnx.load(str(qmodels.cpu)))
    assert len(placement) == 8 and all(conv == "qdq" and ident.startswith("qdq") for conv, ident in placement)


def test_excluded_node_stays_float_and_the_rest_stays_int8(qmodels) -> None:
    first = next(n.name for n in onnx.load(str(qmodels.prepared)).graph.node if n.op_type == "Conv")
    calls = qmodels.reader.calls
    out = emit_qdq(qmodels.prepared, qmodels.ranges, "cpu", qmodels.work / "excl.onnx",
                   cache_path=qmodels.cache, exclude=[first])
    assert qmodels.reader.calls == calls  # re-emission never touches the data
    model = onnx.load(str(out))
    producer = {o: n for n in model.graph.node for o in n.output}
    node = next(n for n in model.graph.node if n.name == first)
    assert node.input[1] not in producer  # the float kernel, no DequantizeLinear
    fusion = conv_fusion(out, qmodels.work / "excl-opt.onnx")
    assert fusion == {"convs": 20, "int8": 19, "float": 1}


def test_qdq_models_stay_close_to_fp32(qmodels) -> None:
    def run(p: Path) -> np.ndarray:
        s = ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
        return s.run(None, {"input": qmodels.x})[0]

    ref = run(qmodels.fp32)
    for path in (qmodels.cpu, qmodels.tensorrt):
        out = run(path)
        cos = np.sum(ref * out, 1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(out, axis=1))
        assert cos.min() > 0.95, (path.name, cos.min())

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


def test_tensorrt_target_quantizes_both_inputs_of_every_residual_add(qmodels) -> None:
    model = onnx.load(str(qmodels.tensorrt))
    producer = {o: n for n in model.graph.node for o in n.output}
    adds = [n for n in model.graph.node if n.op_type == "Add" and all(i in producer for i in n.input)]
    assert len(adds) == 8
    downsample_fed = 0
    for add in adds:
        for name in add.input:
            dq = producer[name]
            assert dq.op_type == "DequantizeLinear", (add.name, name)
            q = producer[dq.input[0]]
            assert q.op_type == "QuantizeLinear", (add.name, name)
            downsample_fed += "downsample" in q.input[0]
    assert downsample_fed == 3  # the identity branch of the 3 strided blocks is a conv


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

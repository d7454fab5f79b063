"""raw_input: the preprocessing folded into the first conv, on small real ONNX graphs.

The graphs use an asymmetric stride-2 padding, a non-ImageNet mean/std and both
channel orders, so a fold that pads raw pixels with 0, mixes up channels or
ignores one side of the padding fails the parity bars.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from resnet_deploy.artifact import FileEntry, InputSpec, Manifest, ModelInfo, Preprocessing
from resnet_deploy.errors import ArtifactError
from resnet_deploy.raw_input import (
    fold_fp32,
    normalize_pixels,
    pixels_of,
    raw_file_name,
    raw_input_spec,
    write_raw,
)

S = 20
SPEC = InputSpec(shape=[-1, 3, S, S])


def _model(path: Path, seed: int = 0) -> Path:
    """input -> Conv(5x5, stride 2, pads t2 l1 b2 r3, bias) -> Relu -> Conv(3x3) -> GlobalAveragePool -> Flatten."""
    rng = np.random.default_rng(seed)
    inits = [
        numpy_helper.from_array(rng.standard_normal((8, 3, 5, 5)).astype(np.float32) * 0.3, "w1"),
        numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), "b1"),
        numpy_helper.from_array(rng.standard_normal((6, 8, 3, 3)).astype(np.float32) * 0.3, "w2"),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "w1", "b1"], ["c1"], kernel_shape=[5, 5], strides=[2, 2], pads=[2, 1, 2, 3]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("GlobalAveragePool", ["c2"], ["p"]),
        helper.make_node("Flatten", ["p"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, S, S])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 6])], inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return path


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {"input": x})[0]


PRES = [
    Preprocessing(resize=S, crop=S, mean=[0.3, 0.6, 0.45], std=[0.2, 0.31, 0.27]),
    Preprocessing(resize=S, crop=S, mean=[0.3, 0.6, 0.45], std=[0.2, 0.31, 0.27], channel_order="BGR"),
    Preprocessing(resize=S, crop=S, mean=[120.0, 110.0, 100.0], std=[60.0, 55.0, 58.0], scale=1.0),
]


def _pixels(n: int = 16) -> np.ndarray:
    """Images whose borders matter: bright frames on random interiors (plus pure noise)."""
    rng = np.random.default_rng(1)
    u8 = rng.integers(0, 256, (n, S, S, 3), dtype=np.uint8)
    u8[::2, :2] = 255
    u8[1::4, :, -3:] = 0
    return u8


@pytest.mark.parametrize("pre", PRES, ids=["rgb", "bgr", "scale1"])
def test_fp32_fold_is_exact(tmp_path: Path, pre: Preprocessing) -> None:
    src = _model(tmp_path / "m.onnx")
    dst = tmp_path / "m-raw.onnx"
    write_raw(src, dst, SPEC, pre)
    u8 = _pixels()
    ref = _run(src, normalize_pixels(u8, pre))
    got = _run(dst, u8)
    assert np.abs(got - ref).max() <= 1e-5 * (ref.max() - ref.min())
    g = onnx.load(str(dst)).graph
    assert g.input[0].type.tensor_type.elem_type == TensorProto.UINT8
    assert [d.dim_value or d.dim_param for d in g.input[0].type.tensor_type.shape.dim] == ["batch", S, S, 3]
    assert "c1" in {o for n in g.node for o in n.output}  # names after the first conv are kept


def test_padding_raw_pixels_with_zero_would_be_caught(tmp_path: Path) -> None:
    """The bar above can fail: the same fold without moving the mean off the padding misses it."""
    pre = PRES[0]
    src = _model(tmp_path / "m.onnx")
    model = fold_fp32(onnx.load(str(src)), SPEC, pre)
    sub = next(n for n in model.graph.node if n.op_type == "Sub")
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    mean = numpy_helper.to_array(next(i for i in model.graph.initializer if i.name == sub.input[1]))
    b1 = next(i for i in model.graph.initializer if i.name == conv.input[2])
    w = numpy_helper.to_array(next(i for i in model.graph.initializer if i.name == conv.input[1]))
    # the "naive" fold: conv on raw pixels (zero padding), mean folded into the bias only
    shift = np.einsum("ochw,c->o", w.astype(np.float64), mean.reshape(3).astype(np.float64))
    b1.CopyFrom(numpy_helper.from_array((numpy_helper.to_array(b1) - shift).astype(np.float32), b1.name))
    conv.input[0] = sub.input[0]
    model.graph.node.remove(sub)
    onnx.save(model, str(tmp_path / "naive.onnx"))
    u8 = _pixels()
    ref = _run(src, normalize_pixels(u8, pre))
    assert np.abs(_run(tmp_path / "naive.onnx", u8) - ref).max() > 1e-3 * (ref.max() - ref.min())


def _quantize(src: Path, dst: Path, reduce_range: bool) -> None:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    class Reader:
        def __init__(self) -> None:
            self.it = iter([{"input": normalize_pixels(_pixels(8), PRES[0])} for _ in range(2)])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.it, None)

    quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    reduce_range=reduce_range, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)


@pytest.mark.parametrize("reduce_range", [True, False])
def test_qdq_fold_feeds_uint8_straight_into_an_int8_conv(tmp_path: Path, reduce_range: bool) -> None:
    from resnet_deploy.quantize.qdq import conv_fusion

    pre = PRES[0]
    src = _model(tmp_path / "m.onnx")
    _quantize(src, tmp_path / "q.onnx", reduce_range)
    write_raw(tmp_path / "q.onnx", tmp_path / "q-raw.onnx", SPEC, pre, float_model=src)
    g = onnx.load(str(tmp_path / "q-raw.onnx")).graph
    assert not [n for n in g.node if n.op_type == "QuantizeLinear" and "input" in n.input]
    dq = next(n for n in g.node if n.op_type == "DequantizeLinear" and n.output[0] == "raw_pixels")
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    assert float(inits[dq.input[1]]) == 1.0 and int(inits[dq.input[2]]) == 0 and inits[dq.input[2]].dtype == np.uint8
    fusion = conv_fusion(tmp_path / "q-raw.onnx", tmp_path / "opt.onnx")
    assert fusion["int8"] == fusion["convs"] == 2  # the first conv runs as an int8 kernel on the pixels
    u8 = _pixels(64)
    ref = _run(src, normalize_pixels(u8, pre))
    raw = _run(tmp_path / "q-raw.onnx", u8)
    flt = _run(tmp_path / "q.onnx", normalize_pixels(u8, pre))
    span = ref.max() - ref.min()
    # no worse than the float-input INT8 model (which re-quantises every pixel), with a small margin
    assert np.abs(raw - ref).max() <= max(1.5 * np.abs(flt - ref).max(), 0.02 * span)


@pytest.mark.parametrize("pre", PRES, ids=["rgb", "bgr", "scale1"])
def test_pixels_of_inverts_normalisation(pre: Preprocessing) -> None:
    u8 = _pixels()
    np.testing.assert_array_equal(pixels_of(normalize_pixels(u8, pre), pre), u8)
    assert pixels_of(np.random.default_rng(0).standard_normal((2, 3, S, S)).astype(np.float32), pre) is None


def test_manifest_entries_carry_their_own_contract() -> None:
    raw = FileEntry("model.int8-cpu-raw.onnx", "onnx", "int8", "cpu", input=raw_input_spec(SPEC))
    plain = FileEntry("model.int8-cpu.onnx", "onnx", "int8", "cpu")
    assert raw.key == "int8-cpu-raw" and plain.key == "int8-cpu" and raw.raw and not plain.raw
    assert "input" not in plain.to_dict()  # old-style entries are written exactly as before
    assert raw_file_name("model.fp32.onnx") == "model.fp32-raw.onnx"
    m = Manifest(model=ModelInfo("resnet18", 10), input=SPEC, files=[plain, raw])
    back = Manifest.from_dict(m.to_dict())
    assert back.file("onnx", "int8", "cpu").path == plain.path
    assert back.file("onnx", "int8", "cpu", raw=True).input.shape == [-1, S, S, 3]
    d = m.to_dict()
    d["files"][1]["input"]["shape"] = [-1, S + 1, S + 1, 3]
    with pytest.raises(ArtifactError, match=r"files\[1\]\.input must be uint8 NHWC"):
        Manifest.from_dict(d)

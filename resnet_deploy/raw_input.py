"""Raw-pixel models: uint8 NHWC input with the manifest's preprocessing folded into the first Conv.

A float-input model computes ``conv_zeropad(W, n) + b`` on ``n = (x*scale - m)/s``
(x: pixels 0..255 in the raw RGB order, permuted to the model's channel order).
Zero padding of ``n`` is padding the *pixels* with ``m/scale`` (the mean pixel),
not with 0, so the fold moves the mean instead of the padding:

- FP32: ``Cast -> Transpose -> Sub(m/scale) -> Conv(W*scale/s, b, same pads)``.
  Zero padding of ``x - m/scale`` is zero padding of ``n``: exact, and the only
  extra work is one 3xHxW subtraction (cheaper than a [Cout, Ho, Wo] border map
  added after the conv, and the bias is untouched).
- INT8 (any Q/DQ target): the pixels must reach the quantised conv as uint8
  (scale 1, zero point 0: no float re-quantisation of the input). A uint8 tensor
  cannot hold ``m/scale`` (123.675 for ImageNet), so the input is padded explicitly
  on uint8 with the nearest integer pixel per channel (Split -> Pad -> Concat),
  the conv runs with ``pads=0``, and the mean moves into the bias
  (``b - sum(W'_q * m/scale)``, with the quantised weights, so the interior is exact).
  Only the padded border differs, by at most half a pixel step (<= 0.5/255/std,
  about 0.009 in normalised units): less than half the input quantisation step of
  the float-input INT8 model (about 0.0093 for ImageNet's mean/std), which that model
  pays on every pixel.

Tensor names after the first Conv do not change, so calibration ranges apply as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from resnet_deploy.artifact import FileEntry, InputSpec, Preprocessing
from resnet_deploy.errors import ResNetDeployError

RAW_SUFFIX = "-raw"
RAW_DTYPE = "uint8"
RAW_LAYOUT = "NHWC"
RAW_PARITY_TOL = 1e-4  # FP32 raw vs float-input: max |dlogit| <= 1e-4 x logit range


def raw_input_spec(spec: InputSpec) -> InputSpec:
    """The raw file's own input contract: uint8 [N, S, S, 3] RGB (same names as the float file)."""
    size = int(spec.shape[2])
    return InputSpec(
        name=spec.name, output_name=spec.output_name, layout=RAW_LAYOUT, dtype=RAW_DTYPE,
        shape=[-1, size, size, 3], batch_axis_name=spec.batch_axis_name,
    )


def raw_file_name(path: str) -> str:
    """``model.int8-cpu.onnx`` -> ``model.int8-cpu-raw.onnx``."""
    stem, dot, ext = path.rpartition(".")
    return f"{stem}{RAW_SUFFIX}.{ext}" if dot else path + RAW_SUFFIX


def is_raw(entry: FileEntry) -> bool:
    """Whether ``entry`` is a raw-pixel file (it records its own uint8 input contract)."""
    return entry.input is not None and entry.input.dtype == RAW_DTYPE


@dataclass(frozen=True)
class Fold:
    """Per raw (RGB) input channel: which model channel it feeds, its mean pixel, its weight factor."""

    model_channel: np.ndarray  # [3] model channel index of raw channel c
    mean_pixel: np.ndarray  # [3] float64 m/scale per raw channel
    factor: np.ndarray  # [3] float64 scale/std per raw channel

    @classmethod
    def of(cls, pre: Preprocessing) -> Fold:
        perm = np.array([2, 1, 0] if pre.channel_order == "BGR" else [0, 1, 2])
        mean = np.asarray(pre.mean, dtype=np.float64)[perm]
        std = np.asarray(pre.std, dtype=np.float64)[perm]
        return cls(perm, mean / pre.scale, pre.scale / std)

    def weight(self, w: np.ndarray) -> np.ndarray:
        """W [Cout, 3, kh, kw] over model channels -> W' over raw channels, times scale/std."""
        return (w.astype(np.float64)[:, self.model_channel] * self.factor[None, :, None, None])


class _Graph:
    """Name lookups over one ONNX graph (producers, consumers, initializers)."""

    def __init__(self, model: Any) -> None:
        self.model, self.graph = model, model.graph
        self.inits = {i.name: i for i in self.graph.initializer}
        self.consumers: dict[str, list[Any]] = {}
        self.producer: dict[str, Any] = {}
        for n in self.graph.node:
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)
            for o in n.output:
                self.producer[o] = n

    def only_consumer(self, tensor: str, op: str) -> Any:
        users = self.consumers.get(tensor, [])
        if len(users) != 1 or users[0].op_type != op:
            got = ", ".join(u.op_type for u in users) or "nothing"
            raise ResNetDeployError(
                f"cannot fold preprocessing: '{tensor}' feeds {got}, expected one {op}; "
                "raw-pixel files need a model whose input goes straight into a Conv"
            )
        return users[0]

    def array(self, name: str) -> np.ndarray:
        from onnx import numpy_helper

        return numpy_helper.to_array(self.inits[name])

    def set_array(self, name: str, value: np.ndarray) -> None:
        from onnx import numpy_helper

        self.inits[name].CopyFrom(numpy_helper.from_array(value, name))

    def add_init(self, name: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        self.graph.initializer.append(numpy_helper.from_array(value, name))
        self.inits[name] = self.graph.initializer[-1]
        return name


def _check_conv(conv: Any) -> list[int]:
    """The first Conv's pads [t, l, b, r]; refuse what the fold does not handle."""
    from onnx import helper

    attrs = {a.name: helper.get_attribute_value(a) for a in conv.attribute}
    if attrs.get("group", 1) != 1 or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise ResNetDeployError("cannot fold preprocessing: the first Conv is grouped or uses auto_pad; "
                                "use the float-input file")
    return list(attrs.get("pads", [0, 0, 0, 0]))


def _replace_input(g: _Graph, spec: InputSpec) -> Any:
    """Swap the graph input for uint8 NHWC (same name, dynamic batch); returns the new value info."""
    from onnx import TensorProto, helper

    size = int(spec.shape[2])
    new = helper.make_tensor_value_info(spec.name, TensorProto.UINT8, [spec.batch_axis_name, size, size, 3])
    old = next(i for i in g.graph.input if i.name == spec.name)
    g.graph.input.remove(old)
    g.graph.input.insert(0, new)
    return new


def _finish(model: Any) -> Any:
    import onnx

    onnx.checker.check_model(model)
    return model


def fold_fp32(model: Any, spec: InputSpec, pre: Preprocessing) -> Any:
    """FP32 float-input model -> raw-pixel model (exact; see module doc). Mutates and returns ``model``."""
    from onnx import TensorProto, helper

    g, fold = _Graph(model), Fold.of(pre)
    conv = g.only_consumer(spec.name, "Conv")
    _check_conv(conv)
    w = fold.weight(g.array(conv.input[1])).astype(np.float32)
    _detach(g, conv, 1, g.add_init("raw_conv_weight", w))  # a new tensor: exporters share equal constants
    mean = g.add_init("raw_mean_pixel", fold.mean_pixel.astype(np.float32).reshape(1, 3, 1, 1))
    nodes = [
        helper.make_node("Cast", [spec.name], ["raw_float"], to=TensorProto.FLOAT, name="raw_cast"),
        helper.make_node("Transpose", ["raw_float"], ["raw_nchw"], perm=[0, 3, 1, 2], name="raw_nchw"),
        helper.make_node("Sub", ["raw_nchw", mean], ["raw_centered"], name="raw_center"),
    ]
    conv.input[0] = "raw_centered"
    _replace_input(g, spec)
    _prepend(g, nodes)
    return _finish(model)


def _prepend(g: _Graph, nodes: list[Any]) -> None:
    old = list(g.graph.node)
    del g.graph.node[:]
    g.graph.node.extend(nodes + old)


def _uint8_pad_nodes(g: _Graph, src: str, pads: list[int], values: np.ndarray) -> tuple[list[Any], str]:
    """Per-channel constant Pad on a uint8 NCHW tensor: Split -> Pad(value_c) x3 -> Concat."""
    from onnx import helper

    t, left, b, r = pads
    pad_arr = g.add_init("raw_pads", np.array([0, 0, t, left, 0, 0, b, r], dtype=np.int64))
    split = g.add_init("raw_split", np.ones(3, dtype=np.int64))
    parts = [f"raw_c{c}" for c in range(3)]
    nodes = [helper.make_node("Split", [src, split], parts, axis=1, name="raw_split")]
    for c in range(3):
        val = g.add_init(f"raw_pad_value_{c}", np.array(values[c], dtype=np.uint8))
        nodes.append(helper.make_node("Pad", [parts[c], pad_arr, val], [f"{parts[c]}_padded"],
                                      mode="constant", name=f"raw_pad_{c}"))
    nodes.append(helper.make_node("Concat", [f"{p}_padded" for p in parts], ["raw_padded"], axis=1,
                                  name="raw_concat"))
    return nodes, "raw_padded"


def fold_qdq(model: Any, spec: InputSpec, pre: Preprocessing,
             float_weights: dict[str, np.ndarray] | None = None) -> Any:
    """Q/DQ float-input model -> raw-pixel Q/DQ model (uint8 reaches the conv; see module doc).

    ``float_weights`` (name -> array, from the prepared FP32 graph) lets the new
    weights be quantised from float rather than from the already-quantised ones.
    Mutates and returns ``model``.
    """
    from onnx import helper

    g, fold, floats = _Graph(model), Fold.of(pre), float_weights or {}
    q = g.only_consumer(spec.name, "QuantizeLinear")
    dq = g.only_consumer(q.output[0], "DequantizeLinear")
    conv = g.only_consumer(dq.output[0], "Conv")
    pads = _check_conv(conv)
    w_hat, w_node = _requantize_weight(g, conv, fold, floats)
    nodes = [w_node, *_fold_bias(g, conv, w_hat, fold, floats)]
    nodes += [helper.make_node("Transpose", [spec.name], ["raw_nchw"], perm=[0, 3, 1, 2], name="raw_nchw")]
    src = "raw_nchw"
    if any(pads):
        pad_values = np.clip(np.rint(fold.mean_pixel), 0, 255)
        pad_nodes, src = _uint8_pad_nodes(g, src, pads, pad_values)
        nodes += pad_nodes
    one = g.add_init("raw_pixel_scale", np.array(1.0, dtype=np.float32))
    zero = g.add_init("raw_pixel_zero_point", np.array(0, dtype=np.uint8))
    nodes.append(helper.make_node("DequantizeLinear", [src, one, zero], ["raw_pixels"], name="raw_pixels"))
    conv.input[0] = "raw_pixels"
    for a in conv.attribute:
        if a.name == "pads":
            del a.ints[:]
            a.ints.extend([0, 0, 0, 0])
    g.graph.node.remove(q)
    g.graph.node.remove(dq)
    _drop_unused(g, [*q.input[1:], *dq.input[1:]])
    _replace_input(g, spec)
    _prepend(g, nodes)
    return _finish(model)


def _float_of(floats: dict[str, np.ndarray], quantized_name: str) -> np.ndarray | None:
    """ORT names a quantised initializer ``<float name>_quantized``."""
    return floats.get(quantized_name.removesuffix("_quantized"))


def _requantize_weight(g: _Graph, conv: Any, fold: Fold, floats: dict[str, np.ndarray]) -> tuple[np.ndarray, Any]:
    """Fold scale/std into the conv weight, re-quantised per output channel (a new initializer and
    DequantizeLinear: exporters share identical constants between convs).

    Returns (the dequantised new weight, i.e. what the kernel multiplies with; the new DQ node)."""
    from onnx import helper

    wdq = g.producer.get(conv.input[1])
    if wdq is None or wdq.op_type != "DequantizeLinear" or wdq.input[0] not in g.inits:
        raise ResNetDeployError("cannot fold preprocessing: the first Conv's weight is not a quantised "
                                "initializer; use the float-input file")
    wq, ws = g.array(wdq.input[0]), g.array(wdq.input[1]).astype(np.float64)
    if len(wdq.input) > 2 and np.any(g.array(wdq.input[2])):
        raise ResNetDeployError("cannot fold preprocessing into asymmetric weights; use the float-input file")
    # The target's weight range (127, or 64 with ORT's reduce_range), capped at 64: x86 U8S8
    # kernels without VNNI add pairs of u8*s8 products in saturating int16, and raw pixels use
    # the whole 0..255 range (2 * 255 * 64 < 32767; with 127 the sums can overflow).
    qmax = min(int(np.abs(wq.astype(np.int64)).max()) or 64, 64)
    w = _float_of(floats, wdq.input[0])
    if w is None:
        w = wq.astype(np.float64) * ws.reshape(-1, 1, 1, 1)
    w_raw = fold.weight(w)
    scale = np.abs(w_raw).reshape(len(w_raw), -1).max(axis=1) / qmax
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    s64 = scale.astype(np.float64).reshape(-1, 1, 1, 1)
    q_new = np.clip(np.rint(w_raw / s64), -qmax, qmax).astype(wq.dtype)
    names = [g.add_init("raw_conv_weight_quantized", q_new), g.add_init("raw_conv_weight_scale", scale),
             g.add_init("raw_conv_weight_zero_point", np.zeros(len(scale), wq.dtype))]
    node = helper.make_node("DequantizeLinear", names, ["raw_conv_weight"], axis=0, name="raw_conv_weight")
    _detach(g, conv, 1, "raw_conv_weight")
    return q_new.astype(np.float64) * s64, node


def _fold_bias(g: _Graph, conv: Any, w_hat: np.ndarray, fold: Fold, floats: dict[str, np.ndarray]) -> list[Any]:
    """b' = b - sum(W'_q * mean pixel): the mean moves out of the (now unpadded) input into the bias.

    The bias becomes a new tensor of the first conv's own (exporters share equal biases).
    Returns the nodes to put in front of the graph."""
    from onnx import helper

    shift = np.einsum("ochw,c->o", w_hat, fold.mean_pixel)
    name = conv.input[2] if len(conv.input) > 2 and conv.input[2] else None
    bdq = g.producer.get(name) if name else None
    if name is not None and bdq is None:  # a float bias (tensorrt target: QuantizeBias off)
        b = g.array(name).astype(np.float64)
        _detach(g, conv, 2, g.add_init("raw_conv_bias", (b - shift).astype(np.float32)))
        return []
    b = np.zeros(len(shift)) if bdq is None else _float_of(floats, bdq.input[0])
    if b is None:
        b = g.array(bdq.input[0]).astype(np.float64) * g.array(bdq.input[1]).astype(np.float64)
    b_scale = g.array("raw_conv_weight_scale").astype(np.float32)  # input scale is 1
    q = np.rint((b - shift) / b_scale.astype(np.float64)).astype(np.int32)
    names = [g.add_init("raw_conv_bias_quantized", q), g.add_init("raw_conv_bias_scale", b_scale),
             g.add_init("raw_conv_bias_zero_point", np.zeros(len(q), np.int32))]
    node = helper.make_node("DequantizeLinear", names, ["raw_conv_bias"], axis=0, name="raw_conv_bias")
    if name is None:
        conv.input.append("raw_conv_bias")
    else:
        _detach(g, conv, 2, "raw_conv_bias")
    return [node]


def _detach(g: _Graph, conv: Any, index: int, new: str) -> None:
    """Point ``conv.input[index]`` at ``new``; drop the old producer DQ (and its data) if nothing else uses it."""
    old = conv.input[index]
    conv.input[index] = new
    users = [n for n in g.graph.node if old in n.input]
    if users:
        return
    producer = g.producer.get(old)
    if producer is not None:
        g.graph.node.remove(producer)
        _drop_unused(g, list(producer.input))
    else:
        _drop_unused(g, [old])


def _drop_unused(g: _Graph, names: list[str]) -> None:
    used = {i for n in g.graph.node for i in n.input}
    for name in names:
        if name in g.inits and name not in used:
            g.graph.initializer.remove(g.inits.pop(name))


def write_raw(src: str | Any, dst: str | Any, spec: InputSpec, pre: Preprocessing,
              float_model: str | Any | None = None) -> None:
    """Write the raw-pixel twin of the ONNX file ``src`` (FP32 or Q/DQ) to ``dst``.

    ``float_model``: the FP32 graph the Q/DQ file was quantised from (its float weights
    are re-quantised instead of the quantised ones)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(src))
    if any(n.op_type == "QuantizeLinear" for n in model.graph.node):
        floats = {}
        if float_model is not None:
            fm = onnx.load(str(float_model))
            floats = {i.name: numpy_helper.to_array(i) for i in fm.graph.initializer}
        model = fold_qdq(model, spec, pre, floats)
    else:
        model = fold_fp32(model, spec, pre)
    onnx.save(model, str(dst))


def fixed_pixels(size: int, n: int = 8, seed: int = 0) -> np.ndarray:
    """A reproducible uint8 [n, size, size, 3] batch (parity inputs for raw files)."""
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def normalize_pixels(u8: np.ndarray, pre: Preprocessing) -> np.ndarray:
    """uint8 [N, H, W, 3] RGB -> the float-input model's [N, 3, H, W] (``preprocess.normalize``)."""
    from resnet_deploy.preprocess import normalize

    return np.stack([normalize(a, pre) for a in u8]) if len(u8) else np.zeros((0, 3, *u8.shape[1:3]), np.float32)


def pixels_of(x: np.ndarray, pre: Preprocessing) -> np.ndarray | None:
    """The uint8 NHWC pixels a normalised float NCHW batch was made from, or None if it was not.

    Eval sets hold normalised crops; raw files are scored on the same images by
    inverting the normalisation (exact for data that came from 8-bit pixels)."""
    if x.ndim != 4 or x.shape[1] != 3 or len(x) == 0:
        return None
    mean = np.asarray(pre.mean, np.float64).reshape(1, 3, 1, 1)  # indexed by model channel
    std = np.asarray(pre.std, np.float64).reshape(1, 3, 1, 1)
    raw = (np.asarray(x, np.float64) * std + mean) / pre.scale
    pix = np.rint(raw)
    if np.abs(raw - pix).max() > 1e-2 or pix.min() < 0 or pix.max() > 255:
        return None
    perm = [2, 1, 0] if pre.channel_order == "BGR" else [0, 1, 2]  # raw channel c = model channel perm[c]
    return np.ascontiguousarray(pix.astype(np.uint8)[:, perm].transpose(0, 2, 3, 1))

"""Per-layer SQNR of a Q/DQ model and the node ranking the accuracy guard uses.

From ``onnxruntime.quantization.qdq_loss_debug``: ``create_weight_matching`` +
``compute_weight_error`` (weight SQNR), ``modify_model_output_intermediate_tensors``
+ ``collect_activations`` + ``create_activation_matching`` (FP32 activation vs the
INT8 model's dequantised activation: the *cumulative* error up to that tensor).

Hand-written here:
  * streaming: SQNR = 10*log10(sum x^2 / sum (x-y)^2) accumulated batch by batch,
    because ``collect_activations`` over a whole reader keeps every activation of
    every image in memory;
  * *local* activation SQNR: the FP32 activation against its own Q/DQ round trip
    with the target's scale/zero point read from the Q/DQ graph. ORT's
    ``qdq_err`` (pre vs post Q/DQ inside the INT8 model) counts the ReLU that the
    cpu target folds into the quantised range as "noise", so it cannot rank layers;
  * the ranking: a node's noise is the sum of its inputs' local noise powers
    (activations and weights); the lowest combined SQNR is the most sensitive.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from resnet_deploy.quantize.calibrate import quiet_ort

RANKED_OPS = ("Conv", "Gemm", "MatMul", "Add")
_CAP_DB = 200.0  # an exact round trip (zero noise) reports as this many dB


@dataclass
class LayerReport:
    """SQNR in dB per quantised activation (local, cumulative) and weight, plus node ranking."""

    activations: dict[str, dict[str, float]] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    nodes: list[dict[str, Any]] = field(default_factory=list)  # most sensitive first
    images: int = 0

    def worst(self, k: int = 10) -> list[dict[str, Any]]:
        """The ``k`` lowest-SQNR tensors (activations by local SQNR, and weights)."""
        rows = [{"tensor": n, "kind": "activation", "sqnr_db": v["sqnr_db"]} for n, v in self.activations.items()]
        rows += [{"tensor": n, "kind": "weight", "sqnr_db": v} for n, v in self.weights.items()]
        return sorted(rows, key=lambda r: r["sqnr_db"])[:k]

    def ranking(self) -> list[str]:
        return [n["node"] for n in self.nodes]


def _db(signal: float, noise: float) -> float:
    if noise <= 0.0:
        return _CAP_DB
    if signal <= 0.0:
        return -_CAP_DB
    return round(min(_CAP_DB, 10.0 * math.log10(signal / noise)), 3)


def report_batch(x: np.ndarray, budget_bytes: float = 1e9) -> int:
    """Images per ``collect_activations`` call so that saved activations stay near ``budget_bytes``.

    A ResNet's float activations add up to ~150x its input; the Q/DQ model keeps
    pre- and post-Q/DQ copies and the FP32 model one more: ~1,800 bytes per input float.
    """
    per_image = 1800.0 * float(np.prod(x.shape[1:]))
    return int(max(1, min(64, budget_bytes // per_image)))


def activation_qparams(qdq_path: str | Path) -> dict[str, tuple[float, int, int, int]]:
    """tensor -> (scale, zero_point, qmin, qmax) for every per-tensor QuantizeLinear."""
    import onnx
    from onnx import numpy_helper
    from onnxruntime.quantization.quant_utils import QUANT_INPUT_SUFFIX

    model = onnx.load(str(qdq_path))
    inits = {i.name: i for i in model.graph.initializer}
    out: dict[str, tuple[float, int, int, int]] = {}
    for node in model.graph.node:
        if node.op_type != "QuantizeLinear" or len(node.input) < 3:
            continue
        scale_i, zp_i = inits.get(node.input[1]), inits.get(node.input[2])
        if scale_i is None or zp_i is None:
            continue
        scale, zp = numpy_helper.to_array(scale_i), numpy_helper.to_array(zp_i)
        if scale.size != 1:
            continue
        info = np.iinfo(zp.dtype)
        name = node.input[0].removesuffix(QUANT_INPUT_SUFFIX)
        out.setdefault(name, (float(scale.reshape(())), int(zp.reshape(())), int(info.min), int(info.max)))
    return out


def fake_quant(x: np.ndarray, scale: float, zp: int, qmin: int, qmax: int) -> np.ndarray:
    """QuantizeLinear then DequantizeLinear (round half to even, as ONNX specifies)."""
    q = np.clip(np.rint(x / scale) + zp, qmin, qmax)
    return ((q - zp) * scale).astype(np.float32)


class _Batches:
    """A CalibrationDataReader over one array, ``batch`` images at a time."""

    def __init__(self, x: np.ndarray, input_name: str) -> None:
        self._x: np.ndarray | None = x
        self._name = input_name

    def get_next(self) -> dict[str, np.ndarray] | None:
        x, self._x = self._x, None
        return None if x is None else {self._name: x}

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        while (item := self.get_next()) is not None:
            yield item


def measure(
    fp32_prepared: str | Path,
    qdq_path: str | Path,
    x: np.ndarray,
    work_dir: str | Path,
    *,
    input_name: str = "input",
    batch_size: int | None = None,
) -> LayerReport:
    """SQNR per quantised tensor of ``qdq_path`` on images ``x``, and the node ranking."""
    from onnxruntime.quantization.qdq_loss_debug import (
        collect_activations,
        compute_weight_error,
        create_activation_matching,
        create_weight_matching,
        modify_model_output_intermediate_tensors,
    )

    work = Path(work_dir)
    f_aug, q_aug = work / "sqnr-fp32.onnx", work / "sqnr-qdq.onnx"
    qparams = activation_qparams(qdq_path)
    batch_size = batch_size or report_batch(x)
    sums: dict[str, list[float]] = {}  # name -> [signal, local noise, cumulative noise]
    with quiet_ort():
        weights = compute_weight_error(create_weight_matching(str(fp32_prepared), str(qdq_path)))
        modify_model_output_intermediate_tensors(str(fp32_prepared), str(f_aug))
        modify_model_output_intermediate_tensors(str(qdq_path), str(q_aug))
        for i in range(0, x.shape[0], batch_size):
            xb = x[i : i + batch_size]
            f_acts = collect_activations(str(f_aug), _Batches(xb, input_name))
            q_acts = collect_activations(str(q_aug), _Batches(xb, input_name))
            matched = create_activation_matching(q_acts, f_acts)
            for name, (scale, zp, qmin, qmax) in qparams.items():
                if name not in f_acts:
                    continue
                ref = f_acts[name][0].astype(np.float64)
                acc = sums.setdefault(name, [0.0, 0.0, 0.0])
                acc[0] += float(np.sum(ref * ref))
                acc[1] += float(np.sum((ref - fake_quant(ref, scale, zp, qmin, qmax)) ** 2))
                post = matched.get(name, {}).get("post_qdq")
                acc[2] += float(np.sum((ref - post[0]) ** 2)) if post is not None else math.nan
            del f_acts, q_acts, matched
    report = LayerReport(images=int(x.shape[0]))
    for name, (sig, local, cum) in sums.items():
        row = {"sqnr_db": _db(sig, local)}
        if not math.isnan(cum):
            row["cumulative_sqnr_db"] = _db(sig, cum)
        report.activations[name] = row
    kernels = weight_names(fp32_prepared)
    report.weights = {k: round(min(_CAP_DB, float(v)), 3) for k, v in weights.items() if k in kernels}
    report.nodes = rank_nodes(fp32_prepared, report)
    return report


def weight_names(fp32_prepared: str | Path) -> set[str]:
    """Kernel initializers (input 1 of Conv/Gemm/MatMul); int32 biases are left out of the report."""
    import onnx

    model = onnx.load(str(fp32_prepared), load_external_data=False)
    inits = {i.name for i in model.graph.initializer}
    return {
        n.input[1]
        for n in model.graph.node
        if n.op_type in ("Conv", "Gemm", "MatMul") and len(n.input) > 1 and n.input[1] in inits
    }


def rank_nodes(fp32_prepared: str | Path, report: LayerReport) -> list[dict[str, Any]]:
    """Quantised Conv/Gemm/MatMul/Add nodes ordered most sensitive (lowest SQNR) first."""
    import onnx

    model = onnx.load(str(fp32_prepared), load_external_data=False)
    rows = []
    for node in model.graph.node:
        if node.op_type not in RANKED_OPS:
            continue
        noise, inputs = 0.0, []
        for name in node.input:
            if name in report.activations:
                db = report.activations[name]["sqnr_db"]
            elif name in report.weights:
                db = report.weights[name]
            else:
                continue
            noise += 10.0 ** (-db / 10.0)
            inputs.append(name)
        if inputs:
            rows.append({"node": node.name, "op": node.op_type, "sqnr_db": _db(1.0, noise), "inputs": inputs})
    return sorted(rows, key=lambda r: r["sqnr_db"])

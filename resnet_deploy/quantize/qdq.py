"""Q/DQ emission with onnxruntime.quantization, from saved ranges only.

``prepare_model`` is ORT's ``quant_pre_process`` (ONNX shape inference + basic
graph optimisation, e.g. BatchNorm folded into Conv; its symbolic shape inference
is skipped: it targets transformer graphs and costs seconds on a ResNet whose only
dynamic dim is the batch). ``emit_qdq`` is ORT's
``quantize_static`` in QDQ format with ``calibration_data_reader=None`` and the
ranges handed over through ``calibration_cache_path``: ORT refuses to run
without a reader unless the cache exists, so emission can never calibrate again.
``conv_fusion`` asks ORT itself which kernels it will run
(``SessionOptions.optimized_model_filepath``) and counts int8 vs float convs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from resnet_deploy.quantize.calibrate import CalibrationRanges, ort_method, quiet_ort
from resnet_deploy.quantize.head import hoist_head_qdq
from resnet_deploy.quantize.residual import place_residual_qdq
from resnet_deploy.quantize.targets import FLOAT_CONV_OPS, INT8_CONV_OPS, spec


def rewrite_onnx(path: str | Path, transform: Callable[[Any], int]) -> int:
    """Apply a graph ``transform`` (returns how many places it changed) to an ONNX file, replacing it
    atomically only when something changed."""
    import onnx

    from resnet_deploy.atomic import replacing

    model = onnx.load(str(path))
    changed = transform(model)
    if changed:
        with replacing(path) as tmp:
            onnx.save(model, str(tmp))
    return changed


def prepare_model(fp32_path: str | Path, out_path: str | Path) -> Path:
    """ORT's pre-processing for quantization (shape inference, BN folding) into ``out_path``."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with quiet_ort():
        quant_pre_process(str(fp32_path), str(out_path), skip_symbolic_shape=True)
    return Path(out_path)


def emit_qdq(
    prepared: str | Path,
    ranges: CalibrationRanges,
    target: str,
    out_path: str | Path,
    *,
    cache_path: str | Path,
    exclude: Iterable[str] = (),
    reduce_range: bool | None = None,
) -> Path:
    """Write the ``target`` Q/DQ model for ``prepared`` using ``ranges`` (no data is run).

    ``reduce_range`` overrides the target's weight range (7-bit vs 8-bit) for experiments
    (``benchmarks/int8_agreement.py``); None keeps the target's own.
    """
    from onnxruntime.quantization import QuantFormat, quantize_static

    s = spec(target)
    cache = Path(cache_path)
    if not cache.is_file():
        ranges.write_ort_cache(cache)
    activation_type, weight_type = s.quant_types()
    with quiet_ort():
        quantize_static(
            str(prepared),
            str(out_path),
            calibration_data_reader=None,
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            reduce_range=s.reduce_range if reduce_range is None else bool(reduce_range),
            activation_type=activation_type,
            weight_type=weight_type,
            nodes_to_exclude=sorted(set(exclude)),
            calibrate_method=ort_method(ranges.method),
            calibration_cache_path=str(cache),
            extra_options=dict(s.extra_options),
        )
    if s.residual_identity_only:
        rewrite_onnx(out_path, place_residual_qdq)
    if s.pooled_head_qdq:
        rewrite_onnx(out_path, hoist_head_qdq)
    return Path(out_path)


def optimized_op_counts(model_path: str | Path, work_path: str | Path) -> Counter[str]:
    """Op-type histogram of the graph ORT's CPU provider actually runs (ORT_ENABLE_ALL)."""
    import onnx
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.optimized_model_filepath = str(work_path)
    so.log_severity_level = 3  # the "hardware specific optimizations" notice is expected
    ort.InferenceSession(str(model_path), sess_options=so, providers=["CPUExecutionProvider"])
    model = onnx.load(str(work_path), load_external_data=False)
    return Counter(n.op_type for n in model.graph.node)


def conv_fusion(qdq_path: str | Path, work_path: str | Path) -> dict[str, Any]:
    """How many of the Q/DQ model's Convs ORT runs as int8 kernels (all of them for ``cpu``)."""
    import onnx

    source = onnx.load(str(qdq_path), load_external_data=False)
    convs = sum(1 for n in source.graph.node if n.op_type == "Conv")
    ops = optimized_op_counts(qdq_path, work_path)
    return {
        "convs": convs,
        "int8": sum(ops[o] for o in INT8_CONV_OPS),
        "float": sum(ops[o] for o in FLOAT_CONV_OPS),
    }

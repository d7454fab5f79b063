"""FP16 written into the graph (TensorRT 10+/RTX are strongly typed: no builder FP16 flag).

Uses ``onnxruntime.transformers.float16.convert_float_to_float16`` (shipped with
onnxruntime; onnxconverter-common is not needed) with ``keep_io_types=True``:
float32 input and logits, float16 compute inside, so callers feed the same
arrays as for FP32. Parity against FP32 reuses the export stage's
``compare_logits`` with FP16 tolerances.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from resnet_deploy.errors import ParityError
from resnet_deploy.export.parity import compare_logits
from resnet_deploy.quantize.calibrate import quiet_ort
from resnet_deploy.quantize.evaluate import run_logits

FILE_NAME = "model.fp16.onnx"
# fp16 has ~3 decimal digits: logits off by <1% of their range, arg-max kept on >=99%.
FP16_REL_RANGE_TOL = 1e-2
FP16_MIN_TOP1 = 0.99


def convert_fp16(fp32_path: str | Path, out_path: str | Path) -> Path:
    """FP32 ONNX -> FP16-compute ONNX with FP32 inputs/outputs."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(fp32_path))
    with quiet_ort():
        half = convert_float_to_float16(model, keep_io_types=True)
    onnx.save(half, str(out_path))
    return Path(out_path)


def fp16_parity(fp16_path: str | Path, x: np.ndarray, ref_logits: np.ndarray, batch_size: int = 32) -> dict[str, Any]:
    """compare_logits of the FP16 model vs FP32 logits on ``x``; ParityError (exit 1) if off."""
    out = run_logits(fp16_path, x, batch_size)
    metrics = compare_logits(
        ref_logits, out, rel_range_tol=FP16_REL_RANGE_TOL, min_top1_agreement=FP16_MIN_TOP1
    )
    if not metrics["passed"]:
        raise ParityError(
            f"FP16 parity failed: max_abs {metrics['max_abs']:.3g} = {metrics['rel_to_range']:.3g} x logit "
            f"range (allowed {FP16_REL_RANGE_TOL:g}), top-1 agreement {100 * metrics['top1_agreement']:.1f}% "
            f"(needed {100 * FP16_MIN_TOP1:.0f}%) on {metrics['n']} images; model.fp16.onnx was not written"
        )
    return metrics

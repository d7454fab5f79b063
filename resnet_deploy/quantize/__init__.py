"""INT8 post-training quantisation and FP16: calibrate once, emit one Q/DQ model per target.

``quantize_artifact(artifact_dir, QuantizeConfig(...)) -> QuantizeResult`` adds
model.int8-cpu.onnx (U8S8), model.int8-tensorrt.onnx (symmetric S8S8 with
residual Q/DQ), model.int8-openvino.onnx (U8S8, float biases, NNCF's head
placement), model.fp16.onnx, calibration.json and quant_report.json to an
exported artifact. Importing this package does not import onnxruntime.
"""

from __future__ import annotations

from resnet_deploy.quantize.config import (
    DEFAULT_METHOD,
    METHODS,
    TARGETS,
    QuantizeConfig,
    QuantizeResult,
    TargetResult,
)
from resnet_deploy.quantize.pipeline import quantize_artifact

__all__ = [
    "DEFAULT_METHOD",
    "METHODS",
    "TARGETS",
    "QuantizeConfig",
    "QuantizeResult",
    "TargetResult",
    "quantize_artifact",
]

"""Real artifacts for the engine tests: FP32, FP16 and INT8 (TensorRT Q/DQ) ONNX of a tiny ResNet.

Made by the project's own export and quantize pipelines (resnet20 at 32 px,
random weights, minmax calibration on 32 built-in sample images), so the engine
tests prove that what ``export``/``quantize`` write is accepted by TensorRT.
``quantize_s8s8`` makes a deliberately TensorRT-incompatible variant (int32 bias
Q/DQ) for the parser-error test. Imported by tests/integration/test_engines_*.py
and tests/gpu/conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ARCH, SIZE, CLASSES = "resnet20", 32, 10


def make_engine_artifact(out: Path, *, with_pt2: bool = False) -> Path:
    """A complete artifact at ``out`` with model.fp32/fp16/int8-tensorrt ONNX files (+ model.pt2)."""
    from resnet_deploy.export.pipeline import ExportConfig, export_artifact
    from resnet_deploy.quantize.pipeline import QuantizeConfig, quantize_artifact

    formats = ("onnx", "exported-program") if with_pt2 else ("onnx",)
    export_artifact(ExportConfig(arch=ARCH, num_classes=CLASSES, input_size=SIZE, formats=formats, out=out))
    quantize_artifact(
        out,
        QuantizeConfig(calib_data="sample", calib_size=32, calib_method="minmax", targets=("tensorrt",),
                       fp16=True, batch_size=16, report_size=8, eval_size=32),
    )
    return out


def calibration_batches(n: int = 4, batch: int = 8, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((batch, 3, SIZE, SIZE)).astype(np.float32) for _ in range(n)]


def quantize_s8s8(fp32: Path, dest: Path, *, quantize_bias: bool = False) -> Path:
    """S8S8 Q/DQ like the TensorRT target; ``quantize_bias=True`` makes int32 bias DQs TensorRT rejects."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(calibration_batches())

        def get_next(self) -> dict[str, np.ndarray] | None:
            x = next(self.items, None)
            return None if x is None else {"input": x}

    quantize_static(
        str(fp32), str(dest), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
        extra_options={"ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": quantize_bias},
    )
    return dest

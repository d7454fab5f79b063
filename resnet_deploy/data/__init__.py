"""Calibration/evaluation data: ImageFolder, .npy/.npz and the built-in sample set.

Every source yields float32 NCHW batches preprocessed exactly like the runtime
does (``resnet_deploy.preprocess``). ``CalibrationReader`` (which imports
onnxruntime) is loaded on first use.
"""

from __future__ import annotations

from typing import Any

from resnet_deploy.data.base import DataSource, DataWarning
from resnet_deploy.data.evalset import EvalSet
from resnet_deploy.data.imagefolder import IMAGE_EXTENSIONS
from resnet_deploy.data.sample import SAMPLE_CLASSES, sample_arrays
from resnet_deploy.data.sources import open_source

__all__ = [
    "IMAGE_EXTENSIONS",
    "SAMPLE_CLASSES",
    "CalibrationReader",
    "DataWarning",
    "DataSource",
    "EvalSet",
    "open_source",
    "sample_arrays",
]


def __getattr__(name: str) -> Any:
    if name == "CalibrationReader":
        from resnet_deploy.data.calib_reader import CalibrationReader

        return CalibrationReader
    raise AttributeError(f"module 'resnet_deploy.data' has no attribute {name!r}")

"""Session fixtures for the quantize unit tests: one small exported ResNet, calibrated once.

ResNet-18 at 32 px (random weights, 10 classes) has what the targets must handle:
20 convs, 8 residual Adds (3 with a downsample conv on the identity branch), a Gemm.
Calibration runs on seeded N(0, 1) batches through a reader that counts its calls.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

SIZE = 32


class CountingReader:
    """A CalibrationDataReader over fixed batches that counts get_next() calls."""

    def __init__(self, batches: list[np.ndarray], input_name: str = "input") -> None:
        self.batches = batches
        self.input_name = input_name
        self.calls = 0
        self._i = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        self.calls += 1
        if self._i >= len(self.batches):
            return None
        self._i += 1
        return {self.input_name: self.batches[self._i - 1]}


@pytest.fixture(scope="session")
def counting_reader() -> type[CountingReader]:
    """The CountingReader class (a fixture, so test modules need not import conftest)."""
    return CountingReader


@dataclass
class QModels:
    fp32: Path
    prepared: Path
    ranges: object
    reader: CountingReader
    cpu: Path
    tensorrt: Path
    cache: Path
    work: Path
    x: np.ndarray


def export_resnet(path: Path, arch: str = "resnet18") -> Path:
    import torch

    from resnet_deploy.models import create_model

    torch.manual_seed(0)
    model = create_model(arch, num_classes=10).eval()
    with warnings.catch_warnings():  # the legacy exporter is faster; its deprecation is not news here
        warnings.simplefilter("ignore", DeprecationWarning)
        _export(model, path)
    return path


def _export(model: object, path: Path) -> None:
    import torch

    torch.onnx.export(
        model, (torch.zeros(1, 3, SIZE, SIZE),), str(path), input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, dynamo=False,
    )


@pytest.fixture(scope="session")
def qmodels(tmp_path_factory: pytest.TempPathFactory) -> QModels:
    from resnet_deploy.quantize.calibrate import calibrate
    from resnet_deploy.quantize.qdq import emit_qdq, prepare_model

    work = tmp_path_factory.mktemp("quantize-unit")
    fp32 = export_resnet(work / "fp32.onnx")
    prepared = prepare_model(fp32, work / "prepared.onnx")
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal((8, 3, SIZE, SIZE)).astype(np.float32) for _ in range(4)]
    reader = CountingReader(batches)
    ranges = calibrate(
        prepared, reader, method="minmax", percentile=None, work_dir=work,
        dataset="noise", dataset_sha256="0" * 64, model_sha256="1" * 64,
    )
    cache = work / "ort-cache.json"
    cpu = emit_qdq(prepared, ranges, "cpu", work / "cpu.onnx", cache_path=cache)
    trt = emit_qdq(prepared, ranges, "tensorrt", work / "trt.onnx", cache_path=cache)
    x = rng.standard_normal((16, 3, SIZE, SIZE)).astype(np.float32)
    return QModels(fp32, prepared, ranges, reader, cpu, trt, cache, work, x)

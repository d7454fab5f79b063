"""Small artifacts for the engine unit tests, made without torch (onnx.helper) in milliseconds."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from tiny_onnx_artifact import SIZE, write_tiny_manifest, write_tiny_onnx

from resnet_deploy.artifact import EngineRecord, make_entry


@pytest.fixture
def onnx_artifact(tmp_path: Path) -> Path:
    """An artifact with model.fp32.onnx (and a U8S8-labelled copy for provider-selection tests)."""
    root = tmp_path / "art"
    root.mkdir()
    write_tiny_onnx(root / "model.fp32.onnx")
    (root / "model.int8-cpu.onnx").write_bytes((root / "model.fp32.onnx").read_bytes())
    files = [make_entry(root, "model.fp32.onnx", "onnx", "fp32"),
             make_entry(root, "model.int8-cpu.onnx", "onnx", "int8", "cpu")]
    return write_tiny_manifest(root, files)


def engine_record(path: str, family: str = "tensorrt-rtx", version: str = "1.7.1.116", **kw) -> EngineRecord:
    meta = {
        "path": path, "family": family, "library_version": version, "precision": "fp32", "key": "fp32",
        "source": "model.fp32.onnx", "source_onnx_sha256": "0" * 64,
        "profile": {"input": {"min": [1, 3, SIZE, SIZE], "opt": [4, 3, SIZE, SIZE], "max": [16, 3, SIZE, SIZE]}},
        "build_seconds": 0.1, "gpu_name": "built without a GPU", "compute_capability": None,
        "hardware_compatibility": "rtx-default", "version_compatible": False,
    }
    meta.update(kw)
    return EngineRecord.from_dict(meta)


@pytest.fixture
def make_engine_artifact(tmp_path: Path):
    """Factory: an artifact whose engine file holds random bytes and whose record says ``**meta``."""

    def make(record: bool = True, **meta) -> Path:
        root = tmp_path / f"eng{len(os.listdir(tmp_path))}"
        (root / "engines").mkdir(parents=True)
        rel = "engines/model.fp32.tensorrt-rtx.plan"
        (root / rel).write_bytes(np.random.default_rng(1).bytes(4096))
        entry = make_entry(root, rel, "tensorrt-engine", "fp32", None, family=meta.get("family", "tensorrt-rtx"))
        return write_tiny_manifest(root, [entry], [engine_record(rel, **meta)] if record else [])

    return make

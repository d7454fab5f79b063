"""A four-class 8x8 ONNX model and its manifest, shared by the bench and engines unit tests.

Importable from any test module (pytest puts tests/ on sys.path via tests/conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from resnet_deploy.artifact import (
    FileEntry,
    InputSpec,
    Manifest,
    ModelInfo,
    Preprocessing,
    save_manifest,
)

SIZE, CLASSES = 8, 4


def write_tiny_onnx(path: Path) -> Path:
    """input [N,3,8,8] -> Conv 3x3 (4 ch) -> Relu -> GlobalAveragePool -> Flatten -> logits [N,4]."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((CLASSES, 3, 3, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal(CLASSES).astype(np.float32), "b")
    nodes = [
        helper.make_node("Conv", ["input", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["p"]),
        helper.make_node("Flatten", ["p"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", CLASSES])],
        initializer=[w, b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def write_tiny_manifest(root: Path, files: list[FileEntry], engines: list | None = None) -> Path:
    """Save a manifest for the tiny model listing ``files`` (and engine records) in ``root``."""
    manifest = Manifest(
        model=ModelInfo(arch="tiny", num_classes=CLASSES),
        input=InputSpec(shape=[-1, 3, SIZE, SIZE]),
        preprocessing=Preprocessing.for_input_size(SIZE),
        files=files,
        engines=engines or [],
    )
    save_manifest(manifest, root)
    return root

"""A tiny, real artifact for the serving tests, built without torch in milliseconds.

The network is a small ONNX classifier (GlobalAveragePool -> Flatten -> Gemm)
with the manifest's exact I/O contract (``input`` [-1,3,32,32] -> ``logits``
[-1,10]); ONNX Runtime runs it for real. Copies of the same graph stand in for
the INT8/FP16 files and a byte blob for a TensorRT engine: the repository writer
only reads their I/O and copies them, so what they compute does not matter here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from resnet_deploy.artifact import (
    EngineRecord,
    InputSpec,
    Manifest,
    ModelInfo,
    Preprocessing,
    make_entry,
    save_manifest,
)

SIZE = 32
CLASSES = 10
LABELS = [f"label_{i}" for i in range(CLASSES)]


def _toy_onnx(path: Path, seed: int = 0) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array(rng.standard_normal((3, CLASSES)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal(CLASSES).astype(np.float32), "b")
    nodes = [
        helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "w", "b"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes, "toy",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", CLASSES])],
        initializer=[w, b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def build_toy_artifact(root: Path, *, extras: bool = True, labels: bool = True) -> Path:
    """Write a verified artifact directory at ``root`` and return it."""
    root.mkdir(parents=True, exist_ok=True)
    _toy_onnx(root / "model.fp32.onnx")
    files = [make_entry(root, "model.fp32.onnx", "onnx", "fp32")]
    engines = []
    if extras:
        for name, precision, target in (
            ("model.int8-cpu.onnx", "int8", "cpu"),
            ("model.int8-tensorrt.onnx", "int8", "tensorrt"),
        ):
            shutil.copyfile(root / "model.fp32.onnx", root / name)
            files.append(make_entry(root, name, "onnx", precision, target))
        (root / "engines").mkdir()
        for family in ("tensorrt", "tensorrt-rtx"):
            rel = f"engines/model.int8-tensorrt.{family}.plan"
            (root / rel).write_bytes(b"not-a-real-engine-" + family.encode())
            files.append(make_entry(root, rel, "tensorrt-engine", "int8", "tensorrt", family=family))
            shapes = {"min": [1, 3, SIZE, SIZE], "opt": [8, 3, SIZE, SIZE], "max": [16, 3, SIZE, SIZE]}
            engines.append(EngineRecord(path=rel, family=family, library_version="10.3.0", precision="int8",
                                        key="int8-tensorrt", source="model.int8-tensorrt.onnx",
                                        source_onnx_sha256="", profile={"input": shapes}, build_seconds=0.0))
    manifest = Manifest(
        model=ModelInfo(arch="toy", num_classes=CLASSES, labels=list(LABELS) if labels else None),
        input=InputSpec(shape=[-1, 3, SIZE, SIZE]),
        preprocessing=Preprocessing.for_input_size(SIZE),
        files=files,
        engines=engines,
    )
    save_manifest(manifest, root)
    return root



"""The build record of an engine: what the run side checks before deserialising it.

A plan file says nothing readable about where it can run, so every engine gets
a record in ``manifest.engines`` (family, library version, build GPU and
compute capability, compatibility flags, profile shapes, the sha256 of the
ONNX it came from) next to its ``files`` entry (format ``tensorrt-engine``).
``resnet_deploy.runtime.trt_compat`` reads exactly these keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from resnet_deploy.artifact import FileEntry, Manifest, now_iso
from resnet_deploy.runtime.trt_compat import family_module

ENGINE_FORMAT = "tensorrt-engine"
ENGINES_DIR = "engines"
NO_GPU_NAME = "built without a GPU"


def engine_rel_path(key: str, family: str) -> str:
    """``engines/model.<key>.<family>.plan``, e.g. ``engines/model.int8-tensorrt.tensorrt-rtx.plan``."""
    return f"{ENGINES_DIR}/model.{key}.{family}.plan"


def profile_shapes(
    input_name: str, chw: Sequence[int], min_batch: int, opt_batch: int, max_batch: int
) -> dict[str, dict[str, list[int]]]:
    """The optimisation profile as JSON: {input: {min: [N,C,H,W], opt: [...], max: [...]}}."""
    c, h, w = (int(v) for v in chw)
    return {
        input_name: {
            "min": [int(min_batch), c, h, w],
            "opt": [int(opt_batch), c, h, w],
            "max": [int(max_batch), c, h, w],
        }
    }


@dataclass
class EngineMeta:
    """One ``manifest.engines`` record (plain JSON once ``to_dict``-ed)."""

    path: str
    family: str  # "tensorrt" | "tensorrt-rtx"
    library_version: str
    precision: str
    key: str  # source file key: fp32, fp16, int8-tensorrt
    source: str  # the ONNX file it was built from
    source_onnx_sha256: str
    profile: dict[str, dict[str, list[int]]]
    build_seconds: float
    gpu_name: str = NO_GPU_NAME
    compute_capability: str | None = None
    hardware_compatibility: str = "none"  # "none" | "ampere_plus" | "rtx-default"
    version_compatible: bool = False
    target_compute_capabilities: list[str] = field(default_factory=list)  # TensorRT-RTX: where it runs
    builder_optimization_level: int | None = None
    workspace_mib: int | None = None
    parser_version: str | None = None
    built_at: str = field(default_factory=now_iso)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def record_engine(manifest: Manifest, entry: FileEntry, meta: EngineMeta) -> None:
    """Add or replace the engine's file entry and build record (same path = same engine)."""
    manifest.replace_file(entry)
    manifest.engines = [
        e for e in manifest.engines if not (isinstance(e, dict) and e.get("path") == entry.path)
    ] + [meta.to_dict()]
    manifest.toolchain[family_module(meta.family)] = meta.library_version


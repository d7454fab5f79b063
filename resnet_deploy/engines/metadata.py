"""The build record of an engine: what the run side checks before deserialising it.

A plan file says nothing readable about where it can run, so every engine gets
a record in ``manifest.engines`` (``artifact.EngineRecord``: family, library version, build GPU and
compute capability, compatibility flags, profile shapes, the sha256 of the
ONNX it came from) next to its ``files`` entry (format ``tensorrt-engine``).
``resnet_deploy.runtime.trt_compat`` reads exactly these fields.
"""

from __future__ import annotations

from collections.abc import Sequence

from resnet_deploy.artifact import NO_GPU_NAME as NO_GPU_NAME
from resnet_deploy.artifact import EngineRecord, FileEntry, Manifest
from resnet_deploy.runtime.trt_compat import family_module

ENGINE_FORMAT = "tensorrt-engine"
ENGINES_DIR = "engines"


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


EngineMeta = EngineRecord  # the record's old name (it is the artifact's ``EngineRecord`` now)


def record_engine(manifest: Manifest, entry: FileEntry, meta: EngineRecord) -> None:
    """Add or replace the engine's file entry and build record (same path = same engine)."""
    manifest.replace_file(entry)
    manifest.replace_engine(meta)
    manifest.toolchain[family_module(meta.family)] = meta.library_version

"""TensorRT / TensorRT-RTX engine builds (strongly typed, profiles, timing cache) and their records.

``build_engine(artifact_dir, EngineConfig(...))`` writes
``engines/model.<key>.<family>.plan`` into an artifact and records where it can
run in ``manifest.engines``. TensorRT itself is imported only when building.
"""

from __future__ import annotations

from resnet_deploy.engines.build import (
    FAMILY_CHOICES,
    EngineConfig,
    EngineResult,
    build_engine,
    select_family,
    source_entry,
)
from resnet_deploy.engines.metadata import ENGINE_FORMAT, EngineMeta, engine_rel_path

__all__ = [
    "ENGINE_FORMAT",
    "FAMILY_CHOICES",
    "EngineConfig",
    "EngineMeta",
    "EngineResult",
    "build_engine",
    "engine_rel_path",
    "select_family",
    "source_entry",
]

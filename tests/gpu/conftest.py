"""A GPU-test artifact: the tiny ResNet with model.pt2 and engines for fp32/fp16/int8 (family auto).

Every test here is marked ``gpu`` (and ``tensorrt`` where it needs a TensorRT
module), so tests/conftest.py skips them on machines without one. Artifact
creation is shared with tests/integration/engines_artifacts.py.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_HELPER = Path(__file__).resolve().parents[1] / "integration" / "engines_artifacts.py"


def _helper():
    spec = importlib.util.spec_from_file_location("engines_artifacts", _HELPER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


@pytest.fixture(scope="session")
def gpu_artifact(tmp_path_factory) -> Path:
    """Artifact with ONNX files and model.pt2 (no engines yet)."""
    return _helper().make_engine_artifact(tmp_path_factory.mktemp("gpu") / "art", with_pt2=True)


@pytest.fixture(scope="session")
def gpu_engines(gpu_artifact) -> dict:
    """precision -> EngineResult, built with the preferred family on this host."""
    from resnet_deploy.engines import EngineConfig, build_engine

    return {p: build_engine(gpu_artifact, EngineConfig(precision=p, min_batch=1, opt_batch=8, max_batch=32))
            for p in ("fp32", "fp16", "int8")}

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
    """precision -> EngineResult: TensorRT where installed, else TensorRT-RTX if this GPU can run it."""
    from resnet_deploy._optional import is_available
    from resnet_deploy.engines import EngineConfig, build_engine
    from resnet_deploy.runtime.gpu import gpu_info
    from resnet_deploy.runtime.trt_compat import RTX_DEFAULT_CCS, rtx_can_run

    family = "tensorrt" if is_available("tensorrt") else "tensorrt-rtx"
    gpu = gpu_info()
    if family == "tensorrt-rtx" and gpu is not None and not rtx_can_run(RTX_DEFAULT_CCS, gpu.cc_tuple):
        pytest.skip(f"only TensorRT-RTX is installed and its engines do not run on {gpu.name} "
                    f"(compute capability {gpu.compute_capability}); install tensorrt")
    return {p: build_engine(gpu_artifact, EngineConfig(precision=p, family=family, min_batch=1, opt_batch=8,
                                                       max_batch=32))
            for p in ("fp32", "fp16", "int8")}

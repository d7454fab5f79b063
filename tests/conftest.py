"""Capability probes: tests marked gpu/tensorrt/slow are skipped here, never by editing tests.

The pattern follows torchvision's test/conftest.py: probe once, then add a skip
marker with the reason to every collected item that needs what is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache

import pytest


@cache
def gpu_reason() -> str | None:
    """None if an NVIDIA GPU answers nvidia-smi, else why not."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return "no NVIDIA GPU (nvidia-smi not found)"
    try:
        res = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"nvidia-smi failed: {exc}"
    if res.returncode != 0 or "GPU" not in res.stdout:
        return "nvidia-smi lists no GPU"
    return None


@cache
def tensorrt_reason() -> str | None:
    """None if a TensorRT or TensorRT-RTX Python module imports, else why not."""
    import importlib

    errors = []
    for mod in ("tensorrt", "tensorrt_rtx"):
        try:
            importlib.import_module(mod)
            return None
        except Exception as exc:  # any import failure means unavailable
            errors.append(f"{mod}: {type(exc).__name__}")
    return "no TensorRT module (" + ", ".join(errors) + ")"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_slow = os.environ.get("RESNET_DEPLOY_SKIP_SLOW") == "1"
    for item in items:
        if "gpu" in item.keywords and (reason := gpu_reason()):
            item.add_marker(pytest.mark.skip(reason=reason))
        if "tensorrt" in item.keywords and (reason := tensorrt_reason()):
            item.add_marker(pytest.mark.skip(reason=reason))
        if "slow" in item.keywords and skip_slow:
            item.add_marker(pytest.mark.skip(reason="RESNET_DEPLOY_SKIP_SLOW=1"))


@pytest.fixture(scope="session")
def gpu_missing() -> str | None:
    """Why there is no usable GPU here (None: there is one): tests derive host expectations from this."""
    return gpu_reason()


@pytest.fixture(scope="session")
def tensorrt_missing() -> str | None:
    """Why no TensorRT/TensorRT-RTX module imports here (None: one does)."""
    return tensorrt_reason()

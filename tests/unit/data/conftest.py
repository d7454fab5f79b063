"""Fixtures for the data tests: small image folders made on the fly, and the tiny demo model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from resnet_deploy.artifact import Preprocessing


@pytest.fixture
def pre32() -> Preprocessing:
    return Preprocessing.for_input_size(32)


def write_image(path: Path, arr: np.ndarray, mode: str | None = None, **save: object) -> Path:
    """Save ``arr`` as an image (format from the suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(arr) if mode is None else Image.fromarray(arr, mode=mode)
    img.save(path, **save)
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def tiny_demo_model():
    """The 'tiny' preset, trained once and reused from the cache ($RESNET_DEPLOY_CACHE or ~/.cache)."""
    from resnet_deploy.demo_model import ensure_demo_model

    return ensure_demo_model("tiny")

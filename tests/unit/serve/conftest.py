"""Fixtures of the serving unit tests (helpers live in serve_toy.py)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from serve_toy import build_toy_artifact


@pytest.fixture(scope="session")
def toy_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_toy_artifact(tmp_path_factory.mktemp("serve") / "toy")


@pytest.fixture(scope="session")
def sample_images() -> dict[str, bytes]:
    """Encoded images in the modes a client may send (RGB JPEG, RGBA/P/L PNG, 16-bit PNG)."""
    from PIL import Image

    rng = np.random.default_rng(7)
    rgb = Image.fromarray(rng.integers(0, 256, (45, 61, 3), dtype=np.uint8), "RGB")
    out: dict[str, bytes] = {}
    for name, img, fmt in (
        ("rgb_jpeg", rgb, "JPEG"),
        ("rgb_png_tall", rgb.transpose(Image.Transpose.ROTATE_90), "PNG"),
        ("rgba_png", Image.fromarray(rng.integers(0, 256, (40, 40, 4), dtype=np.uint8), "RGBA"), "PNG"),
        ("gray_png", rgb.convert("L"), "PNG"),
        ("palette_png", rgb.convert("P"), "PNG"),
        ("gray16_png", Image.fromarray(rng.integers(0, 65535, (33, 50), dtype=np.uint16)), "PNG"),
        ("tiny_png", rgb.resize((7, 5)), "PNG"),
    ):
        buf = io.BytesIO()
        img.save(buf, format=fmt)
        out[name] = buf.getvalue()
    return out

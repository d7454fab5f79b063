"""Plain helpers shared by the runtime tests (a uniquely named module, not conftest)."""

from __future__ import annotations

import io

import numpy as np

NUM_CLASSES = 10
LABELS = [f"class_{i}" for i in range(NUM_CLASSES)]


def encode_image(seed: int = 0, size: tuple[int, int] = (48, 40), fmt: str = "PNG") -> bytes:
    """A random RGB image encoded as PNG/JPEG bytes."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()

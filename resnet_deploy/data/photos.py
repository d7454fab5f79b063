"""Real photographs at camera sizes, as JPEG bytes, with no download.

scikit-image bundles a few real photographs in its wheel (astronaut, chelsea
the cat, coffee, a rocket, a motorcycle, a retina, the Hubble deep field, ...).
They are 300-1400 px; a service receives 640-4000 px camera JPEGs, whose decode
cost and draft-decode behaviour differ. ``camera_jpegs`` crops each photo to a
camera aspect ratio, resizes it to a camera size, adds a little sensor-like
noise (so the upscaled pixels carry fine detail, as real ones do) and encodes a
4:2:0 JPEG. Everything is seeded: the same call gives the same bytes.

Needs the ``photos`` extra (``pip install 'resnet-deploy[photos]'``). Used by the
decode-accuracy checks and the end-to-end benchmark.
"""

from __future__ import annotations

import functools
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from resnet_deploy.errors import DataError

# Real photographs bundled in scikit-image's wheel (skimage.data function names;
# "motorcycle" is the left view of stereo_motorcycle). Gray ones are replicated to RGB.
PHOTO_NAMES: tuple[str, ...] = (
    "astronaut", "chelsea", "coffee", "rocket", "motorcycle", "retina", "hubble_deep_field",
    "immunohistochemistry", "camera", "moon", "coins", "brick", "grass", "gravel",
)

# (width, height): phone and camera sizes, 640-4000 px long side, landscape and portrait,
# 4:3, 3:2, 16:9 and 1:1.
CAMERA_SIZES: tuple[tuple[int, int], ...] = (
    (640, 480), (1280, 720), (1280, 960), (1600, 1200), (1920, 1080), (1080, 1920),
    (2048, 1536), (3000, 2000), (2000, 3000), (2448, 3264), (3000, 3000), (4000, 2250),
    (3264, 2448), (4000, 3000), (3000, 4000),
)
DEFAULT_COUNT = 32


@dataclass(frozen=True)
class CameraJpeg:
    """One camera-sized JPEG: which photo, its size, and the encoded bytes."""

    name: str
    width: int
    height: int
    data: bytes

    @property
    def filename(self) -> str:
        return f"{self.name}_{self.width}x{self.height}.jpg"


@functools.cache
def photo(name: str) -> np.ndarray:
    """A bundled photograph as uint8 HxWx3 RGB (read-only; gray photos replicated to 3 channels)."""
    if name not in PHOTO_NAMES:
        raise DataError(f"unknown photo '{name}'; use one of {', '.join(PHOTO_NAMES)}")
    from resnet_deploy._optional import require

    data = require("skimage.data", extra="photos", purpose="real photographs")
    arr = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
    arr = np.asarray(arr, dtype=np.uint8)
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    arr = np.ascontiguousarray(arr[..., :3])
    arr.setflags(write=False)
    return arr


def camera_jpeg(
    name: str, size: tuple[int, int], *, quality: int = 90, noise: float = 2.0, seed: int = 0
) -> CameraJpeg:
    """``photo(name)`` cropped to the aspect of ``size`` (seeded offset), resized, noised, JPEG-encoded."""
    from PIL import Image

    w, h = int(size[0]), int(size[1])
    if w < 1 or h < 1:
        raise DataError(f"camera size must be positive, got {w}x{h}; pass e.g. (4000, 3000)")
    rng = np.random.default_rng([seed, PHOTO_NAMES.index(name), w, h])
    src = photo(name)
    sh, sw = src.shape[:2]
    cw, ch = (sw, max(1, round(sw * h / w))) if sw * h <= sh * w else (max(1, round(sh * w / h)), sh)
    x0 = int(rng.integers(0, sw - cw + 1))
    y0 = int(rng.integers(0, sh - ch + 1))
    img = Image.fromarray(src[y0 : y0 + ch, x0 : x0 + cw]).resize((w, h), Image.Resampling.BICUBIC)
    if noise > 0:
        arr = np.asarray(img, dtype=np.float32)
        arr += rng.standard_normal(arr.shape, dtype=np.float32) * np.float32(noise)
        img = Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality, subsampling="4:2:0")
    return CameraJpeg(name, w, h, buf.getvalue())


def camera_plan(
    count: int = DEFAULT_COUNT,
    *,
    names: tuple[str, ...] = PHOTO_NAMES,
    sizes: tuple[tuple[int, int], ...] = CAMERA_SIZES,
) -> list[tuple[str, tuple[int, int]]]:
    """Which (photo, size) pairs ``camera_jpegs`` makes: photos cycled, each meeting several sizes."""
    if count < 1 or not names or not sizes:
        raise DataError(f"need count >= 1 and some photos and sizes, got count={count}; pass count >= 1")
    n, s = len(names), len(sizes)
    return [(names[i % n], sizes[(i % n + i // n) % s]) for i in range(count)]


def camera_jpegs(
    count: int = DEFAULT_COUNT,
    *,
    names: tuple[str, ...] = PHOTO_NAMES,
    sizes: tuple[tuple[int, int], ...] = CAMERA_SIZES,
    quality: int = 90,
    noise: float = 2.0,
    seed: int = 0,
) -> list[CameraJpeg]:
    """``count`` camera-sized JPEGs of real photographs (see ``camera_plan`` for which)."""
    plan = camera_plan(count, names=names, sizes=sizes)
    return [camera_jpeg(name, size, quality=quality, noise=noise, seed=seed) for name, size in plan]


def write_camera_jpegs(out_dir: str | os.PathLike[str], count: int = DEFAULT_COUNT, **kwargs: object) -> list[Path]:
    """Write ``camera_jpegs(count, **kwargs)`` into ``out_dir`` (atomically, one file each); their paths.

    Two images with the same photo and size get an index suffix, so none overwrites another.
    """
    from resnet_deploy.atomic import write_bytes_atomic

    out = Path(out_dir)
    paths: list[Path] = []
    seen: set[str] = set()
    for i, jpg in enumerate(camera_jpegs(count, **kwargs)):  # type: ignore[arg-type]
        fname = jpg.filename if jpg.filename not in seen else f"{Path(jpg.filename).stem}_{i}.jpg"
        seen.add(fname)
        paths.append(write_bytes_atomic(out / fname, jpg.data))
    return paths


# Sizes for the enlarged sample set: each makes libjpeg's draft pick a different
# scale at the 64 px demo model's resize of 73 (1/2, 1/2, 1/4, 1/8, 1/8).
SAMPLE_SIZES: tuple[tuple[int, int], ...] = ((160, 160), (320, 240), (480, 640), (640, 640), (1024, 768))


def sample_jpegs(
    split: str = "eval",
    count: int | None = None,
    *,
    sizes: tuple[tuple[int, int], ...] = SAMPLE_SIZES,
    quality: int = 90,
) -> tuple[list[CameraJpeg], np.ndarray]:
    """The built-in sample set's images enlarged to ``sizes`` (cycled) as JPEGs, with their labels.

    The 80 px sample images are too small for a reduced decode; enlarged, they let
    the trained demo model check the fast decode path on images it knows.
    """
    from PIL import Image

    from resnet_deploy.data.sample import sample_arrays

    x, y = sample_arrays(split)
    n = len(x) if count is None else min(int(count), len(x))
    out: list[CameraJpeg] = []
    for i in range(n):
        w, h = sizes[i % len(sizes)]
        buf = io.BytesIO()
        Image.fromarray(x[i]).resize((w, h), Image.Resampling.BICUBIC).save(
            buf, format="JPEG", quality=quality, subsampling="4:2:0"
        )
        out.append(CameraJpeg(f"{split}{i:04d}", w, h, buf.getvalue()))
    return out, np.asarray(y[:n])

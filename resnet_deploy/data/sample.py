"""The built-in sample set: 10-class digit images that need no download.

Real handwritten digits from scikit-learn's ``load_digits`` (1,797 8x8 scans,
bundled with scikit-learn) are rendered as raw 80x80 uint8 RGB images in two
flavours:
  * clean: the digit enlarged, coloured, on a plain coloured background;
  * hard: random rotation/scale/shear/shift, thicker or thinner strokes, a
    gradient background with clutter, occluding lines, blur and noise -- hard
    enough that an INT8 model's accuracy drop is measurable.

The 1,797 source digits are first split (seeded) into disjoint groups, so the
"train", "calib" and "eval" splits never share a digit, not even as a
different rendering: "eval" is truly held out from training. Everything is
seeded and built in about a second; the images then go through the manifest's
preprocessing like any other image (see ``ArraySource``).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from resnet_deploy.errors import DataError

SAMPLE_CLASSES = [str(d) for d in range(10)]
SPLITS = ("train", "calib", "eval")
IMAGE_SIZE = 80
SEED = 20250101
VERSION = 3  # bump when the rendering changes (demo models are cached per version)

# split -> (number of source digits, clean renders per digit, hard renders per digit)
_PLAN: dict[str, tuple[int | None, int, int]] = {
    "eval": (300, 1, 1),  # 600 images
    "calib": (320, 1, 1),  # 640 images
    "train": (None, 1, 3),  # the remaining 1,177 digits -> 4,708 images
}


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - scikit-learn is a dependency
        raise DataError("the built-in sample set needs scikit-learn; pip install scikit-learn") from exc
    d = load_digits()
    return d.images.astype(np.float32) / 16.0, d.target.astype(np.int64)


def _split_indices(n: int) -> dict[str, np.ndarray]:
    perm = np.random.default_rng(SEED).permutation(n)
    out, start = {}, 0
    for split in ("eval", "calib", "train"):
        count = _PLAN[split][0]
        stop = n if count is None else start + count
        out[split] = perm[start:stop]
        start = stop
    return out


def _colours(rng: np.random.Generator, min_contrast: float) -> tuple[np.ndarray, np.ndarray]:
    """(background, foreground) colours; the ink is brighter than the background by ``min_contrast``.

    One polarity (light ink on a darker background) keeps the set learnable in the
    ~100-300 SGD steps the demo models get; random polarity needs far more.
    """
    weights = np.array([0.299, 0.587, 0.114], np.float32)
    while True:
        bg, fg = rng.integers(0, 256, size=(2, 3)).astype(np.float32)
        if float(weights @ fg) - float(weights @ bg) >= min_contrast:
            return bg, fg


def _mask(glyph: np.ndarray, rng: np.random.Generator, hard: bool) -> np.ndarray:
    """The digit's coverage in [0, 1] on the 80x80 canvas, after a random affine warp."""
    from PIL import Image, ImageFilter

    size = IMAGE_SIZE
    base = int(rng.integers(50, 61))
    img = Image.fromarray((glyph * 255).astype(np.uint8), "L").resize((base, base), Image.BICUBIC)
    canvas = Image.new("L", (size, size), 0)
    canvas.paste(img, ((size - base) // 2, (size - base) // 2))
    if hard:
        angle = math.radians(rng.uniform(-20, 20))
        scale = rng.uniform(0.75, 1.05)
        shear = rng.uniform(-0.25, 0.25)
        shift = rng.uniform(-6, 6, size=2)
    else:
        angle, scale, shear, shift = 0.0, 1.0, 0.0, rng.uniform(-3, 3, size=2)
    # forward map: scale * rotation @ shear about the centre, then shift; PIL wants the
    # inverse (output pixel -> input pixel), written out for 2x2 (np.linalg is slow here)
    c, s = math.cos(angle), math.sin(angle)
    a, b = scale * c, scale * (c * shear - s)
    d, e = scale * s, scale * (s * shear + c)
    det = a * e - b * d
    ia, ib, id_, ie = e / det, -b / det, -d / det, a / det
    cx, cy = size / 2 + float(shift[0]), size / 2 + float(shift[1])
    ox = size / 2 - (ia * cx + ib * cy)
    oy = size / 2 - (id_ * cx + ie * cy)
    data = (ia, ib, ox, id_, ie, oy)
    canvas = canvas.transform((size, size), Image.AFFINE, data, resample=Image.BILINEAR)
    if hard:
        r = rng.random()
        if r < 0.25:
            canvas = canvas.filter(ImageFilter.MaxFilter(3))  # bolder strokes
        elif r < 0.4:
            canvas = canvas.filter(ImageFilter.MinFilter(3))  # thinner strokes
    return np.asarray(canvas, dtype=np.float32) / 255.0


def _background(rng: np.random.Generator, bg: np.ndarray, hard: bool) -> np.ndarray:
    """Plain colour (clean) or a gradient with random shapes behind the digit (hard)."""
    from PIL import Image, ImageDraw

    size = IMAGE_SIZE
    if not hard:
        return np.broadcast_to(bg, (size, size, 3)).astype(np.float32)
    other = np.clip(bg + rng.normal(0, 45, size=3), 0, 255)
    t = np.linspace(0.0, 1.0, size, dtype=np.float32)
    theta = rng.uniform(0, 2 * math.pi)
    ramp = (math.cos(theta) * t[None, :] + math.sin(theta) * t[:, None]) / 1.5 + 0.5
    arr = bg * (1 - ramp[..., None]) + other * ramp[..., None]
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(2, 6))):
        colour = tuple(int(v) for v in np.clip(bg + rng.normal(0, 40, size=3), 0, 255))
        x0, y0, x1, y1 = (int(v) for v in rng.integers(0, size, size=4))
        box = (min(x0, x1), min(y0, y1), max(x0, x1) + 2, max(y0, y1) + 2)
        kind = rng.integers(0, 3)
        if kind == 0:
            draw.line((x0, y0, x1, y1), fill=colour, width=int(rng.integers(1, 4)))
        elif kind == 1:
            draw.ellipse(box, outline=colour, width=int(rng.integers(1, 3)))
        else:
            draw.rectangle(box, fill=colour)
    return np.asarray(img, dtype=np.float32)


def _render(glyph: np.ndarray, rng: np.random.Generator, hard: bool) -> np.ndarray:
    """One 80x80x3 uint8 image of ``glyph`` (an 8x8 digit scaled to [0, 1])."""
    from PIL import Image, ImageDraw, ImageFilter

    bg, fg = _colours(rng, 80.0 if hard else 100.0)
    back = _background(rng, bg, hard)
    m = _mask(glyph, rng, hard)[..., None]
    img = back * (1 - m) + fg * m
    if hard:
        pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")
        draw = ImageDraw.Draw(pil)
        for _ in range(int(rng.integers(0, 2))):  # a thin occluding line across the digit
            colour = tuple(int(v) for v in rng.integers(0, 256, size=3))
            draw.line(tuple(int(v) for v in rng.integers(0, IMAGE_SIZE, size=4)), fill=colour, width=1)
        if rng.random() < 0.3:
            pil = pil.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.4, 1.0))))
        img = np.asarray(pil, dtype=np.float32)
        sigma = rng.uniform(4, 14)
    else:
        sigma = 3.0
    img = img + rng.standard_normal(img.shape, dtype=np.float32) * np.float32(sigma)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def sample_arrays(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Raw images (N, 80, 80, 3) uint8 and labels (N,) int64 of one split, read-only, cached."""
    return _build(split)


@functools.cache
def _build(split: str) -> tuple[np.ndarray, np.ndarray]:
    if split not in SPLITS:
        raise DataError(f"unknown sample split '{split}'; choose one of: {', '.join(SPLITS)}")
    digits, targets = _load_digits()
    idx = _split_indices(len(digits))[split]
    _, n_clean, n_hard = _PLAN[split]
    rng = np.random.default_rng([SEED, SPLITS.index(split)])
    images, labels = [], []
    for i in idx:
        for hard in [False] * n_clean + [True] * n_hard:
            images.append(_render(digits[i], rng, hard))
            labels.append(targets[i])
    order = rng.permutation(len(images))
    out = np.stack(images)[order], np.asarray(labels, np.int64)[order]
    for a in out:
        a.setflags(write=False)
    return out


def source_digits(split: str) -> np.ndarray:
    """Indices into ``load_digits()`` used by ``split`` (to prove the splits are disjoint)."""
    if split not in SPLITS:
        raise DataError(f"unknown sample split '{split}'; choose one of: {', '.join(SPLITS)}")
    return _split_indices(len(_load_digits()[0]))[split].copy()


def open_sample(pre: Any, *, split: str, limit: int | None, on_warning: Any) -> Any:
    """The built-in set as a DataSource (raw images go through the shared preprocessing)."""
    from resnet_deploy.data.arrays import ArraySource

    x, y = sample_arrays(split)
    return ArraySource(
        f"sample:{split}", x, pre, labels=y, classes=list(SAMPLE_CLASSES),
        split=split, limit=limit, on_warning=on_warning,
    )

"""Turn whatever a caller passes into a checked float32 NCHW batch, or refuse it in one line.

Accepted items: PIL images, file paths (str / PathLike), encoded image bytes,
uint8 image arrays (HW, HWC or NHWC; they go through the manifest's
preprocessing), and already-preprocessed float32 arrays (CHW or NCHW).
Other array dtypes are refused rather than silently cast: a float64 array is
usually an un-normalised or wrongly-prepared image, and guessing hides that.
Every problem raises ``InvalidInputError`` (a ValueError) so a service can map
it to HTTP 400 and keep running.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from resnet_deploy.artifact import InputSpec, Preprocessing
from resnet_deploy.checks import check_int
from resnet_deploy.errors import InvalidInputError
from resnet_deploy.preprocess import (
    check_image_path,
    crop_array_hwc,
    crop_image,
    normalize,
    preprocess_image,
)


def as_items(images: Any) -> list[Any]:
    """A single item or a list/tuple of items -> list (a bare array stays one item)."""
    if isinstance(images, (list, tuple)):
        items = list(images)
        if not items:
            raise InvalidInputError("no images given; pass an image, a path, bytes or a list of them")
        return items
    if images is None:
        raise InvalidInputError("no images given (got None); pass an image, a path, bytes or a list of them")
    return [images]


def describe(item: Any) -> str | None:
    """A short name for an item in results (the file path), or None."""
    if isinstance(item, (str, os.PathLike)):
        return os.fspath(item)
    return None


def item_to_chw(
    item: Any, spec: InputSpec, pre: Preprocessing, max_pixels: int | None = None, *, fast: bool = False
) -> np.ndarray:
    """One item -> float32 array of shape [n, C, H, W] (n > 1 only for batched arrays).

    ``fast``: decode JPEG paths/bytes at a reduced scale (``preprocess.open_image_reduced``).
    """
    if isinstance(item, np.ndarray):
        return _array_to_nchw(item, spec, pre, max_pixels)
    if isinstance(item, (list, tuple)):
        raise InvalidInputError("nested lists are not accepted; pass a flat list of images or one NCHW array")
    if _is_pil(item) or isinstance(item, (str, bytes, bytearray, memoryview, os.PathLike)):
        return preprocess_image(item, pre, max_pixels, fast=fast)[None]
    raise InvalidInputError(
        f"cannot use a {type(item).__name__} as an image; pass a path, encoded bytes, a PIL image, "
        "a uint8 HWC array or a float32 CHW/NCHW array"
    )


def item_to_pixels(
    item: Any, spec: InputSpec, pre: Preprocessing, max_pixels: int | None = None, *, fast: bool = False
) -> np.ndarray:
    """One image item -> uint8 [n, S, S, 3] RGB centre crop(s) for a raw-pixel model (no normalising).

    ``fast``: decode JPEG paths/bytes at a reduced scale, as ``item_to_chw`` does.
    """
    if isinstance(item, np.ndarray) and item.dtype == np.uint8:
        if item.ndim == 4:
            if len(item) == 0:
                raise InvalidInputError(f"the image array of shape {item.shape} holds no images; pass at least one")
            return np.stack([crop_array_hwc(a, pre, max_pixels) for a in item])
        if item.ndim not in (2, 3):
            raise InvalidInputError(
                f"a uint8 image array must be HW, HWC or NHWC, got shape {item.shape}; pass HxWx3 pixels"
            )
        return crop_array_hwc(item, pre, max_pixels)[None]
    if _is_pil(item) or isinstance(item, (str, bytes, bytearray, memoryview, os.PathLike)):
        return crop_image(item, pre, max_pixels, fast=fast)[None]
    return item_to_chw(item, spec, pre, max_pixels)  # refuses the rest with the usual message


def is_image_item(item: Any) -> bool:
    """Whether ``item`` is an image (not a preprocessed float array): a raw-pixel model can take it."""
    if isinstance(item, np.ndarray):
        return item.dtype == np.uint8
    return _is_pil(item) or isinstance(item, (str, bytes, bytearray, memoryview, os.PathLike))


def _is_pil(obj: Any) -> bool:
    return type(obj).__module__.startswith("PIL.") and hasattr(obj, "mode") and hasattr(obj, "size")


def _array_to_nchw(arr: np.ndarray, spec: InputSpec, pre: Preprocessing, max_pixels: int | None) -> np.ndarray:
    if arr.dtype == np.uint8:  # raw pixels: the crops a raw-pixel model takes, normalised here
        return np.stack([normalize(p, pre) for p in item_to_pixels(arr, spec, pre, max_pixels)])
    if arr.dtype != np.float32:
        raise InvalidInputError(
            f"array dtype {arr.dtype} is not accepted; pass preprocessed float32 CHW/NCHW "
            "(e.g. x.astype(np.float32)) or a uint8 HWC image"
        )
    if arr.ndim == 3:
        arr = arr[None]
    check_batch(arr, spec)
    return arr


def convert_named(convert: Callable[[Any], np.ndarray], item: Any, index: int, total: int) -> np.ndarray:
    """``convert(item)``; an input error names the item ("item 3: ...") unless it already names its file."""
    try:
        return convert(item)
    except InvalidInputError as exc:
        if total == 1 or describe(item) is not None:  # path errors already name the file
            raise
        raise InvalidInputError(f"item {index}: {exc}") from None


def to_batch(
    items: Sequence[Any], spec: InputSpec, pre: Preprocessing, max_pixels: int | None = None, raw: bool = False
) -> np.ndarray:
    """Items -> one checked float32 NCHW batch (uint8 NHWC crops with ``raw``); errors name the failing item.

    ``max_pixels`` bounds each decoded image (None: $RESNET_DEPLOY_MAX_PIXELS or the default).
    """
    convert = functools.partial(item_to_pixels if raw else item_to_chw, spec=spec, pre=pre, max_pixels=max_pixels)
    parts = [convert_named(convert, item, i, len(items)) for i, item in enumerate(items)]
    x = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)
    if not raw:
        check_batch(x, spec)
    return x


def check_batch(x: Any, spec: InputSpec) -> np.ndarray:
    """Refuse anything but a finite float32 [N>=1, C, H, W] batch matching ``spec``."""
    if not isinstance(x, np.ndarray):
        raise InvalidInputError(
            f"expected a numpy float32 NCHW array, got {type(x).__name__}; pass np.asarray(x, np.float32)"
        )
    if x.dtype != np.float32:
        raise InvalidInputError(
            f"array dtype {x.dtype} is not accepted; the model takes float32 NCHW (x.astype(np.float32))"
        )
    want = [int(d) for d in spec.shape]
    shown = "x".join("N" if d < 0 else str(d) for d in want)
    if x.ndim != len(want):
        raise InvalidInputError(
            f"expected a rank-{len(want)} {spec.layout} array ({shown}), got shape {x.shape}; "
            "add the batch axis (x[None]) or pass images"
        )
    if x.shape[0] == 0:
        raise InvalidInputError("the batch is empty (N=0); pass at least one image")
    if want[1] > 0 and x.shape[1] != want[1]:
        raise InvalidInputError(
            f"expected {want[1]} channels in {spec.layout} layout ({shown}), got shape {x.shape}; "
            "an NHWC array must be transposed to NCHW"
        )
    for axis in range(2, len(want)):
        if want[axis] > 0 and x.shape[axis] != want[axis]:
            raise InvalidInputError(
                f"expected spatial size {want[2]}x{want[3]} ({shown}), got shape {x.shape}; "
                "preprocess with the artifact's resize/crop or pass images instead"
            )
    if not np.isfinite(x).all():
        bad = int(np.count_nonzero(~np.isfinite(x)))
        raise InvalidInputError(f"input contains {bad} NaN/Inf values; check the preprocessing")
    return x


def check_pixels(x: Any, spec: InputSpec) -> np.ndarray:
    """Refuse anything but uint8 [N>=1, S, S, 3] centre crops at the manifest's crop size."""
    s = int(spec.shape[2])
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != (s, s, 3) or not len(x):
        got = f"{x.dtype} {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__
        raise InvalidInputError(
            f"expected uint8 RGB crops of shape [N, {s}, {s}, 3], got {got}; "
            "resize and centre-crop as the manifest says (preprocess.crop_image)"
        )
    return x


def check_limit(n: int, limit: int | None) -> None:
    """Refuse a request larger than the configured ``max_items``."""
    if limit is not None and n > limit:
        raise InvalidInputError(f"batch of {n} images is above the limit of {limit}; split the request")


def check_top_k(top_k: Any, num_classes: int) -> int:
    """top_k as an int in [1, num_classes] (larger values are clipped)."""
    check_int(top_k, "top_k", hint="pass e.g. 5", error=InvalidInputError)
    return min(int(top_k), int(num_classes))


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


def expand_image_paths(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Files as given, folders expanded to their image files (recursive, sorted)."""
    from pathlib import Path

    out: list[str] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(
                str(f) for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
            )
            if not found:
                raise InvalidInputError(
                    f"folder '{p}' has no image files ({', '.join(IMAGE_SUFFIXES[:4])}, ...); "
                    "put images in it or pass image files"
                )
            out += found
        else:
            check_image_path(str(p))  # names the true reason: missing, loop, device, empty, unreadable
            out.append(str(p))
    if not out:
        raise InvalidInputError("no images given; pass image files or a folder")
    return out

"""Image -> model input, exactly as the manifest describes it.

One implementation shared by calibration (``resnet_deploy.data``) and serving
(``resnet_deploy.runtime``), so INT8 ranges are computed on the same pixels a
service feeds later. Depends only on numpy and Pillow (no torch), which is why it
sits at the package top level rather than inside ``data``: the runtime may not
import ``data``.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from typing import Any

import numpy as np

from resnet_deploy.checks import check_int
from resnet_deploy.errors import InvalidInputError
from resnet_deploy.paths import file_problem

_RESAMPLE = {"bilinear": 2, "bicubic": 3, "nearest": 0, "lanczos": 1}

# Largest decoded image accepted (width x height), so a hostile or accidental huge file
# (a 20000x20000 PNG decodes to 1.2 GB) is refused before it is decoded. 50 MP covers any
# camera photo; raise it with RESNET_DEPLOY_MAX_PIXELS or ``load(..., max_pixels=N)``.
DEFAULT_MAX_PIXELS = 50_000_000
MAX_PIXELS_ENV = "RESNET_DEPLOY_MAX_PIXELS"


def max_pixels(value: int | None = None) -> int:
    """The pixel bound in force: ``value`` if given, else $RESNET_DEPLOY_MAX_PIXELS, else the default."""
    if value is None:
        raw = os.environ.get(MAX_PIXELS_ENV, "").strip()
        if not raw:
            return DEFAULT_MAX_PIXELS
        try:
            value = int(raw)
        except ValueError:
            raise InvalidInputError(
                f"{MAX_PIXELS_ENV}='{raw}' is not an integer; set it to a pixel count like 50000000 or unset it"
            ) from None
    check_int(value, "max_pixels", hint="pass e.g. 50000000", error=InvalidInputError)
    return int(value)


def check_size(width: int, height: int, where: str, limit: int | None = None) -> None:
    """Refuse a zero-size image and one above the pixel bound, before any decoding or resizing."""
    if width < 1 or height < 1:
        raise InvalidInputError(f"{where} has zero size ({width}x{height} pixels); pass a non-empty image")
    bound = max_pixels(limit)
    if width * height > bound:
        raise InvalidInputError(
            f"{where} is {width}x{height} = {width * height:,} pixels, above the limit of {bound:,}; "
            f"downscale it or raise the limit ({MAX_PIXELS_ENV} or max_pixels=)"
        )


def open_image(src: Any, limit: int | None = None) -> Any:
    """Open a path, bytes or PIL image as an RGB PIL image (grayscale/RGBA/CMYK/16-bit converted).

    The header is read first: zero-size and over-``max_pixels`` images are refused
    before their pixels are decoded (PIL's own bomb check is replaced by ours).
    """
    return open_image_reduced(src, limit)[0]


Box = tuple[float, float, float, float]


def open_image_reduced(src: Any, limit: int | None = None, min_side: int | None = None) -> tuple[Any, Box | None]:
    """Like ``open_image``; with ``min_side``, a JPEG is decoded at a reduced scale (draft mode).

    libjpeg can decode at 1/2, 1/4 or 1/8 scale inside its inverse DCT, several
    times faster than a full decode followed by a resize. The scale picked is the
    smallest that keeps the shorter side >= ``min_side`` (the manifest's resize),
    so the later resize still only shrinks. Returns (image, box): ``box`` is the
    whole original picture in the decoded image's coordinates (pass it to
    ``resize_center_crop`` so the geometry matches the full decode), or None when
    nothing was reduced. The pixel bound applies to the declared (full) size.
    """
    from PIL import Image

    if isinstance(src, Image.Image):
        check_size(src.size[0], src.size[1], "the PIL image", limit)
        return to_rgb(src), None
    if isinstance(src, (bytes, bytearray, memoryview)):
        if len(src) == 0:
            raise InvalidInputError("image bytes are empty (0 bytes); send an encoded JPEG/PNG")
        fh: Any = io.BytesIO(bytes(src))
        where = "image bytes"
    elif isinstance(src, (str, os.PathLike)):
        path = os.fspath(src)
        check_image_path(path)
        fh = path
        where = f"image file '{path}'"
    else:
        raise InvalidInputError(
            f"cannot read an image from {type(src).__name__}; pass a path, bytes, PIL image or NCHW array"
        )
    img, box = _decode(fh, where, limit, min_side)
    return to_rgb(img), box


def check_image_path(path: str) -> None:
    """Refuse a path that is not a readable, non-empty regular file, naming the true reason."""
    problem = file_problem(path)
    if problem == "is a directory":
        raise InvalidInputError(f"'{path}' is a directory, not an image file; pass image files or the folder itself")
    if problem is not None:
        raise InvalidInputError(f"image file '{path}' {problem}; pass an existing JPEG/PNG file")
    if os.path.getsize(path) == 0:
        raise InvalidInputError(f"image file '{path}' is empty (0 bytes); pass a complete JPEG/PNG")


def _decode(fh: Any, where: str, limit: int | None, min_side: int | None = None) -> tuple[Any, Box | None]:
    """Header first (size checks), then the pixels; any decode failure is one InvalidInputError."""
    img = _open_header(fh, where, limit)
    try:
        check_size(img.size[0], img.size[1], where, limit)
        box = _draft(img, min_side) if min_side else None
        img.load()
    except InvalidInputError:
        img.close()
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        img.close()
        raise InvalidInputError(
            f"{where} is truncated or corrupt ({type(exc).__name__}); re-encode or replace the file"
        ) from None
    return img, box


def _open_header(fh: Any, where: str, limit: int | None) -> Any:
    """``Image.open`` (reads the header only), its failures as one-line InvalidInputErrors."""
    from PIL import Image, UnidentifiedImageError

    _quiet_pil_bomb_warning()
    try:
        return Image.open(fh)
    except Image.DecompressionBombError as exc:  # PIL refuses before we see the size: report it our way
        found = re.search(r"\((\d+) pixels\)", str(exc))
        pixels = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
        bound = min(max_pixels(limit), 2 * (Image.MAX_IMAGE_PIXELS or max_pixels(limit)))
        raise InvalidInputError(
            f"{where} has {pixels}, above the limit of {bound:,}; downscale it "
            f"(Pillow refuses images this large whatever {MAX_PIXELS_ENV} says)"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidInputError(
            f"{where} cannot be decoded as an image ({type(exc).__name__}); pass a JPEG/PNG/BMP/WebP/TIFF file"
        ) from None


def _draft(img: Any, min_side: int) -> Box | None:
    """Ask libjpeg for the smallest 1/2^k scale keeping the shorter side >= ``min_side``.

    Pillow's ``draft`` picks the largest scale s in (8, 4, 2, 1) with
    s <= min(W // w, H // h) for a requested (w, h), so requesting
    (min_side, min_side) leaves ceil(min(W, H) / s) >= min_side. Other formats
    (and JPEGs too small to reduce) are decoded whole.
    """
    w, h = img.size
    if getattr(img, "format", None) not in ("JPEG", "MPO") or min(w, h) < 2 * min_side:
        return None
    res = img.draft(img.mode, (min_side, min_side))
    if res is None or img.size == (w, h):
        return None
    return (0.0, 0.0, float(res[1][2]), float(res[1][3]))


_BOMB_WARNING_OFF = False


def _quiet_pil_bomb_warning() -> None:
    """Our bound (check_size) replaces PIL's DecompressionBombWarning; set the filter once
    (a filter, not catch_warnings, which is not thread-safe)."""
    global _BOMB_WARNING_OFF
    if not _BOMB_WARNING_OFF:
        from PIL import Image

        warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
        _BOMB_WARNING_OFF = True


def to_rgb(img: Any) -> Any:
    """Convert any PIL mode (L, LA, P, RGBA, CMYK, I;16, I, F) to 8-bit RGB."""
    from PIL import Image

    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)
        img = Image.fromarray(arr.astype(np.uint8), mode="L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg
    return img.convert("RGB")


def resize_center_crop(
    img: Any, resize: int, crop: int, interpolation: str = "bilinear", box: Box | None = None
) -> Any:
    """Resize the shorter side to ``resize`` then centre-crop ``crop`` x ``crop`` (torchvision style).

    ``box``: the region of ``img`` that holds the whole picture (from a reduced
    JPEG decode, see ``open_image_reduced``); the output size is computed from it
    so it matches what a full decode would give.
    """
    w, h = (img.size if box is None else (box[2] - box[0], box[3] - box[1]))
    resample = _RESAMPLE.get(interpolation, 2)
    if w <= h:
        nw, nh = resize, max(1, int(round(resize * h / w)))
    else:
        nw, nh = max(1, int(round(resize * w / h))), resize
    if box is not None:
        img = img.resize((nw, nh), resample=resample, box=box)
    elif (nw, nh) != (w, h):
        img = img.resize((nw, nh), resample=resample)
    left = int(round((nw - crop) / 2.0))
    top = int(round((nh - crop) / 2.0))
    return img.crop((left, top, left + crop, top + crop))


def normalize(hwc_uint8: np.ndarray, pre: Any) -> np.ndarray:
    """uint8 HWC RGB -> float32 CHW normalised with the manifest's scale/mean/std."""
    arr = hwc_uint8.astype(np.float32) * np.float32(pre.scale)
    if getattr(pre, "channel_order", "RGB") == "BGR":
        arr = arr[..., ::-1]
    mean = np.asarray(pre.mean, dtype=np.float32)
    std = np.asarray(pre.std, dtype=np.float32)
    arr = (arr - mean) / std
    return np.ascontiguousarray(arr.transpose(2, 0, 1), dtype=np.float32)


def crop_image(src: Any, pre: Any, limit: int | None = None, *, fast: bool = False) -> np.ndarray:
    """One image (path/bytes/PIL) -> resized + centre-cropped uint8 HWC RGB (before normalize).

    Split out so data sources can cache the small uint8 crop and normalise per batch.
    ``fast``: decode JPEGs at a reduced scale (see ``open_image_reduced``); close to,
    not bit-equal with, the exact path. Calibration keeps the exact default.
    """
    img, box = open_image_reduced(src, limit, int(pre.resize) if fast else None)
    img = resize_center_crop(img, pre.resize, pre.crop, pre.interpolation, box)
    return np.asarray(img, dtype=np.uint8)


def preprocess_image(src: Any, pre: Any, limit: int | None = None, *, fast: bool = False) -> np.ndarray:
    """One image (path/bytes/PIL) -> float32 CHW array, per ``pre`` (a manifest Preprocessing)."""
    return normalize(crop_image(src, pre, limit, fast=fast), pre)


def preprocess_array_hwc(arr: np.ndarray, pre: Any, limit: int | None = None) -> np.ndarray:
    """A raw uint8 HWC (or HW) image array -> float32 CHW, through the same PIL path."""
    return normalize(crop_array_hwc(arr, pre, limit), pre)


def crop_array_hwc(arr: np.ndarray, pre: Any, limit: int | None = None) -> np.ndarray:
    """A raw uint8 HWC (or HW) image array -> resized + centre-cropped uint8 HWC RGB."""
    from PIL import Image

    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    if arr.ndim != 3 or arr.shape[-1] not in (1, 3, 4):
        raise InvalidInputError(
            f"expected an HWC image array with 1, 3 or 4 channels, got shape {arr.shape}; pass HxWx3 uint8 pixels"
        )
    check_size(int(arr.shape[1]), int(arr.shape[0]), f"the image array of shape {arr.shape}", limit)
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    img = to_rgb(Image.fromarray(np.ascontiguousarray(arr.astype(np.uint8))))
    img = resize_center_crop(img, pre.resize, pre.crop, pre.interpolation)
    return np.asarray(img, dtype=np.uint8)


def ten_crop(img: Any, resize: int, crop: int, interpolation: str = "bilinear") -> list[Any]:
    """The 10-crop evaluation: 4 corners + centre, and their horizontal flips."""
    from PIL import Image

    w, h = img.size
    resample = _RESAMPLE.get(interpolation, 2)
    if w <= h:
        nw, nh = resize, max(1, int(round(resize * h / w)))
    else:
        nw, nh = max(1, int(round(resize * w / h))), resize
    img = img.resize((nw, nh), resample=resample)
    boxes = [
        (0, 0),
        (nw - crop, 0),
        (0, nh - crop),
        (nw - crop, nh - crop),
        (int(round((nw - crop) / 2)), int(round((nh - crop) / 2))),
    ]
    crops = [img.crop((x, y, x + crop, y + crop)) for x, y in boxes]
    return crops + [c.transpose(Image.FLIP_LEFT_RIGHT) for c in crops]

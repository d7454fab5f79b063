""".npy / .npz sources: preprocessed float32 NCHW, or raw uint8 images preprocessed here.

Two layouts are accepted and nothing else, so a wrongly exported array fails
loudly instead of calibrating INT8 ranges on garbage:
  * float32 [N, 3, crop, crop]: already preprocessed with the manifest's recipe;
  * uint8 [N, H, W, 3] or [N, H, W]: raw RGB/grayscale images, which go through
    ``preprocess.preprocess_array_hwc`` exactly like decoded image files.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from resnet_deploy import preprocess
from resnet_deploy.data.base import DataSource, WarningHandler
from resnet_deploy.errors import DataError

IMAGE_KEYS = ("images", "x")
LABEL_KEYS = ("labels", "y")


def _expected(pre: Any) -> str:
    s = int(pre.crop)
    return f"float32 [N,3,{s},{s}] (preprocessed NCHW) or uint8 [N,H,W,3] / [N,H,W] (raw images)"


def _describe(arr: np.ndarray) -> str:
    return f"{arr.dtype} [{','.join(str(d) for d in arr.shape)}]"


def check_images(arr: np.ndarray, pre: Any, name: str) -> bool:
    """Validate layout/dtype/finiteness; True if ``arr`` is raw uint8 images, False if preprocessed."""
    s = int(pre.crop)
    if arr.dtype == np.float32 and arr.ndim == 4 and arr.shape[1:] == (3, s, s):
        bad = _count_nonfinite(arr)
        if bad:
            raise DataError(
                f"{name} contains {bad} NaN/Inf value(s); preprocessed inputs must be finite "
                "(re-create the array, e.g. check the normalisation)"
            )
        return False
    if arr.dtype == np.uint8 and (arr.ndim == 3 or (arr.ndim == 4 and arr.shape[-1] == 3)):
        if arr.shape[1] < 1 or arr.shape[2] < 1:
            raise DataError(f"{name} has empty images ({_describe(arr)}); expected {_expected(pre)}")
        return True
    hint = ""
    if arr.dtype.kind == "f" and arr.dtype != np.float32:
        hint = " (convert with .astype(np.float32))"
    elif arr.ndim == 4 and arr.shape[1] == 3 and arr.dtype == np.float32:
        hint = f" (the model's input is {s}x{s}; preprocess at that size)"
    elif arr.ndim == 4 and arr.shape[1] == 3 and arr.dtype == np.uint8:
        hint = " (raw uint8 images must be NHWC: transpose(0, 2, 3, 1))"
    raise DataError(f"{name} is {_describe(arr)}; expected {_expected(pre)}{hint}")


def _count_nonfinite(arr: np.ndarray, chunk: int = 256) -> int:
    """NaN/Inf count, chunked so a memory-mapped file is not loaded at once."""
    return sum(int((~np.isfinite(arr[i : i + chunk])).sum()) for i in range(0, len(arr), chunk))


def check_labels(labels: Any, n: int, name: str) -> np.ndarray:
    """Labels must be n non-negative integers."""
    lab = np.asarray(labels)
    if lab.ndim != 1 or lab.shape[0] != n:
        raise DataError(f"{name}: labels have shape {list(lab.shape)} but there are {n} images; expected [{n}]")
    if lab.dtype.kind not in "iu":
        if lab.dtype.kind == "f" and np.all(np.isfinite(lab)) and np.all(lab == np.round(lab)):
            lab = lab.astype(np.int64)
        else:
            raise DataError(f"{name}: labels must be integers (class indices), got {lab.dtype}; store them as whole numbers")
    if n and lab.min() < 0:
        raise DataError(
            f"{name}: labels must be class indices >= 0, found {int(lab.min())}; number the classes from 0"
        )
    return lab.astype(np.int64)


class ArraySource(DataSource):
    """Images held in a numpy array (possibly memory-mapped)."""

    def __init__(
        self,
        name: str,
        images: np.ndarray,
        pre: Any,
        *,
        labels: np.ndarray | None = None,
        classes: list[str] | None = None,
        split: str = "calib",
        limit: int | None = None,
        on_warning: WarningHandler | None = None,
    ) -> None:
        self._raw = check_images(images, pre, name)
        self._images = images
        if labels is not None:
            labels = check_labels(labels, len(images), name)
        super().__init__(
            name, pre, len(images), labels=labels, classes=classes,
            split=split, limit=limit, on_warning=on_warning,
        )

    def _load(self, i: int) -> np.ndarray:
        item = np.asarray(self._images[i])
        if not self._raw:
            return np.array(item, dtype=np.float32)
        # the shared path (PIL resize + centre crop); batches() normalises
        return preprocess.crop_array_hwc(item, self.pre)

    def _fingerprint(self, h: Any, indices: list[int]) -> None:
        h.update(f"{self._images.dtype}{self._images.shape[1:]}".encode())
        for i in indices:
            h.update(np.ascontiguousarray(self._images[i]).tobytes())


def open_array_file(
    path: Path,
    pre: Any,
    *,
    split: str,
    limit: int | None,
    on_warning: WarningHandler | None,
) -> ArraySource:
    """Open a .npy (images only) or .npz (images/x + optional labels/y) file."""
    name = f"'{path}'"
    labels = None
    try:
        if path.suffix.lower() == ".npy":
            images = np.load(path, mmap_mode="r", allow_pickle=False)
        else:
            with np.load(path, allow_pickle=False) as z:
                keys = list(z.keys())
                ik = next((k for k in IMAGE_KEYS if k in z), None)
                if ik is None:
                    raise DataError(
                        f"{name} has no 'images' or 'x' array (found: {', '.join(keys) or 'nothing'}); "
                        "save it with np.savez(path, images=..., labels=...)"
                    )
                images = z[ik]
                lk = next((k for k in LABEL_KEYS if k in z), None)
                labels = z[lk] if lk is not None else None
    except DataError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(
            f"{name} cannot be read as a numpy array ({type(exc).__name__}: {str(exc)[:80]}); "
            "save it with np.save / np.savez (no pickled objects)"
        ) from exc
    return ArraySource(
        name, images, pre, labels=labels, split=split, limit=limit, on_warning=on_warning,
        classes=None,
    )

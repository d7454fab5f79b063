"""DataSource: anything that yields preprocessed float32 NCHW batches (+ labels when known).

Subclasses only say how to load item ``i`` (``_load``) and how to fingerprint
their content (``_fingerprint``). The base class owns the rest: batching, the
``limit`` subset, skipping items that turn out unusable while decoding (one
counted warning per source), and a cache of decoded uint8 crops so a second
pass (entropy calibration, then drift evaluation) never decodes an image twice.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from resnet_deploy import preprocess
from resnet_deploy.checks import check_int
from resnet_deploy.errors import DataError

WarningHandler = Callable[[str], None]

# Decoded crops are kept up to this many bytes (uint8 HWC, crop x crop x 3 each):
# 512 images at 224 px are ~77 MB; a 50k-image eval folder is not cached.
CACHE_BYTES = 1 << 30
_SUBSET_SEED = 0


class DataWarning(UserWarning):
    """Data was usable but not exactly as asked (skipped files, fewer images than requested)."""


class Unusable(Exception):
    """Raised by ``_load`` for one item that cannot be used (corrupt/truncated image)."""


def default_warning(message: str) -> None:
    """The default ``on_warning``: a Python warning (pytest and logging can capture it)."""
    warnings.warn(message, DataWarning, stacklevel=3)


def pick_subset(n: int, limit: int | None) -> list[int]:
    """Order in which items are used: a seeded spread of ``limit`` items first, then the rest.

    A plain prefix of a class-sorted folder would calibrate on the first classes
    only; a seeded random subset (kept in original order) is representative and
    reproducible. The remaining items follow so unusable ones can be replaced.
    """
    if limit is None or limit >= n:
        return list(range(n))
    perm = np.random.default_rng(_SUBSET_SEED).permutation(n)
    return sorted(int(i) for i in perm[:limit]) + [int(i) for i in perm[limit:]]


def check_limit(limit: int | None) -> None:
    if limit is None:
        return
    check_int(limit, "the number of images", hint="pass e.g. 512, or None for all", error=DataError)


class DataSource:
    """Preprocessed images (float32 NCHW, the manifest's preprocessing) with optional labels."""

    def __init__(
        self,
        name: str,
        pre: Any,
        count: int,
        *,
        labels: np.ndarray | None = None,
        classes: list[str] | None = None,
        split: str = "calib",
        limit: int | None = None,
        on_warning: WarningHandler | None = None,
        skipped: Sequence[tuple[str, str]] = (),
    ) -> None:
        check_limit(limit)
        self.name = name
        self.pre = pre
        self.split = split
        self.classes = classes
        self._labels = None if labels is None else np.asarray(labels, dtype=np.int64)
        self._warn = on_warning or default_warning
        self._skipped: list[tuple[str, str]] = list(skipped)  # (item name, reason)
        self._reported = False
        self._bad: set[int] = set()
        self._cache: dict[int, np.ndarray] = {}
        self._cache_bytes = 0
        self._sha256: str | None = None
        if count == 0:
            raise DataError(f"{name} contains no usable images; point it at images or a .npy/.npz file")
        self._order = pick_subset(count, limit)
        self._target = count if limit is None else min(int(limit), count)
        if limit is not None and limit > count:
            self._warn(f"requested {limit} {split} images but {name} has {count}; using all {count}")

    # -- what subclasses provide ------------------------------------------
    def _load(self, i: int) -> np.ndarray:
        """Item ``i`` as a uint8 HWC crop (crop x crop x 3) or a float32 CHW tensor."""
        raise NotImplementedError

    def _item_name(self, i: int) -> str:
        return f"#{i}"

    def _fingerprint(self, h: Any, indices: list[int]) -> None:
        """Feed the content of ``indices`` into the hash ``h``."""
        raise NotImplementedError

    # -- public API --------------------------------------------------------
    @property
    def has_labels(self) -> bool:
        return self._labels is not None

    @property
    def shape(self) -> tuple[int, int, int]:
        """One item's shape (C, H, W)."""
        return (3, int(self.pre.crop), int(self.pre.crop))

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """(name, reason) for every item skipped so far (known after the first full pass)."""
        return list(self._skipped)

    @property
    def sha256(self) -> str:
        """Stable fingerprint of the selected data (content + labels, not the preprocessing)."""
        if self._sha256 is None:
            h = hashlib.sha256()
            chosen = sorted(self._order[: self._target])
            self._fingerprint(h, chosen)
            if self._labels is not None:
                h.update(np.ascontiguousarray(self._labels[chosen]).tobytes())
            self._sha256 = h.hexdigest()
        return self._sha256

    def __len__(self) -> int:
        return min(self._target, len(self._order) - len(self._bad))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, n={len(self)}, labels={self.has_labels})"

    def batches(self, batch_size: int = 32) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """Yield (x float32 [B,3,S,S], labels int64 [B] or None); items decode lazily here."""
        check_int(batch_size, "batch size", hint="pass e.g. 32", error=DataError)
        xs: list[np.ndarray] = []
        idx: list[int] = []
        for i, arr in self._usable():
            xs.append(preprocess.normalize(arr, self.pre) if arr.dtype == np.uint8 else arr)
            idx.append(i)
            if len(xs) == batch_size:
                yield self._batch(xs, idx)
                xs, idx = [], []
        if xs:
            yield self._batch(xs, idx)

    def arrays(self) -> tuple[np.ndarray, np.ndarray | None]:
        """All selected items at once: (x [N,3,S,S] float32, labels [N] or None)."""
        xs, ys = [], []
        for x, y in self.batches(256):
            xs.append(x)
            if y is not None:
                ys.append(y)
        x = np.concatenate(xs) if xs else np.zeros((0, *self.shape), np.float32)
        return x, (np.concatenate(ys) if self.has_labels else None)

    def labels_fit(self, labels: np.ndarray | None, num_classes: int) -> bool:
        """Whether ``labels`` index the model's own classes, so top-1 against them means something.

        Not when a label is out of range, or when the source names its classes and
        their count differs from the model's (the 10 sample classes on a 1000-class
        ImageNet head): drift then falls back to agreement with FP32.
        """
        if labels is None:
            return False
        if labels.size and int(labels.max()) >= num_classes:
            return False
        return not (self.classes and len(self.classes) != num_classes)

    # -- internals ---------------------------------------------------------
    def _batch(self, xs: list[np.ndarray], idx: list[int]) -> tuple[np.ndarray, np.ndarray | None]:
        x = np.stack(xs).astype(np.float32, copy=False)
        y = None if self._labels is None else self._labels[idx]
        return x, y

    def _usable(self) -> Iterator[tuple[int, np.ndarray]]:
        """(index, loaded item) to use, replacing unusable items from the unselected rest."""
        good = 0
        for i in self._order:
            if good >= self._target:
                break
            if i in self._bad:
                continue
            arr = self._cache.get(i)
            if arr is None:
                try:
                    arr = self._load(i)
                except Unusable as exc:
                    self._bad.add(i)
                    self._skipped.append((self._item_name(i), str(exc)))
                    continue
                if arr.dtype == np.uint8 and self._cache_bytes + arr.nbytes <= CACHE_BYTES:
                    self._cache[i] = arr
                    self._cache_bytes += arr.nbytes
            good += 1
            yield i, arr
        self._report(good)

    def _report(self, good: int) -> None:
        if good == 0:
            reasons = "; ".join(f"{n}: {r}" for n, r in self._skipped[:3])
            raise DataError(
                f"{self.name} has no usable images (all {len(self._skipped)} skipped: {reasons}); "
                "replace the corrupt files or pass other data"
            )
        if self._skipped and not self._reported:
            self._reported = True
            names = ", ".join(n for n, _ in self._skipped[:3])
            more = "" if len(self._skipped) <= 3 else f", and {len(self._skipped) - 3} more"
            self._warn(
                f"skipped {len(self._skipped)} unreadable file(s) in {self.name} "
                f"(not an image, corrupt or truncated: {names}{more}); using {good}"
            )

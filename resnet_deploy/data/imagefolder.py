"""Image directories: class sub-folders (labelled, torchvision ImageFolder layout) or flat.

Opening a folder only lists files; images are decoded lazily, batch by batch,
through ``preprocess.crop_image`` (the code the runtime uses). Files that are not
images, or that fail to decode (corrupt, truncated), are skipped and reported in
one counted warning after the first pass; only a folder with nothing usable is
an error.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from resnet_deploy import preprocess
from resnet_deploy.data.base import DataSource, Unusable, WarningHandler
from resnet_deploy.errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".gif")


def _visible(name: str) -> bool:
    return not name.startswith(".")


def _walk_files(d: Path, seen: set[tuple[int, int]] | None = None) -> list[Path]:
    """All non-hidden files under ``d``, recursively, in a stable (sorted) order.

    Directory symlinks are followed (a data set may be assembled from links), but
    each real directory and each real file is visited once (by device + inode), so
    a loop such as ``sub/up -> ..`` neither recurses nor counts an image twice.
    """
    seen = set() if seen is None else seen
    out: list[Path] = []
    for root, dirs, files in os.walk(d, followlinks=True):
        keep = []
        for x in sorted(x for x in dirs if _visible(x)):
            key = _file_key(Path(root) / x)
            if key is not None and key not in seen:
                seen.add(key)
                keep.append(x)
        dirs[:] = keep
        for f in sorted(x for x in files if _visible(x)):
            key = _file_key(Path(root) / f)  # None: dangling link, kept so it is reported as unusable
            if key is not None and key in seen:
                continue
            if key is not None:
                seen.add(key)
            out.append(Path(root) / f)
    return out


def _file_key(p: Path) -> tuple[int, int] | None:
    """(device, inode) of what ``p`` points to; None for a dangling link or a loop."""
    try:
        st = p.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def scan_folder(root: Path) -> tuple[list[Path], list[int] | None, list[str] | None, list[Path]]:
    """(image files, labels or None, class names or None, non-image files) for ``root``."""
    entries = sorted(p for p in root.iterdir() if _visible(p.name))
    class_dirs = [p for p in entries if p.is_dir()]
    if class_dirs:
        classes = [p.name for p in class_dirs]
        files: list[Path] = []
        labels: list[int] = []
        others: list[Path] = []
        seen = {k for k in (_file_key(d) for d in [root, *class_dirs]) if k is not None}
        for label, d in enumerate(class_dirs):
            for f in _walk_files(d, seen):
                if f.suffix.lower() in IMAGE_EXTENSIONS:
                    files.append(f)
                    labels.append(label)
                else:
                    others.append(f)
        return files, labels, classes, others
    images = [p for p in entries if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
    others = [p for p in entries if p.is_file() and p.suffix.lower() not in IMAGE_EXTENSIONS]
    return images, None, None, others


class ImageFolderSource(DataSource):
    """Images in a directory; labels from sorted class sub-folder names when present."""

    def __init__(
        self,
        root: Path,
        pre: Any,
        *,
        split: str = "calib",
        limit: int | None = None,
        on_warning: WarningHandler | None = None,
    ) -> None:
        self.root = root
        name = f"'{root}'"
        try:
            files, labels, classes, others = scan_folder(root)
        except OSError as exc:
            raise DataError(f"cannot list {name} ({exc.strerror}); check the path and permissions") from exc
        if not files and not others:
            raise DataError(
                f"{name} is empty; put images in it (one sub-folder per class for labels) "
                "or pass 'sample' for the built-in set"
            )
        if not files:
            example = others[0].name
            raise DataError(
                f"{name} has no image files ({len(others)} other file(s), e.g. '{example}'); "
                f"supported: {', '.join(IMAGE_EXTENSIONS)}"
            )
        self.files = files
        skipped = [(self._rel(p), "not an image file") for p in others]
        super().__init__(
            name, pre, len(files),
            labels=None if labels is None else np.asarray(labels, dtype=np.int64),
            classes=classes, split=split, limit=limit, on_warning=on_warning, skipped=skipped,
        )

    def _rel(self, p: Path) -> str:
        return p.relative_to(self.root).as_posix()

    def _item_name(self, i: int) -> str:
        return self._rel(self.files[i])

    def _load(self, i: int) -> np.ndarray:
        try:
            return preprocess.crop_image(self.files[i], self.pre)
        except Exception as exc:  # any decode failure skips this one file
            raise Unusable(f"{type(exc).__name__}: {str(exc)[:120]}") from exc

    def _fingerprint(self, h: Any, indices: list[int]) -> None:
        for i in indices:
            p = self.files[i]
            h.update(self._rel(p).encode() + b"\0")
            try:
                h.update(p.read_bytes())
            except OSError:
                h.update(b"<unreadable>")

"""open_source: one entry point from a user's data spec to a DataSource."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from resnet_deploy.data.base import DataSource, WarningHandler
from resnet_deploy.errors import DataError
from resnet_deploy.paths import file_problem

SPLITS = ("train", "calib", "eval")
ARRAY_EXTENSIONS = (".npy", ".npz")


def open_source(
    spec: Any,
    pre: Any,
    *,
    split: str = "calib",
    limit: int | None = None,
    on_warning: WarningHandler | None = None,
) -> DataSource:
    """Open calibration/evaluation data, preprocessed with ``pre`` (a manifest Preprocessing).

    ``spec`` is "sample" (the built-in set; ``split`` picks train/calib/eval), a
    directory of images (class sub-folders give labels), a .npy/.npz file, an
    in-memory numpy array, or an existing DataSource (returned as is).
    ``limit`` caps the number of images (a seeded, representative subset); asking
    for more than exist uses all of them and says so through ``on_warning``
    (default: a ``DataWarning``). A directory literally named "sample" is opened
    with "./sample".
    """
    if split not in SPLITS:
        raise DataError(f"unknown split '{split}'; choose one of: {', '.join(SPLITS)}")
    if isinstance(spec, DataSource):
        return spec
    if isinstance(spec, np.ndarray):
        from resnet_deploy.data.arrays import ArraySource

        return ArraySource("array", spec, pre, split=split, limit=limit, on_warning=on_warning)
    if not isinstance(spec, (str, os.PathLike)):
        raise DataError(
            f"cannot use a {type(spec).__name__} as data; pass 'sample', an image folder or a .npy/.npz file"
        )
    if isinstance(spec, str) and spec.strip().lower() == "sample":
        from resnet_deploy.data.sample import open_sample

        return open_sample(pre, split=split, limit=limit, on_warning=on_warning)
    path = Path(spec).expanduser()
    problem = None if path.is_dir() else file_problem(path)
    if problem is not None:
        raise DataError(
            f"data '{spec}' {problem}; pass 'sample' (built-in), an image folder or a .npy/.npz file"
        )
    if path.is_dir():
        from resnet_deploy.data.imagefolder import ImageFolderSource

        return ImageFolderSource(path, pre, split=split, limit=limit, on_warning=on_warning)
    if path.suffix.lower() in ARRAY_EXTENSIONS:
        from resnet_deploy.data.arrays import open_array_file

        return open_array_file(path, pre, split=split, limit=limit, on_warning=on_warning)
    raise DataError(
        f"data file '{spec}' has an unsupported type '{path.suffix or '(none)'}'; "
        "pass an image folder, a .npy/.npz file or 'sample'"
    )

"""Eval data for bench drift: loading (center / ten-crop) and running a backend over it.

The numbers themselves come from ``resnet_deploy.metrics.drift_metrics`` (the same
``Drift`` record quantize writes): top-1/top-5 when the data has labels; vs the
reference's scores: top-1 agreement, max and mean absolute error, cosine
similarity per image (mean and worst). Accuracies and agreement are fractions
in [0, 1]; budgets (``max_drop``) are in percentage points, like ``quantize
--max-drop``. A bench row stores the record with its context (``drift_row``).

Eval modes: ``center`` feeds the manifest's preprocessing (resize + centre crop);
``ten-crop`` averages the softmax over the 4 corner + centre crops and their
mirrors (``preprocess.ten_crop``). Crops and flips commute with per-channel
normalisation, so the ten crops are cut from the normalised central
``resize x resize`` square; for square images this is exactly
``preprocess.ten_crop`` (for others, corners come from the central square).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from resnet_deploy.artifact import Manifest, Preprocessing
from resnet_deploy.data.evalset import EvalSet
from resnet_deploy.errors import DataError, ResNetDeployError
from resnet_deploy.metrics import Drift, softmax
from resnet_deploy.runtime.base import Runner

EVAL_MODES = ("center", "ten-crop")


def drift_row(d: Drift, reference: str, data: EvalSet) -> dict[str, Any]:
    """A bench row's drift: the ``Drift`` record plus which reference and eval data it was measured on."""
    return dict(d.to_dict(), reference=reference, eval_data=data.name, eval_mode=data.mode)


def ten_crop_tensor(x: np.ndarray, crop: int) -> np.ndarray:
    """[N,3,R,R] normalised squares -> [N,10,3,crop,crop] like ``preprocess.ten_crop``."""
    n, _, h, w = x.shape
    cx, cy = int(round((w - crop) / 2)), int(round((h - crop) / 2))
    boxes = [(0, 0), (w - crop, 0), (0, h - crop), (w - crop, h - crop), (cx, cy)]
    crops = [x[:, :, t:t + crop, left:left + crop] for left, t in boxes]
    crops += [c[..., ::-1] for c in crops]
    return np.ascontiguousarray(np.stack(crops, axis=1))


def load_eval_set(
    spec: str, manifest: Manifest, mode: str = "center", limit: int | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> EvalSet:
    """Open ``spec`` with the manifest's preprocessing (split "eval") and keep it in memory."""
    from resnet_deploy.data import open_source

    if mode not in EVAL_MODES:
        raise ResNetDeployError(f"unknown eval mode '{mode}'; choose center or ten-crop")
    pre: Preprocessing = manifest.preprocessing
    if mode == "ten-crop":
        pre = dataclasses.replace(pre, crop=pre.resize)
    src = open_source(spec, pre, split="eval", limit=limit, on_warning=on_warning)
    x, labels = src.arrays()
    if not src.labels_fit(labels, manifest.model.num_classes):
        labels = None  # another label space (e.g. the 10 sample classes on a 1000-class head): agreement only
    if mode == "ten-crop":
        if x.shape[-1] != pre.resize:
            raise DataError(
                f"ten-crop needs images, but {src.name} holds preprocessed {x.shape[-1]}px tensors; "
                "use --eval-mode center"
            )
        x = ten_crop_tensor(x, manifest.preprocessing.crop)
    return EvalSet(x=x, labels=labels, name=src.name, mode=mode, sha256=src.sha256)


def _chunks(n: int, size: int) -> Iterator[slice]:
    for i in range(0, n, size):
        yield slice(i, min(n, i + size))


def collect_outputs(runner: Runner, data: EvalSet, batch_size: int = 32) -> np.ndarray:
    """Scores for every eval image: logits (center) or mean softmax over 10 crops."""
    bs = min(batch_size, runner.max_batch or batch_size)
    if data.mode == "center":
        return np.concatenate([runner.infer(data.x[s]) for s in _chunks(data.n, bs)]).astype(np.float32)
    per = max(1, bs // 10)
    outs = []
    for s in _chunks(data.n, per):
        part = data.x[s]
        flat = part.reshape(-1, *part.shape[2:])
        logits = runner.infer(np.ascontiguousarray(flat))
        probs = softmax(logits.reshape(part.shape[0], 10, -1)).astype(np.float64)
        outs.append(probs.mean(axis=1).astype(np.float32))
    return np.concatenate(outs)

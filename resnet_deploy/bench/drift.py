"""Accuracy drift of a backend against the FP32 reference on the same eval images.

Metrics: top-1/top-5 when the data has labels; vs the reference's logits: top-1
agreement, max and mean absolute logit error, cosine similarity per image (mean
and worst). Accuracies and agreement are fractions in [0, 1]; budgets
(``max_drop``) are in percentage points, like ``quantize --max-drop``.

Eval modes: ``center`` feeds the manifest's preprocessing (resize + centre crop);
``ten-crop`` averages the softmax over the 4 corner + centre crops and their
mirrors (``preprocess.ten_crop``). Crops and flips commute with per-channel
normalisation, so the ten crops are cut from the normalised central
``resize x resize`` square; for square images this is exactly
``preprocess.ten_crop`` (for others, corners come from the central square).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from resnet_deploy.artifact import Manifest, Preprocessing
from resnet_deploy.errors import DataError, ResNetDeployError
from resnet_deploy.runtime.base import Runner

EVAL_MODES = ("center", "ten-crop")


@dataclass
class DriftResult:
    """How far one backend's outputs are from the reference's on ``n`` images."""

    n: int
    labelled: bool
    agreement: float
    max_abs: float
    mean_abs: float
    cosine_mean: float
    cosine_min: float
    top1: float | None = None
    top5: float | None = None
    ref_top1: float | None = None
    ref_top5: float | None = None
    reference: str | None = None
    eval_data: str | None = None
    eval_mode: str = "center"

    @property
    def drop_points(self) -> float:
        """Top-1 drop vs the reference in percentage points (agreement loss when unlabelled)."""
        if self.labelled and self.top1 is not None and self.ref_top1 is not None:
            return 100.0 * (self.ref_top1 - self.top1)
        return 100.0 * (1.0 - self.agreement)

    def to_dict(self) -> dict[str, Any]:
        return dict(asdict(self), drop_points=self.drop_points)


def topk_accuracy(logits: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Fraction of rows whose label is among the ``k`` highest scores."""
    k = min(k, logits.shape[1])
    top = np.argpartition(-logits, k - 1, axis=1)[:, :k]
    return float(np.mean(np.any(top == labels[:, None], axis=1)))


def drift_metrics(
    ref: np.ndarray, out: np.ndarray, labels: np.ndarray | None = None
) -> DriftResult:
    """Compare ``out`` to ``ref`` (both [N, C] scores) and to ``labels`` when given."""
    ref = np.asarray(ref, dtype=np.float64)
    out = np.asarray(out, dtype=np.float64)
    if ref.shape != out.shape or ref.ndim != 2 or ref.shape[0] == 0:
        raise ValueError(f"cannot compare outputs of shapes {ref.shape} and {out.shape}")
    diff = np.abs(out - ref)
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(out, axis=1)
    cos = np.where(norms > 0, np.sum(ref * out, axis=1) / np.where(norms > 0, norms, 1.0), 1.0)
    res = DriftResult(
        n=int(ref.shape[0]),
        labelled=labels is not None,
        agreement=float(np.mean(ref.argmax(1) == out.argmax(1))),
        max_abs=float(diff.max()),
        mean_abs=float(diff.mean()),
        cosine_mean=float(cos.mean()),
        cosine_min=float(cos.min()),
    )
    if labels is not None:
        labels = np.asarray(labels, dtype=np.int64)
        res.top1, res.top5 = topk_accuracy(out, labels, 1), topk_accuracy(out, labels, 5)
        res.ref_top1, res.ref_top5 = topk_accuracy(ref, labels, 1), topk_accuracy(ref, labels, 5)
    return res


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def ten_crop_tensor(x: np.ndarray, crop: int) -> np.ndarray:
    """[N,3,R,R] normalised squares -> [N,10,3,crop,crop] like ``preprocess.ten_crop``."""
    n, _, h, w = x.shape
    cx, cy = int(round((w - crop) / 2)), int(round((h - crop) / 2))
    boxes = [(0, 0), (w - crop, 0), (0, h - crop), (w - crop, h - crop), (cx, cy)]
    crops = [x[:, :, t:t + crop, left:left + crop] for left, t in boxes]
    crops += [c[..., ::-1] for c in crops]
    return np.ascontiguousarray(np.stack(crops, axis=1))


@dataclass
class EvalSet:
    """Eval inputs held in memory once and fed to every backend identically."""

    x: np.ndarray  # [N,3,S,S] (center) or [N,10,3,S,S] (ten-crop)
    labels: np.ndarray | None
    name: str
    mode: str
    sha256: str = ""

    @property
    def n(self) -> int:
        return int(self.x.shape[0])


def load_eval_set(
    spec: str, manifest: Manifest, mode: str = "center", limit: int | None = None,
    on_warning: Any = None,
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
        probs = softmax(logits.reshape(part.shape[0], 10, -1).astype(np.float64))
        outs.append(probs.mean(axis=1).astype(np.float32))
    return np.concatenate(outs)

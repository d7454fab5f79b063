"""Output metrics shared by quantize, bench, runtime and serve: one definition, one set of names.

Accuracies and agreement are fractions in [0, 1]; budgets (``max_drop``) are in
percentage points. ``Drift`` is also the manifest's record of a drift
measurement (``quantization.<target>.drift`` and bench rows), so the key names
below are the ones written to disk. Schema-1 artifacts written before the names
were unified used ``cosine``/``top1_fp32``/``top5_fp32``; ``Drift.from_dict``
still reads them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

# Old (quantize-side) key -> the one name used everywhere now.
LEGACY_DRIFT_KEYS = {"cosine": "cosine_mean", "top1_fp32": "ref_top1", "top5_fp32": "ref_top5"}


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax, computed in float64 and returned as float32."""
    z = np.asarray(x, dtype=np.float64)
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=axis, keepdims=True)).astype(np.float32)


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Fraction of rows whose label is among the ``k`` highest scores."""
    k = min(int(k), scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return float(np.mean(np.any(top == np.asarray(labels)[:, None], axis=1)))


def topk_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices (int64) of the ``k`` highest scores per row, highest first; ties keep the lower index.

    A full stable sort rather than ``argpartition``: which of several tied
    classes makes the top-k must not depend on numpy's selection algorithm
    (clients compare answers across backends), and C is at most a few thousand.
    """
    scores = np.asarray(scores)
    k = min(int(k), scores.shape[1])
    return np.argsort(-scores, axis=1, kind="stable")[:, :k].astype(np.int64)


def agreement(ref: np.ndarray, out: np.ndarray) -> float:
    """Fraction of rows whose top-1 class is the same in both."""
    return float(np.mean(np.asarray(ref).argmax(1) == np.asarray(out).argmax(1)))


def cosine_per_row(ref: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Cosine similarity of each row pair (1.0 where either row is all zeros)."""
    ref = np.asarray(ref, dtype=np.float64)
    out = np.asarray(out, dtype=np.float64)
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(out, axis=1)
    safe = np.where(norms > 0, norms, 1.0)
    return np.where(norms > 0, np.sum(ref * out, axis=1) / safe, 1.0)


@dataclass
class Drift:
    """How far one model's outputs are from a reference's on ``n`` images."""

    n: int
    labelled: bool
    agreement: float
    max_abs: float
    cosine_mean: float
    mean_abs: float | None = None  # None only in records written before it was measured
    cosine_min: float | None = None
    top1: float | None = None
    top5: float | None = None
    ref_top1: float | None = None
    ref_top5: float | None = None

    @property
    def drop_points(self) -> float:
        """Top-1 drop vs the reference in percentage points (disagreement when unlabelled)."""
        if self.labelled and self.top1 is not None and self.ref_top1 is not None:
            return 100.0 * (self.ref_top1 - self.top1)
        return 100.0 * (1.0 - self.agreement)

    @property
    def drop_label(self) -> str:
        return "top-1 drop" if self.labelled else "top-1 disagreement with the reference"

    def to_dict(self) -> dict[str, Any]:
        return dict(dataclasses.asdict(self), drop_points=self.drop_points)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Drift:
        """Read a drift record, accepting the schema-1 legacy key names."""
        names = {f.name for f in dataclasses.fields(cls)}
        data = {LEGACY_DRIFT_KEYS.get(k, k): v for k, v in d.items()}
        return cls(**{k: v for k, v in data.items() if k in names})


def drift_metrics(ref: np.ndarray, out: np.ndarray, labels: np.ndarray | None = None) -> Drift:
    """Compare ``out`` to ``ref`` (both [N, C] scores), and both to ``labels`` when given."""
    ref = np.asarray(ref, dtype=np.float64)
    out = np.asarray(out, dtype=np.float64)
    if ref.shape != out.shape or ref.ndim != 2 or ref.shape[0] == 0:
        raise ValueError(f"cannot compare outputs of shapes {ref.shape} and {out.shape}")
    diff = np.abs(out - ref)
    cos = cosine_per_row(ref, out)
    res = Drift(
        n=int(ref.shape[0]),
        labelled=labels is not None,
        agreement=agreement(ref, out),
        max_abs=float(diff.max()),
        mean_abs=float(diff.mean()),
        cosine_mean=float(cos.mean()),
        cosine_min=float(cos.min()),
    )
    if labels is not None:
        lab = np.asarray(labels, dtype=np.int64)
        res.top1, res.top5 = topk_accuracy(out, lab, 1), topk_accuracy(out, lab, 5)
        res.ref_top1, res.ref_top5 = topk_accuracy(ref, lab, 1), topk_accuracy(ref, lab, 5)
    return res

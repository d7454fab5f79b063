"""The one metrics module: softmax, top-k, drift, and reading drift records of every schema."""

from __future__ import annotations

import math

import numpy as np
import pytest

from resnet_deploy.metrics import (
    Drift,
    agreement,
    cosine_per_row,
    drift_metrics,
    softmax,
    topk_accuracy,
    topk_indices,
)


def _softmax_by_hand(row: list[float]) -> list[float]:
    """Plain-Python softmax (no numpy), the textbook formula."""
    m = max(row)
    e = [math.exp(v - m) for v in row]
    return [v / sum(e) for v in e]


def test_softmax_matches_the_textbook_formula_and_survives_huge_logits() -> None:
    rows = [[1.0, 2.0, 3.0], [-5.0, 0.0, 5.0], [0.5, 0.5, 0.5]]
    got = softmax(np.array(rows, dtype=np.float32))
    assert got.dtype == np.float32 and got.shape == (3, 3)
    for g, row in zip(got, rows, strict=True):
        np.testing.assert_allclose(g, _softmax_by_hand(row), rtol=1e-6)
    big = softmax(np.array([[1e4, 0.0], [-1e4, -1e4]], dtype=np.float32))
    assert np.isfinite(big).all()
    np.testing.assert_allclose(big, [[1.0, 0.0], [0.5, 0.5]], atol=1e-7)
    cols = softmax(np.array([[1.0, 2.0], [3.0, 4.0]]), axis=0)  # along another axis
    np.testing.assert_allclose(cols.T, [_softmax_by_hand([1, 3]), _softmax_by_hand([2, 4])], rtol=1e-6)

def test_topk_indices_orders_by_score_and_breaks_ties_by_lower_index() -> None:
    scores = np.array([[0.1, 0.7, 0.2], [0.3, 0.3, 0.3], [0.2, 0.5, 0.5]], dtype=np.float32)
    got = topk_indices(scores, 2)
    assert got.dtype == np.int64
    assert got.tolist() == [[1, 2], [0, 1], [1, 2]]
    # many tied classes: argpartition would pick any of them; the contract is the lowest indices
    flat = np.zeros((1, 50), dtype=np.float32)
    flat[0, 40] = 1.0
    assert topk_indices(flat, 5).tolist() == [[40, 0, 1, 2, 3]]
    assert topk_indices(scores, 10).shape == (3, 3)  # k capped at the class count


def test_topk_accuracy_and_agreement() -> None:
    logits = np.array([[0.1, 0.5, 0.4], [0.9, 0.05, 0.05]])
    assert topk_accuracy(logits, np.array([2, 2]), 1) == 0.0
    assert topk_accuracy(logits, np.array([2, 2]), 2) == 0.5
    assert topk_accuracy(logits, np.array([2, 2]), 5) == 1.0  # k capped at the class count
    assert agreement(logits, logits[:, ::-1]) == 0.5  # row 0 keeps class 1 in the middle, row 1 moves
    assert agreement(logits, logits * 3) == 1.0
    np.testing.assert_allclose(cosine_per_row(np.array([[1.0, 0], [0, 0]]), np.array([[1.0, 1], [1, 1]])),
                               [1 / math.sqrt(2), 1.0])  # an all-zero row counts as identical


def test_drift_metrics_on_known_logits() -> None:
    ref = np.array([[3.0, 1, 0, 0, 0, 0], [0, 2, 1, 0, 0, 0], [1, 2, 3, 4, 0, 5], [1, 0, 0, 0, 0, 0]], np.float32)
    out = ref.copy()
    out[1] = [0, 1, 2, 0, 0, 0]  # arg-max moves from class 1 to class 2
    labels = np.array([0, 1, 4, 0])
    d = drift_metrics(ref, out, labels)
    assert (d.agreement, d.max_abs, d.n, d.labelled) == (0.75, 1.0, 4, True)
    assert d.mean_abs == pytest.approx(2.0 / 24)
    assert (d.ref_top1, d.top1) == (0.75, 0.5)  # row 1 was right, now wrong; row 2 always wrong
    assert (d.ref_top5, d.top5) == (0.75, 0.75)  # class 4 is row 2's lowest logit
    assert d.cosine_mean == pytest.approx(np.mean([1, 4 / 5, 1, 1])) and d.cosine_min == pytest.approx(0.8)
    assert d.drop_points == pytest.approx(25.0) and d.drop_label == "top-1 drop"
    unlabelled = drift_metrics(ref, out, None)
    assert unlabelled.top1 is None and unlabelled.drop_points == pytest.approx(25.0)
    assert "disagreement" in unlabelled.drop_label
    with pytest.raises(ValueError):
        drift_metrics(ref, ref[:2])


def test_drift_metrics_hand_computed_cosine_and_mean_error() -> None:
    ref = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    out = np.array([[1.0, 2.0, 3.5], [1.0, 2.0, 3.0]])
    d = drift_metrics(ref, out, labels=np.array([2, 0]))
    assert d.agreement == 0.5 and d.max_abs == 2.0 and d.mean_abs == pytest.approx(4.5 / 6)
    cos0 = (1 + 4 + 10.5) / (np.sqrt(14) * np.sqrt(1 + 4 + 12.25))
    cos1 = (3 + 4 + 3) / 14
    assert d.cosine_mean == pytest.approx((cos0 + cos1) / 2) and d.cosine_min == pytest.approx(cos1)
    assert d.to_dict()["drop_points"] == pytest.approx(50.0)


def test_drift_round_trips_and_reads_schema_1_keys() -> None:
    d = drift_metrics(np.eye(3), np.eye(3) * 2, np.array([0, 1, 2]))
    assert Drift.from_dict(d.to_dict()) == d  # drop_points (derived) is ignored on the way back
    legacy = {"labelled": True, "top1_fp32": 0.9, "top1": 0.85, "top5_fp32": 1.0, "top5": 0.99,
              "agreement": 0.95, "max_abs": 0.4, "cosine": 0.999, "cosine_min": 0.98, "n": 200}
    old = Drift.from_dict(legacy)
    assert (old.ref_top1, old.ref_top5, old.cosine_mean) == (0.9, 1.0, 0.999)
    assert (old.top1, old.n, old.mean_abs) == (0.85, 200, None)
    assert old.drop_points == pytest.approx(5.0)
    keys = set(old.to_dict())
    assert not keys & {"cosine", "top1_fp32", "top5_fp32"} and {"cosine_mean", "ref_top1"} <= keys

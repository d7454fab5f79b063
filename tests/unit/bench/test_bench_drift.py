"""Drift metrics against hand-computed values; ten-crop matches preprocess.ten_crop."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from resnet_deploy import preprocess
from resnet_deploy.artifact import Preprocessing
from resnet_deploy.bench.drift import (
    EvalSet,
    collect_outputs,
    drift_metrics,
    softmax,
    ten_crop_tensor,
    topk_accuracy,
)
from resnet_deploy.bench.timing import NullRunner


def test_drift_metrics_hand_computed() -> None:
    ref = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    out = np.array([[1.0, 2.0, 3.5], [1.0, 2.0, 3.0]])
    d = drift_metrics(ref, out, labels=np.array([2, 0]))
    assert d.agreement == 0.5 and d.n == 2 and d.labelled
    assert d.max_abs == 2.0 and d.mean_abs == pytest.approx(4.5 / 6)
    cos0 = (1 + 4 + 10.5) / (np.sqrt(14) * np.sqrt(1 + 4 + 12.25))
    cos1 = (3 + 4 + 3) / 14
    assert d.cosine_mean == pytest.approx((cos0 + cos1) / 2) and d.cosine_min == pytest.approx(cos1)
    assert (d.ref_top1, d.top1) == (1.0, 0.5)
    assert d.drop_points == pytest.approx(50.0)
    assert d.to_dict()["drop_points"] == pytest.approx(50.0)


def test_drift_without_labels_uses_agreement() -> None:
    ref = np.eye(4)
    d = drift_metrics(ref, ref.copy())
    assert (d.agreement, d.max_abs, d.cosine_min, d.top1) == (1.0, 0.0, 1.0, None)
    assert d.drop_points == 0.0
    with pytest.raises(ValueError):
        drift_metrics(ref, ref[:2])


def test_topk_accuracy() -> None:
    logits = np.array([[0.1, 0.5, 0.4], [0.9, 0.05, 0.05]])
    assert topk_accuracy(logits, np.array([2, 2]), 1) == 0.0
    assert topk_accuracy(logits, np.array([2, 2]), 2) == 0.5
    assert topk_accuracy(logits, np.array([2, 2]), 5) == 1.0  # k capped at the class count


def test_ten_crop_tensor_equals_preprocess_ten_crop_for_square_images() -> None:
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8))
    pre = Preprocessing(resize=40, crop=32)
    want = np.stack([preprocess.normalize(np.asarray(c), pre) for c in preprocess.ten_crop(img, 40, 32)])
    square = preprocess.normalize(np.asarray(img), pre)[None]
    got = ten_crop_tensor(square, 32)
    assert got.shape == (1, 10, 3, 32, 32)
    np.testing.assert_allclose(got[0], want, rtol=0, atol=1e-6)


class MeanRunner(NullRunner):
    """Scores = per-channel means of the input (so crops give different outputs)."""

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        return batch.mean(axis=(2, 3)).astype(np.float32)


def test_collect_outputs_center_and_ten_crop() -> None:
    r = MeanRunner()
    x = np.random.default_rng(1).standard_normal((5, 3, 6, 6)).astype(np.float32)
    center = collect_outputs(r, EvalSet(x, None, "t", "center"), batch_size=2)
    np.testing.assert_allclose(center, x.mean(axis=(2, 3)), rtol=1e-6)
    crops = ten_crop_tensor(x, 4)
    ten = collect_outputs(r, EvalSet(crops, None, "t", "ten-crop"), batch_size=20)
    want = softmax(crops.mean(axis=(3, 4)).astype(np.float64)).mean(axis=1)
    np.testing.assert_allclose(ten, want, rtol=1e-5)
    assert ten.shape == (5, 3)

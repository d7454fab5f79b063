"""Bench eval data: ten-crop matches preprocess.ten_crop; a row's drift carries its context.

The metrics themselves are tested in tests/unit/metrics.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from resnet_deploy import preprocess
from resnet_deploy.artifact import Preprocessing
from resnet_deploy.bench.drift import collect_outputs, drift_row, ten_crop_tensor
from resnet_deploy.bench.timing import NullRunner
from resnet_deploy.data.evalset import EvalSet
from resnet_deploy.metrics import drift_metrics, softmax


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


def test_drift_row_is_the_shared_record_plus_context() -> None:
    ref = np.eye(3, dtype=np.float32)
    data = EvalSet(ref, np.array([0, 1, 1]), "digits", "center")
    row = drift_row(drift_metrics(ref, ref * 2, data.labels), "torch:fp32", data)
    assert (row["reference"], row["eval_data"], row["eval_mode"]) == ("torch:fp32", "digits", "center")
    assert row["cosine_mean"] == pytest.approx(1.0) and row["ref_top1"] == pytest.approx(2 / 3)
    assert "cosine" not in row and "top1_fp32" not in row

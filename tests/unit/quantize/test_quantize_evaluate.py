"""Drift metrics on hand-made logits, where every number can be checked by eye."""

from __future__ import annotations

import numpy as np
import pytest

from resnet_deploy.quantize.evaluate import accuracy_drop, drift_metrics


def test_drift_metrics_on_known_logits() -> None:
    ref = np.array([[3.0, 1, 0, 0, 0, 0], [0, 2, 1, 0, 0, 0], [1, 2, 3, 4, 0, 5], [1, 0, 0, 0, 0, 0]], np.float32)
    out = ref.copy()
    out[1] = [0, 1, 2, 0, 0, 0]  # arg-max moves from class 1 to class 2
    labels = np.array([0, 1, 4, 0])
    d = drift_metrics(ref, out, labels)
    assert d["agreement"] == 0.75 and d["max_abs"] == 1.0 and d["n"] == 4 and d["labelled"]
    assert d["top1_fp32"] == 0.75 and d["top1"] == 0.5  # row 1 was right, now wrong; row 2 always wrong
    assert d["top5_fp32"] == 0.75 and d["top5"] == 0.75  # class 4 is row 2's lowest logit
    assert d["cosine"] == pytest.approx(np.mean([1, 4 / 5, 1, 1])) and d["cosine_min"] == pytest.approx(0.8)
    assert accuracy_drop(d) == pytest.approx(25.0)
    unlabelled = drift_metrics(ref, out, None)
    assert "top1" not in unlabelled and accuracy_drop(unlabelled) == pytest.approx(25.0)

"""compare_logits / describe_failure / chunks: the reusable parity metric (numpy only)."""

from __future__ import annotations

import numpy as np
import pytest

from resnet_deploy.export.parity import chunks, compare_logits, describe_failure, fixed_inputs


def _ref(n: int = 6, c: int = 10) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((n, c)).astype(np.float32) * 3


def test_identical_logits_pass_with_zero_error() -> None:
    ref = _ref()
    m = compare_logits(ref, ref.copy())
    assert m["max_abs"] == 0 and m["rel_to_range"] == 0 and m["max_rel"] == 0
    assert m["top1_agreement"] == 1.0 and m["n"] == 6 and m["passed"] is True


def test_small_noise_passes_and_numbers_are_right() -> None:
    ref = _ref()
    out = ref + np.float32(1e-4)
    m = compare_logits(ref, out)
    rng = float(ref.max() - ref.min())
    assert m["max_abs"] == pytest.approx(1e-4, rel=1e-2)
    assert m["rel_to_range"] == pytest.approx(m["max_abs"] / rng)
    assert m["passed"]


def test_error_above_tolerance_fails_even_with_same_top1() -> None:
    ref = _ref()
    rng = float(ref.max() - ref.min())
    out = ref.copy()
    out[0, ref[0].argmin()] += 2e-3 * rng  # the smallest logit: top-1 unchanged
    m = compare_logits(ref, out)
    assert m["top1_agreement"] == 1.0 and not m["passed"]
    assert compare_logits(ref, out, rel_range_tol=1e-2)["passed"]  # looser (FP16-style) bar


def test_flipped_argmax_fails_top1() -> None:
    ref = np.array([[1.0, 0.0, 0.5], [0.0, 2.0, 1.0]], dtype=np.float32)
    out = ref.copy()
    out[0] = [0.0, 1.0, 0.5]
    m = compare_logits(ref, out, rel_range_tol=10.0)
    assert m["top1_agreement"] == 0.5 and not m["passed"]
    assert compare_logits(ref, out, rel_range_tol=10.0, min_top1_agreement=0.5)["passed"]


def test_nan_and_shape_mismatch_fail() -> None:
    ref = _ref()
    bad = ref.copy()
    bad[1, 1] = np.nan
    assert not compare_logits(ref, bad)["passed"]
    m = compare_logits(ref, ref[:, :5])
    assert not m["passed"] and "shape" in m["error"]
    assert "\n" not in describe_failure("onnx:fp32", m)


def test_failure_message_is_one_line_with_format_and_numbers() -> None:
    ref = _ref()
    m = compare_logits(ref, ref + 1.0)
    msg = describe_failure("torchscript:fp32", m)
    assert "\n" not in msg and "torchscript:fp32" in msg and "max_abs" in msg and "top-1" in msg


def test_chunks_start_with_batch_one() -> None:
    x = fixed_inputs(32, n=8)
    parts = chunks(x)
    assert [len(p) for p in parts] == [1, 7]
    assert np.array_equal(np.concatenate(parts), x)
    assert [len(p) for p in chunks(fixed_inputs(32, n=20))] == [1, 7, 7, 5]
    assert np.array_equal(fixed_inputs(32), fixed_inputs(32))  # fixed seed

"""The built-in sample set and the shared preprocessing it goes through."""

from __future__ import annotations

import time

import numpy as np
import pytest

from resnet_deploy import preprocess
from resnet_deploy.artifact import Preprocessing
from resnet_deploy.data import SAMPLE_CLASSES, open_source, sample_arrays
from resnet_deploy.data import sample as sample_mod
from resnet_deploy.errors import DataError


def test_splits_are_disjoint_and_large_enough():
    digits = {s: set(sample_mod.source_digits(s).tolist()) for s in sample_mod.SPLITS}
    assert not digits["train"] & digits["eval"]
    assert not digits["train"] & digits["calib"]
    assert not digits["calib"] & digits["eval"]
    assert sum(len(d) for d in digits.values()) == 1797
    sizes = {s: len(sample_arrays(s)[0]) for s in ("calib", "eval")}
    assert sizes["calib"] >= 512 and sizes["eval"] >= 500
    # no rendered image is shared either
    calib, evals = sample_arrays("calib")[0], sample_arrays("eval")[0]
    hashes = {im.tobytes() for im in calib}
    assert not any(im.tobytes() in hashes for im in evals)


def test_images_and_labels_look_right():
    x, y = sample_arrays("eval")
    assert x.dtype == np.uint8 and x.shape[1:] == (80, 80, 3)
    assert y.dtype == np.int64 and set(y.tolist()) == set(range(10))
    assert np.bincount(y).min() >= 30  # every class is represented
    assert not x.flags.writeable


def test_deterministic_and_fast():
    pre = Preprocessing.for_input_size(32)
    first = open_source("sample", pre, split="eval").sha256
    sample_mod._build.cache_clear()
    t0 = time.perf_counter()
    again = open_source("sample", pre, split="eval")
    elapsed = time.perf_counter() - t0
    assert again.sha256 == first
    assert elapsed < 10.0  # ~1 s on 2 idle cores; generous for a busy machine


def test_sample_source_is_preprocessed_with_the_manifest_recipe():
    pre = Preprocessing.for_input_size(64)
    src = open_source("sample", pre, split="calib", limit=16)
    x, y = src.arrays()
    assert x.shape == (16, 3, 64, 64) and src.classes == SAMPLE_CLASSES and len(y) == 16
    raw, labels = sample_arrays("calib")
    idx = sorted(sample_mod.np.random.default_rng(0).permutation(len(raw))[:16].tolist())
    expected = np.stack([preprocess.preprocess_array_hwc(raw[i], pre) for i in idx])
    np.testing.assert_array_equal(x, expected)
    assert y.tolist() == labels[idx].tolist()


def test_unknown_split():
    with pytest.raises(DataError, match="unknown split"):
        open_source("sample", Preprocessing.for_input_size(32), split="test")


def test_preprocessing_equals_a_hand_computation():
    """No resize (shorter side == resize): only crop + scale/mean/std + HWC->CHW."""
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, size=(20, 24, 3), dtype=np.uint8)  # h=20, w=24
    pre = Preprocessing(resize=20, crop=16, mean=[0.5, 0.4, 0.3], std=[0.2, 0.25, 0.3])
    got = preprocess.preprocess_array_hwc(img, pre)
    crop = img[2:18, 4:20].astype(np.float64) / 255.0  # top=(20-16)/2, left=(24-16)/2
    want = ((crop - [0.5, 0.4, 0.3]) / [0.2, 0.25, 0.3]).transpose(2, 0, 1)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    assert got.dtype == np.float32 and got.flags.c_contiguous


def test_small_image_upscale_equals_a_hand_computation():
    """Nearest 2x upscale of an 8x8 image is np.repeat; BGR order flips channels."""
    rng = np.random.default_rng(4)
    img = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    pre = Preprocessing(resize=16, crop=16, mean=[0, 0, 0], std=[1, 1, 1],
                        interpolation="nearest", channel_order="BGR")
    got = preprocess.preprocess_array_hwc(img, pre)
    up = img.repeat(2, axis=0).repeat(2, axis=1)[..., ::-1].astype(np.float32) / 255.0
    np.testing.assert_allclose(got, up.transpose(2, 0, 1), atol=1e-7)


def test_labels_fit_only_the_models_own_label_space():
    src = open_source("sample", Preprocessing(resize=40, crop=32), split="eval", limit=20)
    _, labels = src.arrays()
    assert labels is not None and src.labels_fit(labels, len(SAMPLE_CLASSES))
    # the 10 digit classes on a 1000-class ImageNet head: indices 0-9 exist there but mean other things
    assert not src.labels_fit(labels, 1000)
    assert not src.labels_fit(labels, 5)  # out of range
    assert not src.labels_fit(None, 10)

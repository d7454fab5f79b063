""".npy/.npz sources: accepted layouts, and every malformed array refused with the expected shape."""

from __future__ import annotations

import numpy as np
import pytest

from resnet_deploy import preprocess
from resnet_deploy.data import open_source
from resnet_deploy.errors import DataError


def test_preprocessed_npy_passes_through(tmp_path, pre32, rng):
    x = rng.standard_normal((5, 3, 32, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    src = open_source(tmp_path / "x.npy", pre32)
    got, y = src.arrays()
    assert y is None and not src.has_labels
    np.testing.assert_array_equal(got, x)
    assert [len(b) for b, _ in src.batches(2)] == [2, 2, 1]


def test_raw_uint8_nhwc_goes_through_shared_preprocessing(tmp_path, pre32, rng):
    raw = rng.integers(0, 256, size=(4, 50, 60, 3), dtype=np.uint8)
    np.save(tmp_path / "raw.npy", raw)
    got, _ = open_source(tmp_path / "raw.npy", pre32).arrays()
    expected = np.stack([preprocess.preprocess_array_hwc(im, pre32) for im in raw])
    np.testing.assert_array_equal(got, expected)


def test_raw_grayscale_nhw(tmp_path, pre32, rng):
    np.save(tmp_path / "g.npy", rng.integers(0, 256, size=(3, 20, 20), dtype=np.uint8))
    got, _ = open_source(tmp_path / "g.npy", pre32).arrays()
    assert got.shape == (3, 3, 32, 32)
    np.testing.assert_allclose(got[:, 0] * pre32.std[0] + pre32.mean[0],
                               got[:, 1] * pre32.std[1] + pre32.mean[1], atol=1e-6)


@pytest.mark.parametrize("key,lkey", [("images", "labels"), ("x", "y")])
def test_npz_with_labels(tmp_path, pre32, rng, key, lkey):
    x = rng.standard_normal((6, 3, 32, 32)).astype(np.float32)
    labels = np.array([0, 1, 2, 0, 1, 2])
    np.savez(tmp_path / "d.npz", **{key: x, lkey: labels})
    src = open_source(tmp_path / "d.npz", pre32)
    got, y = src.arrays()
    assert src.has_labels
    np.testing.assert_array_equal(got, x)
    assert y.dtype == np.int64 and y.tolist() == labels.tolist()


def test_npz_without_image_key(tmp_path, pre32):
    np.savez(tmp_path / "d.npz", data=np.zeros((1, 3, 32, 32), np.float32))
    with pytest.raises(DataError, match="no 'images' or 'x'.*found: data"):
        open_source(tmp_path / "d.npz", pre32)


def test_labels_of_wrong_length(tmp_path, pre32):
    np.savez(tmp_path / "d.npz", images=np.zeros((3, 3, 32, 32), np.float32), labels=np.zeros(2, int))
    with pytest.raises(DataError, match="labels have shape"):
        open_source(tmp_path / "d.npz", pre32)


def test_wrong_shape_names_the_expected_shape(tmp_path, pre32):
    np.save(tmp_path / "x.npy", np.zeros((2, 3, 64, 64), np.float32))
    with pytest.raises(DataError, match=r"expected float32 \[N,3,32,32\]") as exc:
        open_source(tmp_path / "x.npy", pre32)
    assert "float32 [2,3,64,64]" in str(exc.value)


def test_wrong_dtype(tmp_path, pre32):
    np.save(tmp_path / "x.npy", np.zeros((2, 3, 32, 32), np.float64))
    with pytest.raises(DataError, match=r"float64 \[2,3,32,32\].*astype\(np.float32\)"):
        open_source(tmp_path / "x.npy", pre32)


def test_uint8_nchw_is_refused_with_a_hint(tmp_path, pre32):
    np.save(tmp_path / "x.npy", np.zeros((2, 3, 40, 40), np.uint8))
    with pytest.raises(DataError, match="NHWC"):
        open_source(tmp_path / "x.npy", pre32)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_are_refused(tmp_path, pre32, bad):
    x = np.zeros((3, 3, 32, 32), np.float32)
    x[1, 2, 3, 4] = bad
    np.save(tmp_path / "x.npy", x)
    with pytest.raises(DataError, match="1 NaN/Inf"):
        open_source(tmp_path / "x.npy", pre32)


def test_pickled_or_broken_file(tmp_path, pre32):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="cannot be read"):
        open_source(tmp_path / "o.npy", pre32)
    (tmp_path / "b.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="cannot be read"):
        open_source(tmp_path / "b.npz", pre32)


def test_limit_larger_than_available_warns_and_uses_all(tmp_path, pre32):
    np.save(tmp_path / "x.npy", np.zeros((7, 3, 32, 32), np.float32))
    messages: list[str] = []
    src = open_source(tmp_path / "x.npy", pre32, limit=20, on_warning=messages.append)
    assert len(src) == 7 and len(src.arrays()[0]) == 7
    assert messages == [f"requested 20 calib images but '{tmp_path / 'x.npy'}' has 7; using all 7"]


@pytest.mark.parametrize("limit", [0, -3, 2.5, True])
def test_nonsense_limit(tmp_path, pre32, limit):
    np.save(tmp_path / "x.npy", np.zeros((2, 3, 32, 32), np.float32))
    with pytest.raises(DataError):
        open_source(tmp_path / "x.npy", pre32, limit=limit)


def test_limit_selects_a_stable_subset(tmp_path, pre32, rng):
    x = rng.standard_normal((50, 3, 32, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    a = open_source(tmp_path / "x.npy", pre32, limit=10)
    b = open_source(tmp_path / "x.npy", pre32, limit=10)
    np.testing.assert_array_equal(a.arrays()[0], b.arrays()[0])
    assert a.sha256 == b.sha256 != open_source(tmp_path / "x.npy", pre32).sha256

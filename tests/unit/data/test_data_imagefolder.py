"""Image folders: labels, flat folders, odd image modes, and files that must be skipped."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import write_image
from PIL import Image

from resnet_deploy import preprocess
from resnet_deploy.data import DataWarning, open_source
from resnet_deploy.errors import DataError


def _rgb(rng, h=40, w=48):
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def test_class_subfolders_give_sorted_labels(tmp_path, pre32, rng):
    for cls, n in (("dog", 2), ("cat", 3), ("zebra", 1)):
        for i in range(n):
            write_image(tmp_path / cls / f"{i}.png", _rgb(rng))
    src = open_source(tmp_path, pre32)
    assert src.classes == ["cat", "dog", "zebra"]
    assert src.has_labels and len(src) == 6
    x, y = src.arrays()
    assert x.shape == (6, 3, 32, 32) and x.dtype == np.float32
    assert y.tolist() == [0, 0, 0, 1, 1, 2]


def test_flat_folder_has_no_labels_and_matches_shared_preprocessing(tmp_path, pre32, rng):
    paths = [write_image(tmp_path / f"img{i}.jpg", _rgb(rng), quality=90) for i in range(3)]
    src = open_source(str(tmp_path), pre32)
    assert not src.has_labels and src.classes is None
    x, y = src.arrays()
    assert y is None
    expected = np.stack([preprocess.preprocess_image(p, pre32) for p in paths])
    np.testing.assert_array_equal(x, expected)


def test_odd_modes_are_converted_to_rgb(tmp_path, pre32, rng):
    gray = rng.integers(0, 256, size=(30, 30), dtype=np.uint8)
    write_image(tmp_path / "gray.png", gray, mode="L")
    write_image(tmp_path / "rgba.png", rng.integers(0, 256, size=(30, 30, 4), dtype=np.uint8), mode="RGBA")
    Image.fromarray(_rgb(rng)).convert("CMYK").save(tmp_path / "cmyk.jpg")
    deep = rng.integers(0, 65536, size=(30, 30), dtype=np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep16.png")
    assert Image.open(tmp_path / "deep16.png").mode.startswith("I")
    assert Image.open(tmp_path / "cmyk.jpg").mode == "CMYK"
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # nothing may be skipped
        x, _ = open_source(tmp_path, pre32).arrays()
    assert x.shape == (4, 3, 32, 32)
    assert np.isfinite(x).all()
    # grayscale stays gray: the three channels carry the same pixels before normalisation
    g = preprocess.crop_image(tmp_path / "gray.png", pre32)
    assert (g[..., 0] == g[..., 1]).all() and (g[..., 1] == g[..., 2]).all()


def test_tiny_image_is_upscaled(tmp_path, pre32, rng):
    write_image(tmp_path / "tiny.png", _rgb(rng, 5, 7))
    x, _ = open_source(tmp_path, pre32).arrays()
    assert x.shape == (1, 3, 32, 32)


def test_corrupt_truncated_and_text_files_are_skipped_with_one_counted_warning(tmp_path, pre32, rng):
    for i in range(3):
        write_image(tmp_path / f"ok{i}.png", _rgb(rng))
    full = (write_image(tmp_path / "full.jpg", _rgb(rng, 200, 200), quality=95)).read_bytes()
    (tmp_path / "full.jpg").unlink()
    (tmp_path / "truncated.jpg").write_bytes(full[: len(full) // 2])
    (tmp_path / "garbage.png").write_bytes(b"this is not a png at all")
    (tmp_path / "notes.txt").write_text("hello")
    messages: list[str] = []
    src = open_source(tmp_path, pre32, on_warning=messages.append)
    x, _ = src.arrays()
    assert x.shape[0] == 3
    assert len(messages) == 1, messages
    assert "skipped 3" in messages[0] and "notes.txt" in messages[0]
    assert sorted(n for n, _ in src.skipped) == ["garbage.png", "notes.txt", "truncated.jpg"]
    assert len(src) == 3
    # a second pass neither warns again nor changes the data
    np.testing.assert_array_equal(src.arrays()[0], x)
    assert len(messages) == 1


def test_default_warning_is_a_python_warning(tmp_path, pre32, rng):
    write_image(tmp_path / "ok.png", _rgb(rng))
    (tmp_path / "readme.txt").write_text("x")
    with pytest.warns(DataWarning, match="skipped 1"):
        open_source(tmp_path, pre32).arrays()


def test_all_corrupt_folder_is_an_error(tmp_path, pre32):
    (tmp_path / "a.jpg").write_bytes(b"\xff\xd8\xff\xe0 broken")
    (tmp_path / "b.png").write_bytes(b"nope")
    src = open_source(tmp_path, pre32, on_warning=lambda m: None)
    with pytest.raises(DataError, match="no usable images"):
        src.arrays()


def test_only_non_image_files_is_an_error_at_open(tmp_path, pre32):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(DataError, match="no image files"):
        open_source(tmp_path, pre32)


def test_empty_folder_is_an_error(tmp_path, pre32):
    with pytest.raises(DataError, match="is empty") as exc:
        open_source(tmp_path, pre32)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("name", ["missing_dir", "data.csv"])
def test_unknown_spec_is_an_error(tmp_path, pre32, name):
    if name.endswith(".csv"):
        (tmp_path / name).write_text("1,2")
    with pytest.raises(DataError):
        open_source(tmp_path / name, pre32)


def test_decodes_each_image_once_across_passes(tmp_path, pre32, rng, monkeypatch):
    for i in range(5):
        write_image(tmp_path / f"{i}.png", _rgb(rng))
    calls: list[object] = []
    real = preprocess.crop_image

    def counting(src, pre):
        calls.append(src)
        return real(src, pre)

    monkeypatch.setattr(preprocess, "crop_image", counting)
    src = open_source(tmp_path, pre32)
    assert calls == []  # opening does not decode
    first = list(src.batches(2))
    assert [len(b[0]) for b in first] == [2, 2, 1]
    assert len(calls) == 5
    src.arrays()
    assert len(calls) == 5


def test_sha256_is_stable_and_content_sensitive(tmp_path, pre32, rng):
    for i in range(3):
        write_image(tmp_path / f"{i}.png", _rgb(rng))
    a = open_source(tmp_path, pre32).sha256
    assert a == open_source(tmp_path, pre32).sha256
    write_image(tmp_path / "1.png", _rgb(rng))
    assert open_source(tmp_path, pre32).sha256 != a


def test_limit_picks_a_subset_across_classes(tmp_path, pre32, rng):
    for cls in ("a", "b", "c", "d"):
        for i in range(10):
            write_image(tmp_path / cls / f"{i}.png", _rgb(rng, 12, 12))
    src = open_source(tmp_path, pre32, limit=12)
    _, y = src.arrays()
    assert len(y) == 12 and len(set(y.tolist())) >= 3


def test_directory_symlink_loops_are_not_followed_and_each_real_file_counts_once(tmp_path, pre32, rng):
    import os

    write_image(tmp_path / "cat" / "a.png", _rgb(rng))
    write_image(tmp_path / "dog" / "sub" / "b.png", _rgb(rng))
    os.symlink("..", tmp_path / "cat" / "up")  # cat/up -> the data root: a loop
    os.symlink("../..", tmp_path / "dog" / "sub" / "loop")
    os.symlink("a.png", tmp_path / "cat" / "same.png")  # a second name for one real file
    os.symlink(tmp_path / "dog" / "sub", tmp_path / "dog" / "alias")  # a second name for one real dir
    src = open_source(tmp_path, pre32)
    assert src.classes == ["cat", "dog"]
    assert len(src) == 2
    _, y = src.arrays()
    assert y.tolist() == [0, 1]


def test_dangling_file_link_is_reported_as_unusable_not_hidden(tmp_path, pre32, rng):
    import os

    write_image(tmp_path / "cat" / "a.png", _rgb(rng))
    os.symlink("gone.png", tmp_path / "cat" / "dangling.png")
    src = open_source(tmp_path, pre32, on_warning=lambda _m: None)
    src.arrays()
    assert [name for name, _ in src.skipped] == ["cat/dangling.png"]

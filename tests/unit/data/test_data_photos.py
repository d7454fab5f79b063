"""data.photos: real photographs (scikit-image's bundled ones) as camera-sized JPEGs."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from resnet_deploy.data import photos
from resnet_deploy.data.sample import sample_arrays
from resnet_deploy.errors import DataError


def _open(data: bytes):
    from PIL import Image

    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def test_every_bundled_photo_loads_as_rgb_without_download() -> None:
    for name in photos.PHOTO_NAMES:
        arr = photos.photo(name)
        assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3, name
        assert min(arr.shape[:2]) >= 150 and not arr.flags.writeable, name
        assert arr.std() > 10, name  # a picture, not a blank
    with pytest.raises(DataError, match="unknown photo"):
        photos.photo("lena")


def test_camera_sizes_are_camera_sizes_in_both_orientations() -> None:
    longs = [max(s) for s in photos.CAMERA_SIZES]
    assert min(longs) == 640 and max(longs) == 4000
    assert any(w > h for w, h in photos.CAMERA_SIZES) and any(w < h for w, h in photos.CAMERA_SIZES)
    ratios = {round(max(s) / min(s), 2) for s in photos.CAMERA_SIZES}
    assert {1.0, 1.33, 1.5, 1.78} <= ratios


def test_the_plan_covers_distinct_photo_size_pairs() -> None:
    n, s = len(photos.PHOTO_NAMES), len(photos.CAMERA_SIZES)
    full = photos.camera_plan(n * s)
    assert len(set(full)) == n * s
    first = photos.camera_plan(photos.DEFAULT_COUNT)
    assert len(set(first)) == photos.DEFAULT_COUNT and {p for p, _ in first} == set(photos.PHOTO_NAMES)
    with pytest.raises(DataError):
        photos.camera_plan(0)


def test_camera_jpeg_is_a_seeded_jpeg_of_the_asked_size() -> None:
    a = photos.camera_jpeg("chelsea", (1080, 1920))
    img = _open(a.data)
    assert img.format == "JPEG" and img.size == (1080, 1920) and img.mode == "RGB"
    assert a.filename == "chelsea_1080x1920.jpg" and (a.width, a.height) == (1080, 1920)
    assert photos.camera_jpeg("chelsea", (1080, 1920)).data == a.data
    assert photos.camera_jpeg("chelsea", (1080, 1920), seed=1).data != a.data
    # a picture, not a blank or a flat colour
    small = np.asarray(img.convert("L").resize((45, 80)), dtype=np.float32)
    assert small.std() > 10


def test_write_camera_jpegs_writes_distinct_files(tmp_path: Path) -> None:
    small = ((640, 480), (720, 960))
    paths = photos.write_camera_jpegs(tmp_path / "out", 4, names=("coffee", "rocket"), sizes=small)
    assert len(paths) == 4 and len({p.name for p in paths}) == 4
    assert all(p.is_file() and _open(p.read_bytes()).size in small for p in paths)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths)


def test_sample_jpegs_are_the_labelled_sample_images_enlarged() -> None:
    jpgs, labels = photos.sample_jpegs("eval", 7)
    x, y = sample_arrays("eval")
    assert len(jpgs) == 7 and labels.tolist() == y[:7].tolist()
    for i, j in enumerate(jpgs):
        img = _open(j.data)
        assert img.size == photos.SAMPLE_SIZES[i % len(photos.SAMPLE_SIZES)]
        back = np.asarray(img.resize((80, 80)), dtype=np.float32)
        if img.size[0] == img.size[1]:  # square: same framing as the source
            assert np.abs(back - x[i]).mean() < 20

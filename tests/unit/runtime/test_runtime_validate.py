"""Bad inputs become one-line InvalidInputError and never reach (or crash) the backend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from resnet_deploy.errors import InvalidInputError
from resnet_deploy.runtime import load
from resnet_deploy.runtime.validate import expand_image_paths


@pytest.fixture(scope="module")
def predictor(artifact_dir: Path):
    with load(artifact_dir, backend="onnxruntime:fp32") as p:
        yield p


def _good() -> np.ndarray:
    return np.zeros((2, 3, 32, 32), np.float32)


def _with_nan() -> np.ndarray:
    x = _good()
    x[1, 0, 3, 3] = np.nan
    return x


def _with_inf() -> np.ndarray:
    x = _good()
    x[0, 2, 0, 0] = -np.inf
    return x


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (_good().astype(np.float64), "dtype float64 is not accepted"),
        (_good().astype(np.float16), "dtype float16 is not accepted"),
        (np.zeros((2, 32, 32, 3), np.float32), "expected 3 channels"),
        (np.zeros((2, 3, 64, 64), np.float32), "expected spatial size 32x32"),
        (np.zeros((1, 2, 3, 32, 32), np.float32), "must be HW, HWC or NHWC|rank-4"),
        (np.zeros((0, 3, 32, 32), np.float32), "batch is empty"),
        (_with_nan(), "1 NaN/Inf"),
        (_with_inf(), "1 NaN/Inf"),
        (np.zeros((5, 5, 7), np.uint8), "HWC image array with 1, 3 or 4 channels"),
        (b"", "empty \\(0 bytes\\)"),
        (b"definitely not a jpeg", "cannot be decoded"),
        ("/no/such/image.jpg", "does not exist"),
        (12, "cannot use a int"),
        ([], "no images given"),
        (None, "no images given"),
        ([[b"x"]], "nested lists"),
    ],
)
def test_bad_inputs(predictor, value, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match) as info:
        predictor.predict(value)
    assert "\n" not in str(info.value)


def test_zero_byte_file_and_bad_item_index(predictor, tmp_path: Path, image_files) -> None:
    empty = tmp_path / "empty.jpg"
    empty.touch()
    with pytest.raises(InvalidInputError, match="empty.jpg' is empty"):
        predictor.predict([image_files[0], empty])
    with pytest.raises(InvalidInputError, match="^item 1: image bytes cannot be decoded"):
        predictor.predict([image_files[0], b"junk"])


@pytest.mark.parametrize("call", ["infer", "predict_batch"])
def test_raw_batch_paths_are_checked_too(predictor, call: str) -> None:
    with pytest.raises(InvalidInputError, match="float32 NCHW"):
        getattr(predictor, call)([[1.0]])
    with pytest.raises(InvalidInputError, match="NaN/Inf"):
        getattr(predictor, call)(_with_nan())


def test_top_k_must_be_positive(predictor) -> None:
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InvalidInputError, match="top_k"):
            predictor.predict(_good(), top_k=bad)


def _reference(hwc: np.ndarray, pre) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Independent resize/crop/normalise: PIL's resampler only when the size changes, numpy for the rest."""
    from PIL import Image

    rgb = np.repeat(hwc[..., None], 3, axis=-1) if hwc.ndim == 2 else hwc
    h, w = rgb.shape[:2]
    nh, nw = (pre.resize, round(pre.resize * w / h)) if h <= w else (round(pre.resize * h / w), pre.resize)
    if (nh, nw) != (h, w):
        rgb = np.asarray(Image.fromarray(rgb).resize((nw, nh), resample=Image.Resampling.BILINEAR))
    top, left = round((nh - pre.crop) / 2), round((nw - pre.crop) / 2)
    crop = rgb[top : top + pre.crop, left : left + pre.crop].astype(np.float64) * pre.scale
    chw = ((crop - np.asarray(pre.mean)) / np.asarray(pre.std)).transpose(2, 0, 1)
    return chw.astype(np.float32)


def test_uint8_images_are_preprocessed(predictor, monkeypatch) -> None:
    """What reaches the backend is the reference resize + centre crop + normalise of each image."""
    pre = predictor.preprocessing
    assert pre.channel_order == "RGB" and pre.interpolation == "bilinear" and pre.crop < pre.resize
    seen: list[np.ndarray] = []
    infer = predictor.runner.infer
    monkeypatch.setattr(predictor.runner, "infer", lambda x: (seen.append(x.copy()), infer(x))[1])
    rng = np.random.default_rng(0)
    exact = rng.integers(0, 256, (pre.resize, pre.resize + 9, 3), dtype=np.uint8)  # no resampling: crop only
    hwc = rng.integers(0, 256, (40, 53, 3), dtype=np.uint8)
    other = rng.integers(0, 256, (40, 53, 3), dtype=np.uint8)
    cases = [(exact, [exact]), (hwc, [hwc]), (hwc[..., 0], [hwc[..., 0]]), (np.stack([hwc, other]), [hwc, other])]
    for given, images in cases:
        seen.clear()
        preds = predictor.predict(given, top_k=3)
        want = np.stack([_reference(img, pre) for img in images])
        assert len(seen) == 1 and seen[0].shape == want.shape == (len(images), 3, pre.crop, pre.crop)
        np.testing.assert_allclose(seen[0], want, rtol=0, atol=1e-5)
        logits = infer(want)
        assert [p.indices for p in preds] == np.argsort(-logits, axis=1, kind="stable")[:, :3].tolist()


def test_predictor_keeps_working_after_errors(predictor) -> None:
    for bad in (b"junk", _with_nan(), "/missing.png"):
        with pytest.raises(InvalidInputError):
            predictor.predict(bad)
    assert len(predictor.predict(_good())) == 2


def test_expand_image_paths(tmp_path: Path, image_files) -> None:
    folder = image_files[0].parent
    (folder / "notes.txt").write_text("not an image")
    found = expand_image_paths([folder])
    assert found == sorted(str(p) for p in image_files)
    with pytest.raises(InvalidInputError, match="has no image files"):
        expand_image_paths([tmp_path])
    with pytest.raises(InvalidInputError, match="does not exist"):
        expand_image_paths([tmp_path / "nope.jpg"])

"""runtime.pipeline: order, overlap, error naming and pool lifetime; the draft decode it feeds."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from runtime_helpers import encode_image

from resnet_deploy.artifact import Preprocessing
from resnet_deploy.errors import ConfigError, InvalidInputError, ResNetDeployError
from resnet_deploy.preprocess import crop_image, open_image_reduced
from resnet_deploy.runtime import load
from resnet_deploy.runtime.pipeline import DecodePool, default_decode_threads, run_pipeline


def _convert(item: int) -> np.ndarray:
    """Item i -> one row [i, i]; later items finish first (so order is really restored)."""
    time.sleep(0.002 * (8 - item % 8))
    return np.full((1, 2), item, dtype=np.float32)


def test_results_keep_input_order_across_chunks_and_threads() -> None:
    pool = DecodePool(3)
    seen: list[int] = []

    def infer(x: np.ndarray) -> np.ndarray:
        seen.append(len(x))
        return x * 2

    try:
        out = run_pipeline(list(range(23)), _convert, infer, chunk_size=5, pool=pool)
    finally:
        pool.close()
    assert out[:, 0].tolist() == [2.0 * i for i in range(23)]
    assert seen == [5, 5, 5, 5, 3]


def test_next_chunk_is_decoded_while_the_current_one_is_inferred() -> None:
    """Inference of chunk 0 blocks until an item of chunk 1 has been converted: only overlap passes."""
    second_chunk_started = threading.Event()

    def convert(item: int) -> np.ndarray:
        if item >= 4:
            second_chunk_started.set()
        return np.full((1, 1), item, dtype=np.float32)

    overlapped: list[bool] = []

    def infer(x: np.ndarray) -> np.ndarray:
        if x[0, 0] == 0:
            overlapped.append(second_chunk_started.wait(timeout=5))
        return x

    with DecodePool(2) as pool:
        run_pipeline(list(range(8)), convert, infer, chunk_size=4, pool=pool)
    assert overlapped == [True]


def test_single_item_and_zero_threads_convert_in_the_calling_thread() -> None:
    caller = threading.get_ident()
    threads: list[int] = []

    def convert(item: int) -> np.ndarray:
        threads.append(threading.get_ident())
        return np.zeros((1, 1), np.float32)

    pool = DecodePool(2)
    run_pipeline([0], convert, lambda x: x, 4, pool)
    assert not pool.started  # batch 1 pays no hand-off
    run_pipeline([0, 1, 2], convert, lambda x: x, 4, DecodePool(0))
    assert threads == [caller] * 4
    run_pipeline([0, 1, 2], convert, lambda x: x, 4, pool)
    assert pool.started and all(t != caller for t in threads[4:])
    pool.close()


def test_errors_name_the_first_failing_item_in_input_order() -> None:
    calls: list[bytes] = []

    def convert(item: bytes) -> np.ndarray:
        calls.append(item)
        if item == b"late-bad":
            raise InvalidInputError("late problem")
        if item == b"bad":
            time.sleep(0.05)  # fails after the later bad item has already failed
            raise InvalidInputError("image bytes cannot be decoded")
        return np.zeros((1, 1), np.float32)

    items = [b"ok", b"ok", b"bad", b"ok", b"late-bad"] + [b"ok"] * 40
    with DecodePool(3) as pool, pytest.raises(InvalidInputError) as err:
        run_pipeline(items, convert, lambda x: x, 5, pool)
    assert str(err.value) == "item 2: image bytes cannot be decoded"
    assert len(calls) <= 10  # only the failing chunk and the one decoded ahead


def test_a_path_error_names_the_file_through_the_pool(ort_fp32_pool, image_files: list[Path], tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    files = [str(f) for f in image_files] + [str(broken)]
    with pytest.raises(InvalidInputError, match="broken.jpg"):
        ort_fp32_pool.predict(files)
    with pytest.raises(InvalidInputError, match=r"^item 1: image bytes"):
        ort_fp32_pool.predict([image_files[0].read_bytes(), b"garbage"])


def test_predict_through_the_pool_matches_one_at_a_time(ort_fp32_pool, image_files: list[Path]) -> None:
    items = [encode_image(seed=s, size=(300 + 7 * s, 200 + 5 * s), fmt="JPEG") for s in range(9)]
    items += [str(f) for f in image_files]
    together = ort_fp32_pool.predict(items, top_k=3)
    alone = [ort_fp32_pool.predict(it, top_k=3)[0] for it in items]
    assert [p.indices for p in together] == [p.indices for p in alone]
    np.testing.assert_allclose([p.probabilities for p in together], [p.probabilities for p in alone], rtol=1e-5)
    assert [p.source for p in together] == [None] * 9 + [str(f) for f in image_files]
    assert ort_fp32_pool.decode_pool.started


def test_close_shuts_the_decode_pool_down(artifact_dir: Path, image_files: list[Path]) -> None:
    before = set(threading.enumerate())
    p = load(artifact_dir, backend="onnxruntime:fp32", threads=1, decode_threads=2)
    p.predict([str(f) for f in image_files])
    workers = [t for t in set(threading.enumerate()) - before if t.name.startswith("resnet-deploy-decode")]
    assert workers and p.decode_threads == 2
    p.close()
    assert p.decode_pool.closed and not any(t.is_alive() for t in workers)
    with pytest.raises(ResNetDeployError, match="closed"):
        p.decode_pool.executor()


def test_decode_threads_default_and_bad_values(artifact_dir: Path) -> None:
    assert 1 <= default_decode_threads() <= 4
    assert DecodePool().threads == default_decode_threads()
    for bad in (-1, 1.5, "4", True):
        with pytest.raises(ConfigError, match="decode_threads"):
            load(artifact_dir, backend="onnxruntime:fp32", decode_threads=bad)
    with pytest.raises(ResNetDeployError, match="exact_decode"):
        load(artifact_dir, backend="onnxruntime:fp32", exact_decode="yes")


def _jpeg(w: int, h: int) -> bytes:
    from PIL import Image

    yy, xx = np.mgrid[0:h, 0:w]
    arr = np.stack([(xx * 255 // w), (yy * 255 // h), ((xx + yy) % 256)], axis=-1).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=92)
    return buf.getvalue()


def test_draft_decodes_a_large_jpeg_at_a_reduced_scale() -> None:
    data = _jpeg(2000, 1500)
    img, box = open_image_reduced(data, None, min_side=73)
    assert img.size == (250, 188) and box == (0.0, 0.0, 250.0, 187.5)  # 1/8: 188 >= 73
    img, box = open_image_reduced(data, None, min_side=256)
    assert img.size == (500, 375) and box is not None  # 1/4: 1/8 would leave 188 < 256
    img, box = open_image_reduced(data, None)
    assert img.size == (2000, 1500) and box is None  # exact: every pixel
    img, box = open_image_reduced(encode_image(size=(2000, 1500)), None, min_side=73)
    assert img.size == (2000, 1500) and box is None  # PNG: nothing to reduce


def test_fast_crop_is_close_to_the_exact_one_and_same_geometry() -> None:
    pre = Preprocessing.for_input_size(224)
    for w, h in ((2000, 1500), (1500, 2000), (3000, 1000), (640, 480)):
        data = _jpeg(w, h)
        exact, fast = crop_image(data, pre), crop_image(data, pre, fast=True)
        assert fast.shape == exact.shape == (224, 224, 3)
        assert np.abs(exact.astype(int) - fast).mean() < 2.0, (w, h)


def test_the_pixel_limit_applies_to_the_declared_size_in_fast_mode(artifact_dir: Path) -> None:
    data = _jpeg(2000, 1500)  # decodes to 250x188 in fast mode, declared 3 MP
    with pytest.raises(InvalidInputError, match="above the limit of 1,000,000"):
        crop_image(data, Preprocessing.for_input_size(64), 1_000_000, fast=True)
    with load(artifact_dir, backend="onnxruntime:fp32", threads=1, max_pixels=1_000_000) as p:
        assert not p.exact_decode
        with pytest.raises(InvalidInputError, match="above the limit"):
            p.predict([data, data])


@pytest.fixture(scope="module")
def ort_fp32_pool(artifact_dir: Path):
    with load(artifact_dir, backend="onnxruntime:fp32", threads=1, max_batch=4, decode_threads=3) as p:
        yield p


def test_infer_images_exact_equals_the_old_whole_batch_path(artifact_dir: Path, image_files: list[Path]) -> None:
    from resnet_deploy.runtime.validate import to_batch

    items = [encode_image(seed=s, size=(400, 300), fmt="JPEG") for s in range(5)] + [str(image_files[0])]
    with load(artifact_dir, backend="onnxruntime:fp32", threads=1, max_batch=2, exact_decode=True) as p:
        got = p.infer_images(items)
        want = p.infer(to_batch(items, p.manifest.input, p.preprocessing))
        p.exact_decode = False
        fast = p.infer_images(items)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert got.shape == fast.shape == (6, p.num_classes) and not np.allclose(got[:5], fast[:5], atol=1e-6)

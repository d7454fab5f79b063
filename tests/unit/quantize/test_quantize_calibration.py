"""Calibration: ORT's three methods, batch-by-batch feeding, and the saved-ranges file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from resnet_deploy.errors import ArtifactError, DataError
from resnet_deploy.quantize.calibrate import CalibrationRanges, calibrate


def _tiny_model(path: Path) -> Path:
    """X[N,64] -> Mul(2) -> Y: two calibrated tensors with known values."""
    two = helper.make_tensor("two", TensorProto.FLOAT, [1], [2.0])
    graph = helper.make_graph(
        [helper.make_node("Mul", ["X", "two"], ["Y"], name="mul")], "tiny",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["n", 64])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["n", 64])], [two],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory, counting_reader) -> tuple[Path, list[np.ndarray], type]:
    d = tmp_path_factory.mktemp("calib")
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal((32, 64)).astype(np.float32) for _ in range(5)]
    batches[0][7, 5] = 40.0  # one outlier among 10,240 values (first batch: ORT histograms never regrow)
    return _tiny_model(d / "tiny.onnx"), batches, counting_reader


def _run(tiny, method: str, tmp_path: Path, percentile: float | None = None) -> tuple[CalibrationRanges, object]:
    model, batches, reader_cls = tiny
    reader = reader_cls(batches, "X")
    seen: list[int] = []
    ranges = calibrate(model, reader, method=method, percentile=percentile, work_dir=tmp_path,
                       dataset="unit", dataset_sha256="a" * 64, model_sha256="b" * 64, on_batch=seen.append)
    assert seen == [32] * 5 and ranges.count == 160
    return ranges, reader


def test_minmax_is_exact_and_each_batch_is_read_once(tiny, tmp_path: Path) -> None:
    ranges, reader = _run(tiny, "minmax", tmp_path)
    data = np.concatenate(tiny[1])
    assert reader.calls == 6  # 5 batches + the final None
    assert ranges.ranges["X"] == pytest.approx((float(data.min()), 40.0))
    assert ranges.ranges["Y"] == pytest.approx((2 * float(data.min()), 80.0))


def test_percentile_and_entropy_clip_the_outlier(tiny, tmp_path: Path) -> None:
    pct, _ = _run(tiny, "percentile", tmp_path, percentile=99.9)
    ent, _ = _run(tiny, "entropy", tmp_path)
    for ranges in (pct, ent):
        lo, hi = ranges.ranges["X"]
        assert -6.0 < lo < 0.0 < hi < 20.0, (ranges.method, lo, hi)
    assert pct.percentile == 99.9 and ent.percentile is None


def test_ranges_file_round_trip_and_matching(tiny, tmp_path: Path) -> None:
    ranges, _ = _run(tiny, "minmax", tmp_path)
    path = ranges.save(tmp_path / "calibration.json")
    back = CalibrationRanges.load(path)
    assert back == ranges
    assert back.matches("minmax", None, "a" * 64, "b" * 64)
    assert not back.matches("entropy", None, "a" * 64, "b" * 64)
    assert not back.matches("minmax", None, "c" * 64, "b" * 64)  # other data
    assert not back.matches("minmax", None, "a" * 64, "c" * 64)  # other model
    section = back.manifest_section()
    assert section["count"] == 160 and section["dataset_sha256"] == "a" * 64 and section["file"] == "calibration.json"


def test_a_broken_ranges_file_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "calibration.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="delete it to calibrate again"):
        CalibrationRanges.load(tmp_path / "calibration.json")


def test_no_data_is_a_data_error(tiny, tmp_path: Path) -> None:
    with pytest.raises(DataError):
        calibrate(tiny[0], tiny[2]([], "X"), method="minmax", percentile=None, work_dir=tmp_path,
                  dataset="empty", dataset_sha256="", model_sha256="")


def test_ort_cache_carries_exactly_the_saved_ranges(tiny, tmp_path: Path) -> None:
    from onnxruntime.quantization.calibrate import load_tensors_data

    ranges, _ = _run(tiny, "percentile", tmp_path, percentile=99.0)
    back = load_tensors_data(ranges.write_ort_cache(tmp_path / "cache.json"))
    assert set(back.keys()) == {"X", "Y"}
    assert float(back["X"].range_value[1]) == pytest.approx(ranges.ranges["X"][1])


def test_fast_entropy_search_returns_exactly_what_ort_returns() -> None:
    from onnxruntime.quantization.calibrate import HistogramCollector

    from resnet_deploy.quantize.entropy import FastHistogramCollector

    rng = np.random.default_rng(1)
    for bins in (130, 257, 300):
        for data in (rng.standard_normal(20000), rng.exponential(1.0, 20000) - 0.2, rng.laplace(0, 1, 5000)):
            data = data.astype(np.float32)
            thr = np.float32(np.abs(data).max())
            hist, edges = np.histogram(data, bins, range=(-thr, thr))
            h = (hist, edges.astype(np.float32), data.min(), data.max(), thr)
            ref = HistogramCollector("entropy", False, bins, 128, 99.99, "same").get_entropy_threshold(h, 128)
            got = FastHistogramCollector("entropy", False, bins, 128, 99.99, "same").get_entropy_threshold(h, 128)
            assert (float(got[0]), float(got[1])) == (float(ref[0]), float(ref[1]))

"""Calibrate once, keep the ranges: ORT's calibrators driven batch by batch, saved as JSON.

Uses ``onnxruntime.quantization``: ``create_calibrator`` + ``collect_data`` +
``compute_data`` (-> ``TensorsData``) to compute the ranges, and
``save_tensors_data`` to hand them back to ``quantize_static`` through its
``calibration_cache_path`` (ORT >= 1.32), so every target and every accuracy-guard
retry quantises from the SAME ranges without running the data again.

Hand-written here (the tooling lacks it):
  * feeding the calibrator ONE batch per ``collect_data`` call. ORT's histogram
    calibrators keep every intermediate output of a call in memory, so a whole
    512-image reader in one call would hold all activations of all images; one
    batch per call bounds memory and drives the progress bar;
  * ``calibration.json``: a small, readable file (tensor -> [min, max], method,
    percentile, image count, dataset sha256, sha256 of the model the names belong
    to) instead of ORT's cache format, which also stores every histogram;
  * the entropy threshold search itself, vectorised (``entropy.py``);
  * silencing the ``print`` calls inside ORT's histogram collector (they would
    corrupt ``--json`` output on stdout).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from resnet_deploy.artifact import Calibration
from resnet_deploy.atomic import write_text_atomic
from resnet_deploy.errors import ArtifactError, DataError

CALIBRATION_FILE = "calibration.json"
FORMAT_VERSION = 1

# ORT's entropy calibrator starts with num_bins histogram bins and searches
# thresholds between num_quantized_bins and num_bins: its default of 128/128 leaves
# a single candidate (= min/max). 2048/128 is TensorRT's choice; affordable with
# the vectorised search in ``entropy.py``.
_METHOD_OPTIONS: dict[str, dict[str, Any]] = {
    "minmax": {"symmetric": False},
    "entropy": {"symmetric": False, "num_bins": 2048, "num_quantized_bins": 128},
    # asymmetric histogram: ReLU outputs keep their full uint8 range on the cpu target;
    # the tensorrt target symmetrises at emission (ActivationSymmetric).
    "percentile": {"symmetric": False, "num_bins": 2048},
}


@dataclass
class CalibrationRanges:
    """Per-tensor activation ranges of one prepared model, and how they were obtained."""

    method: str
    percentile: float | None
    count: int
    dataset: str
    dataset_sha256: str
    model_sha256: str  # the prepared FP32 model whose tensor names the ranges use
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    seconds: float = 0.0
    onnxruntime: str = ""

    # -- persistence ------------------------------------------------------
    def to_json(self) -> str:
        d = asdict(self)
        d["ranges"] = {k: [float(lo), float(hi)] for k, (lo, hi) in sorted(self.ranges.items())}
        return json.dumps({"format_version": FORMAT_VERSION, **d}, indent=1) + "\n"

    def save(self, path: str | Path) -> Path:
        return write_text_atomic(path, self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> CalibrationRanges:
        try:
            d = json.loads(Path(path).read_text())
            if d.pop("format_version", None) != FORMAT_VERSION:
                raise ValueError("unknown format_version")
            d["ranges"] = {k: (float(v[0]), float(v[1])) for k, v in d["ranges"].items()}
            return cls(**d)
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise ArtifactError(
                f"{path} is not a readable calibration file ({exc}); delete it to calibrate again"
            ) from exc

    def matches(self, method: str, percentile: float | None, dataset_sha256: str, model_sha256: str) -> bool:
        """True when these ranges answer exactly this calibration request."""
        same_pct = method != "percentile" or (
            self.percentile is not None and percentile is not None and abs(self.percentile - percentile) < 1e-9
        )
        return (
            self.method == method
            and same_pct
            and self.dataset_sha256 == dataset_sha256
            and self.model_sha256 == model_sha256
        )

    def manifest_record(self) -> Calibration:
        """The typed ``manifest.calibration`` section."""
        return Calibration(
            method=self.method,
            percentile=self.percentile,
            count=self.count,
            dataset=self.dataset,
            dataset_sha256=self.dataset_sha256,
            file=CALIBRATION_FILE,
            seconds=round(self.seconds, 2),
            tensors=len(self.ranges),
        )

    def manifest_section(self) -> dict[str, Any]:
        """``manifest_record`` as a plain dict (results and reports)."""
        return self.manifest_record().to_dict()

    # -- hand-back to onnxruntime -------------------------------------------
    def write_ort_cache(self, path: str | Path) -> Path:
        """Write the ranges in ORT's calibration-cache format for ``quantize_static``."""
        from onnxruntime.quantization.calibrate import TensorData, TensorsData, save_tensors_data

        data = {
            name: TensorData(lowest=np.float32(lo), highest=np.float32(hi))
            for name, (lo, hi) in self.ranges.items()
        }
        save_tensors_data(TensorsData(ort_method(self.method), data), path)
        return Path(path)


def ort_method(method: str) -> Any:
    """Our method name -> ``onnxruntime.quantization.CalibrationMethod``."""
    from onnxruntime.quantization import CalibrationMethod

    return {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }[method]


class _OneBatch:
    """A CalibrationDataReader that yields one already-fetched feed dict, then None."""

    def __init__(self, feed: dict[str, np.ndarray]) -> None:
        self._feed: dict[str, np.ndarray] | None = feed

    def get_next(self) -> dict[str, np.ndarray] | None:
        feed, self._feed = self._feed, None
        return feed


def _feeds(reader: Any) -> Iterator[dict[str, np.ndarray]]:
    while True:
        feed = reader.get_next()
        if not feed:
            return
        yield feed


@contextlib.contextmanager
def quiet_ort() -> Iterator[None]:
    """Mute ORT's quantization chatter: prints to stdout and root-logger messages."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.CRITICAL)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        root.setLevel(level)


def calibrate(
    model_path: str | Path,
    reader: Any,
    *,
    method: str,
    percentile: float | None,
    work_dir: str | Path,
    dataset: str,
    dataset_sha256: str,
    model_sha256: str,
    on_batch: Callable[[int], None] | None = None,
) -> CalibrationRanges:
    """Run ORT's ``method`` calibrator over every batch of ``reader`` once.

    ``reader`` is an ``onnxruntime.quantization.CalibrationDataReader`` (e.g.
    ``resnet_deploy.data.CalibrationReader``); ``on_batch(n_images)`` is called
    after each batch (progress).
    """
    from onnxruntime import __version__ as ort_version

    start = time.perf_counter()
    with quiet_ort():
        calibrator = _make_calibrator(model_path, method, percentile, work_dir)
        count = _collect(calibrator, reader, on_batch)
        if count == 0:
            raise DataError(f"{dataset} gave no calibration images; point --calib-data at images")
        tensors = calibrator.compute_data()
    ranges = {}
    for name, td in tensors.items():
        lo, hi = td.range_value
        ranges[name] = (float(np.min(lo)), float(np.max(hi)))
    return CalibrationRanges(
        method=method,
        percentile=float(percentile) if method == "percentile" and percentile is not None else None,
        count=count,
        dataset=dataset,
        dataset_sha256=dataset_sha256,
        model_sha256=model_sha256,
        ranges=ranges,
        seconds=time.perf_counter() - start,
        onnxruntime=ort_version,
    )


def _make_calibrator(model_path: str | Path, method: str, percentile: float | None, work_dir: str | Path) -> Any:
    """ORT's calibrator for ``method`` over every float tensor (entropy: our vectorised search installed)."""
    from onnxruntime.quantization import create_calibrator

    options = dict(_METHOD_OPTIONS[method])
    if method == "percentile":
        options["percentile"] = float(percentile if percentile is not None else 99.99)
    calibrator = create_calibrator(
        Path(model_path),
        None,  # every float tensor: covers all targets and any later exclusion
        augmented_model_path=str(Path(work_dir) / "calibration-augmented.onnx"),
        calibrate_method=ort_method(method),
        extra_options=options,
    )
    if method == "entropy":
        from resnet_deploy.quantize.entropy import install

        install(calibrator)
    return calibrator


def _collect(calibrator: Any, reader: Any, on_batch: Callable[[int], None] | None) -> int:
    """Feed the calibrator one batch per ``collect_data`` call (bounded memory); returns the image count."""
    count = 0
    for feed in _feeds(reader):
        n = int(next(iter(feed.values())).shape[0])
        calibrator.collect_data(_OneBatch(feed))
        count += n
        if on_batch is not None:
            on_batch(n)
    return count

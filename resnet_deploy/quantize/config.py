"""QuantizeConfig / QuantizeResult: what the quantize stage is asked to do and what it did.

Kept free of onnx/onnxruntime imports so the CLI can validate options (and
fail with one line, exit 2) before any heavy module loads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from resnet_deploy.errors import ResNetDeployError

METHODS = ("entropy", "minmax", "percentile")
TARGETS = ("cpu", "tensorrt")
# Chosen by measurement on the trained sample models (benchmarks/results/int8.md,
# "Calibration method"): see DEFAULT_METHOD_REASON.
DEFAULT_METHOD = "minmax"
DEFAULT_METHOD_REASON = (
    "minmax was the only method within 0.5 top-1 points and >= 99% FP32 agreement for both "
    "targets on both trained sample models (percentile 99.99 missed 99% once, entropy on 3 of 4), "
    "and it calibrates fastest; see benchmarks/results/int8.md"
)
DEFAULT_PERCENTILE = 99.99


@dataclass
class QuantizeConfig:
    """Options of ``quantize_artifact``; ``validate()`` turns nonsense into one-line errors.

    ``calib_size=None`` means every image the calibration source has. ``max_drop``
    is in top-1 points vs FP32 on labelled eval data (agreement points without
    labels); None disables the accuracy guard. ``progress`` is anything with the
    ``cli._common.Output`` methods ``info``, ``status`` and ``progress``.
    """

    calib_data: str = "sample"
    calib_size: int | None = 512
    calib_method: str = DEFAULT_METHOD
    percentile: float = DEFAULT_PERCENTILE
    targets: tuple[str, ...] = TARGETS
    fp16: bool = False
    max_drop: float | None = None
    eval_data: str | None = None
    batch_size: int = 32
    progress: Any = None
    eval_size: int | None = 1000  # eval images held in memory (seeded subset); None: all of them
    report_size: int = 64  # images used for the per-layer SQNR report / sensitivity ranking
    max_rounds: int = 8  # accuracy-guard re-emissions per target
    recalibrate: bool = False  # ignore a matching calibration.json and calibrate again

    def validate(self) -> QuantizeConfig:
        """Check every field before any work; returns self with targets normalised."""
        if self.calib_method not in METHODS:
            raise ResNetDeployError(
                f"unknown calibration method '{self.calib_method}'; choose one of {', '.join(METHODS)}"
            )
        if isinstance(self.targets, str):
            self.targets = tuple(t.strip() for t in self.targets.split(",") if t.strip())
        self.targets = tuple(dict.fromkeys(self.targets))
        bad = [t for t in self.targets if t not in TARGETS]
        if bad:
            raise ResNetDeployError(
                f"unknown INT8 target '{bad[0]}'; choose from {', '.join(TARGETS)} (comma-separated)"
            )
        if not self.targets and not self.fp16:
            raise ResNetDeployError("nothing to do: give at least one --targets entry or --fp16")
        _positive_int(self.calib_size, "calibration size (--calib-size)", allow_none=True)
        _positive_int(self.batch_size, "batch size", allow_none=False)
        _positive_int(self.eval_size, "eval size", allow_none=True)
        _positive_int(self.report_size, "report size", allow_none=False)
        _positive_int(self.max_rounds, "max rounds", allow_none=False)
        if not isinstance(self.percentile, (int, float)) or not (50.0 < float(self.percentile) <= 100.0):
            raise ResNetDeployError(
                f"--percentile must be a number in (50, 100], e.g. 99.99; got {self.percentile!r}"
            )
        if self.max_drop is not None and (
            not isinstance(self.max_drop, (int, float))
            or math.isnan(float(self.max_drop))
            or not (0.0 <= float(self.max_drop) <= 100.0)
        ):
            raise ResNetDeployError(
                f"--max-drop is in top-1 percentage points from 0 to 100 (e.g. 0.5); got {self.max_drop!r}"
            )
        if not isinstance(self.calib_data, str) or not self.calib_data.strip():
            raise ResNetDeployError("--calib-data is empty; pass a directory, a .npy/.npz file, or 'sample'")
        return self

    def describe_calibration(self) -> dict[str, Any]:
        """The calibration facts that decide whether saved ranges can be reused."""
        return {
            "method": self.calib_method,
            "percentile": float(self.percentile) if self.calib_method == "percentile" else None,
        }


def _positive_int(value: Any, what: str, *, allow_none: bool) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ResNetDeployError(f"{what} must be a positive integer, got {value!r}; pass 1 or more")


@dataclass
class TargetResult:
    """One emitted INT8 model."""

    target: str
    path: Path
    size: int
    size_ratio: float  # INT8 file size / FP32 file size
    drift: dict[str, Any]
    excluded_nodes: list[str] = field(default_factory=list)
    rounds: int = 1
    fusion: dict[str, int] | None = None  # cpu only: Conv fused into int8 kernels by ORT


@dataclass
class QuantizeResult:
    """What ``quantize_artifact`` wrote and measured (rendered by the CLI, JSON-able)."""

    artifact_dir: Path
    calibration: dict[str, Any]
    calibration_reused: bool
    targets: dict[str, TargetResult] = field(default_factory=dict)
    fp16: dict[str, Any] | None = None
    worst_layers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def relocated(self, artifact_dir: Path) -> QuantizeResult:
        """The same result for the artifact once published under ``artifact_dir`` (pipeline.py)."""
        targets = {k: replace(t, path=artifact_dir / t.path.name) for k, t in self.targets.items()}
        return replace(self, artifact_dir=artifact_dir, targets=targets)

    def to_dict(self) -> dict[str, Any]:
        return {
            "artifact": str(self.artifact_dir),
            "calibration": dict(self.calibration, reused=self.calibration_reused),
            "targets": {
                k: {
                    "file": t.path.name,
                    "size": t.size,
                    "size_ratio": round(t.size_ratio, 4),
                    "drift": t.drift,
                    "excluded_nodes": t.excluded_nodes,
                    "rounds": t.rounds,
                    "fusion": t.fusion,
                }
                for k, t in self.targets.items()
            },
            "fp16": self.fp16,
            "worst_layers": self.worst_layers,
            "notes": self.notes,
        }

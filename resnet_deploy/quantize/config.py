"""QuantizeConfig / QuantizeResult: what the quantize stage is asked to do and what it did.

Kept free of onnx/onnxruntime imports so the CLI can validate options (and
fail with one line, exit 2) before any heavy module loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from resnet_deploy.checks import (
    check_bool,
    check_choice,
    check_int,
    check_nonempty_str,
    check_number,
)
from resnet_deploy.errors import ConfigError
from resnet_deploy.metrics import Drift

METHODS = ("entropy", "minmax", "percentile")
TARGETS = ("cpu", "tensorrt", "openvino")
# Chosen by measurement on the trained demo models (benchmarks/results/int8.md,
# "Calibration method"): see DEFAULT_METHOD_REASON.
DEFAULT_METHOD = "minmax"
DEFAULT_METHOD_REASON = (
    "minmax was the only method within 0.5 top-1 points and >= 99% FP32 agreement for both "
    "targets on both trained demo models (percentile 99.99 missed 99% once, entropy on 3 of 4), "
    "and it calibrates fastest; see benchmarks/results/int8.md"
)
DEFAULT_PERCENTILE = 99.99


@dataclass
class QuantizeConfig:
    """Options of ``quantize_artifact``; validated on construction (one-line ConfigError).

    ``calib_size=None`` means every image the calibration source has. ``max_drop``
    is in top-1 points vs FP32 on labelled eval data (agreement points without
    labels); None disables the accuracy guard. Progress goes to the ``reporter``
    argument of ``quantize_artifact``, not here.
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
    eval_size: int | None = 1000  # eval images held in memory (seeded subset); None: all of them
    report_size: int = 64  # images used for the per-layer SQNR report / sensitivity ranking
    max_rounds: int = 8  # accuracy-guard re-emissions per target
    recalibrate: bool = False  # ignore a matching calibration.json and calibrate again

    def __post_init__(self) -> None:
        if isinstance(self.targets, str):  # "cpu,tensorrt" from a caller or a CLI flag
            self.targets = tuple(t.strip().lower() for t in self.targets.split(",") if t.strip())
        if isinstance(self.targets, (list, tuple)):
            self.targets = tuple(dict.fromkeys(self.targets))
        self.validate()

    def validate(self) -> None:
        """Check every field before any work (also called again by ``quantize_artifact``)."""
        check_choice(self.calib_method, "calibration method", METHODS)
        if not isinstance(self.targets, tuple):
            raise ConfigError(f"INT8 targets must be a tuple of names, got {self.targets!r}; "
                              f"pass e.g. ('cpu', 'tensorrt', 'openvino')")
        bad = [t for t in self.targets if t not in TARGETS]
        if bad:
            raise ConfigError(
                f"unknown INT8 target '{bad[0]}'; choose from {', '.join(TARGETS)} (comma-separated)"
            )
        if not self.targets and not self.fp16:
            raise ConfigError("nothing to do: no INT8 targets and no --fp16; give at least one --targets entry or --fp16")
        check_int(self.calib_size, "calibration size (--calib-size)", allow_none=True,
                  hint="pass e.g. 512, or 'all' on the command line")
        check_int(self.batch_size, "batch size", hint="pass e.g. 32")
        check_int(self.eval_size, "eval size", allow_none=True, hint="pass e.g. 1000, or None for all images")
        check_int(self.report_size, "report size", hint="pass e.g. 64")
        check_int(self.max_rounds, "max rounds", hint="pass e.g. 8")
        check_number(self.percentile, "--percentile", minimum=50.0, maximum=100.0, exclusive_minimum=True,
                     hint="pass e.g. 99.99")
        check_number(self.max_drop, "--max-drop (top-1 percentage points)", minimum=0.0, maximum=100.0,
                     allow_none=True, hint="pass e.g. 0.5")
        check_nonempty_str(self.calib_data, "--calib-data",
                           hint="pass a directory, a .npy/.npz file, or 'sample'")
        for flag in ("fp16", "recalibrate"):
            check_bool(getattr(self, flag), flag)

    def describe_calibration(self) -> dict[str, Any]:
        """The calibration facts that decide whether saved ranges can be reused."""
        return {
            "method": self.calib_method,
            "percentile": float(self.percentile) if self.calib_method == "percentile" else None,
        }


@dataclass
class TargetResult:
    """One emitted INT8 model."""

    target: str
    path: Path
    size: int
    size_ratio: float  # INT8 file size / FP32 file size
    drift: Drift
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
                    "drift": t.drift.to_dict(),
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

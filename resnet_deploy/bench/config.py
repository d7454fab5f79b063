"""BenchConfig: what ``run_bench`` is asked to do, validated before any work (one-line errors)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnet_deploy.bench.drift import EVAL_MODES
from resnet_deploy.bench.peer import PRESETS
from resnet_deploy.bench.scenarios import DEFAULT_SERVER_BOUND_MS, parse_scenarios
from resnet_deploy.bench.select import check_strategy
from resnet_deploy.bench.timing import TimingPlan
from resnet_deploy.errors import ResNetDeployError

DEFAULT_MAX_BATCH = 32


@dataclass
class BenchConfig:
    """Options of ``run_bench``.

    ``backends``: backend specs (``onnxruntime``, ``onnxruntime:int8-cpu``); None = every
    (backend, file) pair of the artifact. ``batch_sizes``: None = 1, 2, 4, ... up to
    ``max_batch`` (only 1 when the scenarios need nothing else). ``iterations`` and/or
    ``time_budget`` (seconds per backend and batch size; 1 s when neither is given).
    ``threads``: None = every usable core; the same count goes to every runner and the
    peer. ``eval_data``: a data spec ("sample" = built-in held-out set) or None to skip
    drift. ``max_drop`` is in top-1 percentage points. ``progress`` is anything with the
    ``cli._common.Output`` methods ``info``, ``status`` and ``progress``.
    """

    backends: list[str] | None = None
    batch_sizes: list[int] | None = None
    max_batch: int = DEFAULT_MAX_BATCH
    scenarios: tuple[str, ...] | str = "all"
    warmup: int = 10
    iterations: int | None = None
    time_budget: float | None = None
    repeats: int = 1
    threads: int | None = None
    eval_data: str | None = "sample"
    eval_mode: str = "center"
    eval_size: int | None = None
    eval_batch: int = 32
    calib_data: str | None = None  # None: the data our INT8 was calibrated on (manifest.calibration)
    calib_size: int | None = None
    peer: bool = True
    peer_preset: str = "performance"
    paired_rounds: int = 0  # head-to-head rounds vs the peer after the table (bench.paired); 0 = none
    server_bound_ms: float = DEFAULT_SERVER_BOUND_MS
    server_rate: float | None = None
    out_dir: Path | None = None  # default: <artifact>/bench
    select: str | None = None
    max_drop: float | None = None
    record: bool = True  # write manifest.bench (and manifest.selection with ``select``)
    plots: bool = True
    progress: Any = None
    argv: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # free-form facts for the report

    def validate(self) -> BenchConfig:
        """Normalise fields; raise a one-line ResNetDeployError for nonsense."""
        try:
            self.scenarios = parse_scenarios(self.scenarios)
        except ValueError as exc:
            raise ResNetDeployError(str(exc)) from None
        if self.batch_sizes is not None:
            if not self.batch_sizes or any(_bad_int(b) for b in self.batch_sizes):
                raise ResNetDeployError(
                    f"batch sizes must be positive integers like 1,8,32; got {self.batch_sizes!r}"
                )
            self.batch_sizes = sorted(set(int(b) for b in self.batch_sizes))
        for name in ("max_batch", "repeats", "eval_batch"):
            if _bad_int(getattr(self, name)):
                raise ResNetDeployError(f"{name.replace('_', ' ')} must be a positive integer, got {getattr(self, name)!r}; pass 1 or more")
        for name in ("threads", "iterations", "eval_size", "calib_size"):
            value = getattr(self, name)
            if value is not None and _bad_int(value):
                raise ResNetDeployError(
                    f"--{name.replace('_', '-')} must be a positive integer, got {value!r}; pass 1 or more"
                )
        if isinstance(self.paired_rounds, bool) or not isinstance(self.paired_rounds, int) or self.paired_rounds < 0:
            raise ResNetDeployError(f"--paired-rounds must be an integer >= 0, got {self.paired_rounds!r}; pass 0 to skip them")
        if isinstance(self.warmup, bool) or not isinstance(self.warmup, int) or self.warmup < 0:
            raise ResNetDeployError(f"warm-up must be an integer >= 0, got {self.warmup!r}; pass 0 or more")
        if self.time_budget is not None and not _positive(self.time_budget):
            raise ResNetDeployError(
                f"--time-budget must be a positive number of seconds, got {self.time_budget!r}; pass e.g. 1.5"
            )
        if not _positive(self.server_bound_ms):
            raise ResNetDeployError(f"server latency bound must be positive (ms), got {self.server_bound_ms!r}; pass e.g. 10")
        if self.server_rate is not None and not _positive(self.server_rate):
            raise ResNetDeployError(f"server rate must be positive (queries/s), got {self.server_rate!r}; pass e.g. 100")
        if self.eval_mode not in EVAL_MODES:
            raise ResNetDeployError(f"unknown --eval-mode '{self.eval_mode}'; choose center or ten-crop")
        if self.peer_preset not in PRESETS:
            raise ResNetDeployError(f"unknown NNCF preset '{self.peer_preset}'; choose performance or mixed")
        check_strategy(self.select, self.max_drop)
        if self.max_drop is not None and self.eval_data is None:
            raise ResNetDeployError("--max-drop needs accuracy numbers; give --eval-data (e.g. sample)")
        if self.backends is not None:
            self.backends = [b.strip() for b in self.backends if b and b.strip()]
            if not self.backends:
                raise ResNetDeployError("--backends is empty; give names like onnxruntime,openvino")
        return self

    @property
    def plan(self) -> TimingPlan:
        return TimingPlan(warmup=self.warmup, iterations=self.iterations, time_budget=self.time_budget)

    def sweep_sizes(self) -> list[int]:
        """The batch sizes to time (1 is always included when a scenario needs it)."""
        needs_one = "single-stream" in self.scenarios or "server" in self.scenarios
        if self.batch_sizes is not None:
            sizes = set(self.batch_sizes)
        elif "offline" in self.scenarios:
            sizes, b = set(), 1
            while b <= self.max_batch:
                sizes.add(b)
                b *= 2
        else:
            sizes = {1}
        if needs_one:
            sizes.add(1)
        return sorted(sizes)

    def describe(self) -> dict[str, Any]:
        """JSON-ready view for the report (no callables)."""
        return {
            "backends": self.backends, "batch_sizes": self.sweep_sizes(), "scenarios": list(self.scenarios),
            "warmup": self.warmup, "iterations": self.iterations, "time_budget": self.plan.budget_s,
            "repeats": self.repeats, "threads": self.threads, "eval_data": self.eval_data,
            "eval_mode": self.eval_mode, "eval_size": self.eval_size, "calib_data": self.calib_data,
            "calib_size": self.calib_size, "peer": self.peer, "peer_preset": self.peer_preset,
            "paired_rounds": self.paired_rounds,
            "server_bound_ms": self.server_bound_ms, "server_rate": self.server_rate,
            "select": self.select, "max_drop": self.max_drop, "timing": self.plan.describe(), **self.extra,
        }


def _bad_int(v: Any) -> bool:
    return isinstance(v, bool) or not isinstance(v, int) or v < 1


def _positive(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0

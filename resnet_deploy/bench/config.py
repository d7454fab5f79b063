"""BenchConfig: what ``run_bench`` is asked to do, validated before any work (one-line errors)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnet_deploy.bench.drift import EVAL_MODES
from resnet_deploy.bench.peer import PRESETS
from resnet_deploy.bench.scenarios import DEFAULT_SERVER_BOUND_MS, parse_scenarios
from resnet_deploy.bench.select import check_strategy
from resnet_deploy.bench.timing import TimingPlan
from resnet_deploy.checks import check_choice, check_int, check_int_list, check_number, is_int
from resnet_deploy.errors import ConfigError

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
    drift. ``max_drop`` is in top-1 percentage points. Progress goes to the ``reporter``
    argument of ``run_bench``, not here.
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
    retime: int = 0  # times a noisy row (busy neighbours or a slow host, bench.hostprobe) is timed again;
    # the CLI's bench asks for 1, quickstart and the suite for 2
    server_bound_ms: float = DEFAULT_SERVER_BOUND_MS
    server_rate: float | None = None
    live_server: bool = False  # also run the Server scenario for real against `serve` (bench.live_server)
    server_rates: list[float] | None = None  # offered rates for the live run; None: around the simulation's
    live_seconds: float = 5.0  # per offered rate and protocol
    out_dir: Path | None = None  # default: <artifact>/bench
    select: str | None = None
    max_drop: float | None = None
    record: bool = True  # write manifest.bench (and manifest.selection with ``select``)
    plots: bool = True
    argv: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # free-form facts for the report

    def __post_init__(self) -> None:
        """Normalise what has one obvious canonical form, then refuse nonsense (a config is never invalid)."""
        if isinstance(self.scenarios, (str, list, tuple)):
            try:
                self.scenarios = parse_scenarios(self.scenarios)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        if isinstance(self.batch_sizes, (list, tuple)) and all(is_int(b) for b in self.batch_sizes):
            self.batch_sizes = sorted(set(int(b) for b in self.batch_sizes))
        if isinstance(self.backends, (list, tuple)):
            self.backends = [b.strip() for b in self.backends if isinstance(b, str) and b.strip()]
        self.validate()

    def validate(self) -> None:
        """One-line ConfigError for nonsense (also called again by ``run_bench``)."""
        if not isinstance(self.scenarios, tuple) or not self.scenarios:
            raise ConfigError(f"scenarios must be a tuple of names, got {self.scenarios!r}; pass e.g. 'all'")
        if self.batch_sizes is not None:
            check_int_list(self.batch_sizes, "batch sizes", hint="pass positive integers like 1,8,32")
        check_int(self.max_batch, "--max-batch", hint="pass e.g. 32")
        check_int(self.repeats, "--repeats", hint="pass e.g. 3")
        check_int(self.eval_batch, "eval batch size", hint="pass e.g. 32")
        for name in ("threads", "iterations", "eval_size", "calib_size"):
            check_int(getattr(self, name), f"--{name.replace('_', '-')}", allow_none=True,
                      hint="pass e.g. 4, or leave it out")
        check_int(self.paired_rounds, "--paired-rounds", minimum=0, hint="pass e.g. 5, or 0 for none")
        check_int(self.retime, "--retime", minimum=0, hint="pass e.g. 1, or 0 to keep noisy rows as they are")
        check_int(self.warmup, "--warmup", minimum=0, hint="pass e.g. 10")
        check_number(self.time_budget, "--time-budget (seconds)", minimum=0, exclusive_minimum=True,
                     allow_none=True, hint="pass e.g. 1.0")
        check_number(self.server_bound_ms, "server latency bound (ms)", minimum=0, exclusive_minimum=True,
                     hint="pass e.g. 15")
        check_number(self.server_rate, "server rate (queries/s)", minimum=0, exclusive_minimum=True,
                     allow_none=True, hint="pass e.g. 100")
        check_number(self.live_seconds, "--live-seconds", minimum=0, exclusive_minimum=True, hint="pass e.g. 5")
        for rate in self.server_rates or []:
            check_number(rate, "--server-rates", minimum=0, exclusive_minimum=True, hint="pass e.g. 20,50,100")
        check_choice(self.eval_mode, "--eval-mode", EVAL_MODES)
        check_choice(self.peer_preset, "NNCF preset", PRESETS)
        check_strategy(self.select, self.max_drop)
        if self.max_drop is not None and self.eval_data is None:
            raise ConfigError("--max-drop needs accuracy numbers; give --eval-data (e.g. sample)")
        if self.backends is not None and not self.backends:
            raise ConfigError("--backends is empty; give names like onnxruntime,openvino")

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
            "paired_rounds": self.paired_rounds, "retime": self.retime,
            "server_bound_ms": self.server_bound_ms, "server_rate": self.server_rate,
            "live_server": self.live_server, "server_rates": self.server_rates, "live_seconds": self.live_seconds,
            "select": self.select, "max_drop": self.max_drop, "timing": self.plan.describe(), **self.extra,
        }


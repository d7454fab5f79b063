"""The timing loop: warm-up, then timed calls by count and/or time budget.

Each sample is ``time.perf_counter_ns()`` around ``runner.infer(batch)`` followed by
``runner.synchronize()``. CPU runners return finished results so ``synchronize`` is
a no-op; GPU runners (TensorRT, ORT-CUDA, torch on CUDA) wait for their stream
inside ``synchronize`` (CUDA events / stream sync), so the wall-clock sample covers
the device work too and never just the launch. The input batch is built once,
before timing, so data preparation is never measured.

Harness overhead is measured with ``NullRunner`` (returns a preallocated array):
its per-call time is what the loop itself adds to every sample.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from resnet_deploy.artifact import FileEntry, Manifest, ModelInfo
from resnet_deploy.bench.stats import BatchResult, LatencyStats
from resnet_deploy.runtime.base import Runner

DEFAULT_TIME_BUDGET_S = 1.0
MAX_SAMPLES = 200_000


@dataclass(frozen=True)
class TimingPlan:
    """How long to time one (backend, batch size): a count, a budget, or both (first wins)."""

    warmup: int = 10
    iterations: int | None = None
    time_budget: float | None = None  # seconds of timed calls
    min_iterations: int = 5  # a time budget never yields fewer samples than this

    @property
    def budget_s(self) -> float | None:
        if self.iterations is None and self.time_budget is None:
            return DEFAULT_TIME_BUDGET_S
        return self.time_budget

    def describe(self) -> str:
        parts = [f"warmup {self.warmup}"]
        if self.iterations is not None:
            parts.append(f"{self.iterations} iterations")
        if self.budget_s is not None:
            parts.append(f"{self.budget_s:g} s budget")
        return ", ".join(parts)


def make_input(shape: Sequence[int], batch: int, seed: int = 0) -> np.ndarray:
    """A deterministic float32 NCHW batch (standard-normal, like normalised pixels)."""
    c, h, w = (int(v) for v in shape[-3:])
    rng = np.random.default_rng(seed)
    return np.ascontiguousarray(rng.standard_normal((batch, c, h, w), dtype=np.float32))


def time_calls(runner: Runner, batch: np.ndarray, plan: TimingPlan) -> np.ndarray:
    """Per-call wall times in ns (int64) after ``plan.warmup`` untimed calls."""
    infer, sync, clock = runner.infer, runner.synchronize, time.perf_counter_ns
    for _ in range(max(0, plan.warmup)):
        infer(batch)
        sync()
    cap = plan.iterations if plan.iterations is not None else MAX_SAMPLES
    budget = plan.budget_s
    deadline = clock() + int(budget * 1e9) if budget is not None else None
    floor = min(cap, max(1, plan.min_iterations))
    samples = np.empty(cap, dtype=np.int64)
    n = 0
    while n < cap:
        t0 = clock()
        infer(batch)
        sync()
        t1 = clock()
        samples[n] = t1 - t0
        n += 1
        if deadline is not None and t1 >= deadline and n >= floor:
            break
    return samples[:n].copy()


def sweep(
    runner: Runner,
    input_shape: Sequence[int],
    batch_sizes: Sequence[int],
    plan: TimingPlan,
    repeats: int = 1,
    on_step: Callable[[str], None] | None = None,
) -> tuple[list[BatchResult], dict[int, np.ndarray], dict[int, str]]:
    """Time every batch size ``repeats`` times.

    Returns the results, the pooled raw samples per batch (ns) for plots and the
    server simulation, and batch sizes that were skipped with the reason (above
    an engine profile's maximum, or out of memory).
    """
    results: list[BatchResult] = []
    raw: dict[int, np.ndarray] = {}
    skipped: dict[int, str] = {}
    limit = runner.max_batch
    for bs in batch_sizes:
        if limit is not None and bs > limit:
            skipped[bs] = f"above the runner's maximum batch {limit}"
            continue
        if on_step is not None:
            on_step(f"{runner.name} batch {bs}")
        x = make_input(input_shape, bs)
        try:
            reps = [time_calls(runner, x, plan) for _ in range(max(1, repeats))]
        except MemoryError:
            skipped[bs] = "out of memory"
            continue
        results.append(BatchResult.from_reps(bs, reps))
        raw[bs] = np.concatenate(reps)
    return results, raw, skipped


class NullRunner(Runner):
    """Returns a preallocated array: times the harness itself, not a model."""

    backend = "null"
    formats = ("other",)

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__(
            ".", Manifest(model=ModelInfo(arch="null", num_classes=num_classes)),
            FileEntry(path="null", format="other"),
        )
        self._out = np.zeros((1, num_classes), dtype=np.float32)

    def _activate(self) -> None:
        pass

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        return self._out


def measure_harness_overhead(iterations: int = 5000, repeats: int = 3) -> LatencyStats:
    """Per-call cost of the timing loop (ns-level): the best of ``repeats`` runs of NullRunner."""
    runner = NullRunner()
    runner.activate()
    x = make_input((3, 8, 8), 1)
    plan = TimingPlan(warmup=100, iterations=iterations)
    runs = [LatencyStats.from_ns(time_calls(runner, x, plan)) for _ in range(max(1, repeats))]
    return min(runs, key=lambda s: s.mean)


def overhead_percent(overhead: LatencyStats, reference_ms: float) -> float:
    """Harness cost as a share of a real model's per-call latency (mean vs p50)."""
    return 100.0 * overhead.mean / reference_ms if reference_ms > 0 else float("inf")

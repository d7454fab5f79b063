"""The timing loop: warm-up, then timed calls by count and/or time budget.

Defined in runtime (not bench) because ``load(backend="auto")`` times CPU INT8
candidates with it at load, and runtime may not import bench; the benchmark
(``bench.timing``, ``bench.paired``) uses the same loop. Each sample is
``time.perf_counter_ns()`` around ``runner.infer(batch)`` + ``runner.synchronize()``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

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


def make_input(shape: Sequence[int], batch: int, seed: int = 0, dtype: str | np.dtype = "float32") -> np.ndarray:
    """A deterministic batch of ``shape``'s last three axes: standard-normal float32 (like normalised
    pixels), or uniform 0-255 integers for an integer dtype (a raw-pixel file's uint8 NHWC)."""
    dims = tuple(int(v) for v in shape[-3:])
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind in "ui":
        return np.ascontiguousarray(rng.integers(0, 256, size=(batch, *dims)).astype(dtype))
    return np.ascontiguousarray(rng.standard_normal((batch, *dims), dtype=np.float32))


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

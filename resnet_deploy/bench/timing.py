"""Batch-size sweeps and the harness-overhead check around the timing loop.

The loop (``TimingPlan``, ``make_input``, ``time_calls``) is defined in
``runtime.timing`` and re-exported here. Each sample is ``time.perf_counter_ns()``
around ``runner.infer(batch)`` followed by ``runner.synchronize()``. CPU runners return finished results so ``synchronize`` is
a no-op; GPU runners (TensorRT, ORT-CUDA, torch on CUDA) wait for their stream
inside ``synchronize`` (CUDA events / stream sync), so the wall-clock sample covers
the device work too and never just the launch. The input batch is built once,
before timing, so data preparation is never measured.

Harness overhead is measured with ``NullRunner`` (returns a preallocated array):
its per-call time is what the loop itself adds to every sample.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from resnet_deploy.artifact import FileEntry, Manifest, ModelInfo
from resnet_deploy.bench.stats import BatchResult, LatencyStats
from resnet_deploy.runtime.base import Runner

# The loop itself lives in runtime (``backend="auto"`` times candidates at load with it);
# these names stay importable from here.
from resnet_deploy.runtime.timing import (  # noqa: F401
    DEFAULT_TIME_BUDGET_S,
    MAX_SAMPLES,
    TimingPlan,
    make_input,
    time_calls,
)


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

"""The timing loop: counts, budgets, synchronize, harness overhead."""

from __future__ import annotations

import time

import numpy as np

from resnet_deploy.bench.timing import (
    NullRunner,
    TimingPlan,
    make_input,
    measure_harness_overhead,
    overhead_percent,
    sweep,
    time_calls,
)


class CountingRunner(NullRunner):
    """Records every call, optionally sleeping to simulate work; synchronize adds device time."""

    def __init__(self, sleep_s: float = 0.0, sync_s: float = 0.0, max_batch: int | None = None) -> None:
        super().__init__(num_classes=3)
        self.sleep_s, self.sync_s, self._max = sleep_s, sync_s, max_batch
        self.calls: list[str] = []

    @property
    def max_batch(self) -> int | None:
        return self._max

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        self.calls.append("infer")
        if self.sleep_s:
            time.sleep(self.sleep_s)
        return np.zeros((batch.shape[0], 3), np.float32)

    def synchronize(self) -> None:
        self.calls.append("sync")
        if self.sync_s:
            time.sleep(self.sync_s)


def test_iterations_and_warmup_are_exact_and_sync_follows_each_infer() -> None:
    r = CountingRunner()
    out = time_calls(r, make_input((3, 4, 4), 2), TimingPlan(warmup=3, iterations=7))
    assert out.dtype == np.int64 and out.shape == (7,) and np.all(out > 0)
    assert r.calls == ["infer", "sync"] * 10


def test_synchronize_time_is_inside_each_sample() -> None:
    r = CountingRunner(sync_s=0.003)
    out = time_calls(r, make_input((3, 4, 4), 1), TimingPlan(warmup=0, iterations=5))
    assert np.all(out >= 3_000_000)


def test_time_budget_stops_the_loop() -> None:
    r = CountingRunner(sleep_s=0.002)
    t0 = time.perf_counter()
    out = time_calls(r, make_input((3, 4, 4), 1), TimingPlan(warmup=0, time_budget=0.05))
    assert 5 <= out.size <= 30
    assert time.perf_counter() - t0 < 1.0


def test_budget_keeps_a_minimum_and_iterations_cap_it() -> None:
    r = CountingRunner(sleep_s=0.001)
    assert time_calls(r, make_input((3, 4, 4), 1), TimingPlan(warmup=0, time_budget=1e-6)).size == 5
    assert time_calls(r, make_input((3, 4, 4), 1), TimingPlan(warmup=0, iterations=3, time_budget=10)).size == 3


def test_sweep_skips_batches_above_the_runner_limit() -> None:
    r = CountingRunner(max_batch=4)
    results, raw, skipped = sweep(r, (3, 4, 4), [1, 4, 8], TimingPlan(warmup=1, iterations=4), repeats=2)
    assert [b.batch for b in results] == [1, 4]
    assert raw[1].size == 8 and len(results[0].rep_p50) == 2
    assert "maximum batch 4" in skipped[8]


def test_make_input_is_deterministic_float32_nchw() -> None:
    a, b = make_input((3, 8, 8), 4), make_input((3, 8, 8), 4)
    assert a.shape == (4, 3, 8, 8) and a.dtype == np.float32 and a.flags.c_contiguous
    assert np.array_equal(a, b)


def test_harness_overhead_is_microseconds() -> None:
    s = measure_harness_overhead(iterations=2000, repeats=2)
    assert s.n == 2000
    assert s.mean < 0.05  # ms: the loop adds well under 50 us per call even on a busy machine
    assert overhead_percent(s, 10.0) == 100 * s.mean / 10.0

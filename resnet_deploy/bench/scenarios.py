"""MLPerf-style scenarios computed from measured timings.

* SingleStream: batch 1, queries back to back; the metric is the p90 latency.
* Offline: all queries available at once; the metric is the best images/s over
  the measured batch sizes.
* Server: Poisson arrivals at a rate, one worker serving a FIFO queue at batch 1;
  the metric is the highest rate whose p99 latency (queueing + service) stays
  under a bound. This is a DISCRETE-EVENT SIMULATION, not a real-time load test:
  service times are resampled from the MEASURED batch-1 latencies of the backend
  and pushed through the single-server queue (Lindley recursion). It assumes that
  service times do not change under load (no batching, no contention), which
  holds for one worker on a dedicated machine, and it makes the search cheap and
  reproducible (fixed seed, common random numbers, so p99 is monotone in rate).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from resnet_deploy.bench.stats import BatchResult

SCENARIOS = ("single-stream", "offline", "server")
# MLPerf Inference datacenter Server bound for ResNet-50: p99 within 15 ms.
DEFAULT_SERVER_BOUND_MS = 15.0
SERVER_METHOD = (
    "discrete-event simulation: Poisson arrivals, one FIFO worker at batch 1, "
    "service times resampled from the measured batch-1 latencies"
)


def parse_scenarios(value: str | Sequence[str]) -> tuple[str, ...]:
    """'all' | 'single-stream' | ... | a list -> validated tuple (raises ValueError)."""
    items = [value] if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in items:
        for name in str(item).split(","):
            name = name.strip().lower().replace("_", "-")
            if not name:
                continue
            if name == "all":
                return SCENARIOS
            if name not in SCENARIOS:
                raise ValueError(f"unknown scenario '{name}'; choose single-stream, offline, server or all")
            if name not in out:
                out.append(name)
    if not out:
        raise ValueError("no scenario given; choose single-stream, offline, server or all")
    return tuple(out)


def single_stream(batch1: BatchResult) -> dict[str, Any]:
    """SingleStream summary from the batch-1 timing."""
    lat = batch1.latency
    return {"p90_ms": lat.p90, "p50_ms": lat.p50, "mean_ms": lat.mean, "n": lat.n,
            "qps": 1000.0 / lat.mean if lat.mean > 0 else 0.0}


def offline(results: Sequence[BatchResult]) -> dict[str, Any]:
    """Offline summary: the batch size with the highest images/s."""
    best = max(results, key=lambda r: r.throughput)
    return {"throughput": best.throughput, "batch": best.batch,
            "by_batch": {str(r.batch): r.throughput for r in results}}


def simulate_queue(
    service_ms: np.ndarray, rate_qps: float, n_queries: int = 50_000, seed: int = 0
) -> np.ndarray:
    """Latency (ms, queueing + service) of each query in a single-worker FIFO queue.

    Arrivals are Poisson at ``rate_qps``; service times are drawn with replacement
    from ``service_ms``. Uses finish_i = S_i + max_{k<=i}(a_k - S_{k-1}) (the
    Lindley recursion in closed form), so it is vectorised.
    """
    if rate_qps <= 0:
        raise ValueError("arrival rate must be positive")
    rng = np.random.default_rng(seed)
    gaps = rng.standard_exponential(n_queries) * (1000.0 / rate_qps)
    arrivals = np.cumsum(gaps)
    service = rng.choice(np.asarray(service_ms, dtype=np.float64), size=n_queries, replace=True)
    done = np.cumsum(service)
    before = done - service  # S_{i-1}
    finish = done + np.maximum.accumulate(arrivals - before)
    return finish - arrivals


@dataclass
class ServerResult:
    """The Server scenario for one backend."""

    bound_ms: float
    max_rate_qps: float
    p99_at_max_ms: float | None
    p50_at_max_ms: float | None
    utilisation: float  # max rate x mean service time
    capacity_qps: float  # 1 / mean service time: the queue's stability limit
    n_queries: int
    method: str = SERVER_METHOD
    note: str = ""
    target_qps: float | None = None
    p99_at_target_ms: float | None = None
    curve: list[list[float]] = field(default_factory=list)  # [[rate, p99], ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def p99_at(service_ms: np.ndarray, rate: float, n_queries: int, seed: int) -> float:
    return float(np.percentile(simulate_queue(service_ms, rate, n_queries, seed), 99))


def server(
    service_ms: np.ndarray,
    bound_ms: float = DEFAULT_SERVER_BOUND_MS,
    target_qps: float | None = None,
    n_queries: int = 50_000,
    seed: int = 0,
    tolerance: float = 0.005,
) -> ServerResult:
    """Highest Poisson rate whose simulated p99 latency is within ``bound_ms``.

    Geometric bisection between 0.1 % of the queue's capacity (1 / mean service
    time) and the capacity, to ``tolerance`` relative precision.
    """
    service = np.asarray(service_ms, dtype=np.float64)
    mean = float(service.mean())
    capacity = 1000.0 / mean
    res = ServerResult(bound_ms=bound_ms, max_rate_qps=0.0, p99_at_max_ms=None, p50_at_max_ms=None,
                       utilisation=0.0, capacity_qps=capacity, n_queries=n_queries)
    if target_qps:
        res.target_qps = float(target_qps)
        res.p99_at_target_ms = p99_at(service, target_qps, n_queries, seed)
    lo, hi = capacity * 1e-3, capacity
    if p99_at(service, lo, n_queries, seed) > bound_ms:
        res.note = "the service time alone exceeds the bound at any rate"
        return res
    while hi / lo > 1.0 + tolerance:  # geometric bisection: relative precision at any rate
        mid = math.sqrt(lo * hi)
        if p99_at(service, mid, n_queries, seed) <= bound_ms:
            lo = mid
        else:
            hi = mid
    lat = simulate_queue(service, lo, n_queries, seed)
    res.max_rate_qps = lo
    res.p99_at_max_ms = float(np.percentile(lat, 99))
    res.p50_at_max_ms = float(np.percentile(lat, 50))
    res.utilisation = lo * mean / 1000.0
    res.curve = [[r, p99_at(service, r, n_queries, seed)] for r in np.linspace(0.1, 0.98, 9) * capacity]
    return res

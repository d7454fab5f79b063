"""Latency statistics from raw per-call timings (nanoseconds in, milliseconds out).

Percentiles use numpy's default linear interpolation so the numbers in a report
can be re-derived from the raw samples with ``numpy.percentile``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

PERCENTILES = (50, 90, 95, 99)


@dataclass
class LatencyStats:
    """Summary of one timed series: percentiles, mean, std (population), min, max in ms."""

    n: int
    p50: float
    p90: float
    p95: float
    p99: float
    mean: float
    std: float
    min: float
    max: float

    @classmethod
    def from_ns(cls, samples_ns: np.ndarray | list[int]) -> LatencyStats:
        """Statistics of ``samples_ns`` (per-call wall time in ns) reported in ms."""
        ms = np.asarray(samples_ns, dtype=np.float64) / 1e6
        return cls.from_ms(ms)

    @classmethod
    def from_ms(cls, samples_ms: np.ndarray | list[float]) -> LatencyStats:
        ms = np.asarray(samples_ms, dtype=np.float64).ravel()
        if ms.size == 0:
            raise ValueError("no timing samples to summarise")
        p50, p90, p95, p99 = (float(v) for v in np.percentile(ms, PERCENTILES))
        return cls(
            n=int(ms.size),
            p50=p50,
            p90=p90,
            p95=p95,
            p99=p99,
            mean=float(ms.mean()),
            std=float(ms.std()),
            min=float(ms.min()),
            max=float(ms.max()),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BatchResult:
    """Timing of one batch size on one backend, possibly over several repetitions.

    ``latency`` pools every repetition's samples; ``rep_p50`` / ``rep_throughput``
    keep one value per repetition so the spread between runs is visible.
    """

    batch: int
    latency: LatencyStats
    throughput: float  # images/s = batch / mean latency
    rep_p50: list[float] = field(default_factory=list)
    rep_throughput: list[float] = field(default_factory=list)

    @classmethod
    def from_reps(cls, batch: int, reps_ns: list[np.ndarray]) -> BatchResult:
        pooled = np.concatenate([np.asarray(r, dtype=np.float64) for r in reps_ns])
        lat = LatencyStats.from_ns(pooled)
        rep_stats = [LatencyStats.from_ns(r) for r in reps_ns]
        return cls(
            batch=batch,
            latency=lat,
            throughput=images_per_second(batch, lat.mean),
            rep_p50=[s.p50 for s in rep_stats],
            rep_throughput=[images_per_second(batch, s.mean) for s in rep_stats],
        )

    @property
    def spread_pct(self) -> float:
        """(max - min) / median of the per-repetition p50s, in percent (0 for one repetition)."""
        if len(self.rep_p50) < 2:
            return 0.0
        med = float(np.median(self.rep_p50))
        return 100.0 * (max(self.rep_p50) - min(self.rep_p50)) / med if med > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "latency_ms": self.latency.to_dict(),
            "throughput": self.throughput,
            "rep_p50_ms": list(self.rep_p50),
            "rep_throughput": list(self.rep_throughput),
            "spread_pct": self.spread_pct,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BatchResult:
        return cls(
            batch=int(d["batch"]),
            latency=LatencyStats(**d["latency_ms"]),
            throughput=float(d["throughput"]),
            rep_p50=list(d.get("rep_p50_ms", [])),
            rep_throughput=list(d.get("rep_throughput", [])),
        )


def images_per_second(batch: int, mean_ms: float) -> float:
    """Throughput of back-to-back calls: batch images every ``mean_ms`` milliseconds."""
    return float(batch) * 1000.0 / mean_ms if mean_ms > 0 else 0.0

"""Latency statistics and MLPerf-style scenarios against numpy and queueing theory."""

from __future__ import annotations

import math

import numpy as np
import pytest

from resnet_deploy.bench import scenarios as sc
from resnet_deploy.bench.stats import BatchResult, LatencyStats, images_per_second


def test_latency_stats_match_numpy_on_known_samples() -> None:
    rng = np.random.default_rng(1)
    ms = rng.lognormal(mean=1.0, sigma=0.4, size=1001)
    s = LatencyStats.from_ns((ms * 1e6).astype(np.int64))
    ms_exact = (ms * 1e6).astype(np.int64) / 1e6
    for q, got in ((50, s.p50), (90, s.p90), (95, s.p95), (99, s.p99)):
        assert got == pytest.approx(np.percentile(ms_exact, q), rel=1e-12)
    assert s.mean == pytest.approx(ms_exact.mean(), rel=1e-12)
    assert s.std == pytest.approx(ms_exact.std(), rel=1e-12)
    assert (s.min, s.max, s.n) == (ms_exact.min(), ms_exact.max(), 1001)


def test_latency_stats_hand_computed() -> None:
    s = LatencyStats.from_ms([1.0, 2.0, 3.0, 4.0])
    assert (s.p50, s.mean, s.min, s.max) == (2.5, 2.5, 1.0, 4.0)
    assert s.p90 == pytest.approx(3.7)
    assert s.std == pytest.approx(math.sqrt(1.25))
    with pytest.raises(ValueError):
        LatencyStats.from_ms([])


def test_batch_result_throughput_and_spread() -> None:
    reps = [np.full(10, 4_000_000), np.full(10, 5_000_000)]  # 4 ms and 5 ms per batch of 8
    b = BatchResult.from_reps(8, reps)
    assert b.throughput == pytest.approx(8 * 1000 / 4.5)
    assert b.rep_p50 == [4.0, 5.0]
    assert b.rep_throughput == pytest.approx([2000.0, 1600.0])
    assert b.spread_pct == pytest.approx(100 * 1.0 / 4.5)
    assert BatchResult.from_dict(b.to_dict()).to_dict() == b.to_dict()
    assert images_per_second(1, 0.0) == 0.0


def test_single_stream_and_offline() -> None:
    rng = np.random.default_rng(2)
    ns = rng.uniform(1e6, 3e6, 500)
    b1 = BatchResult.from_reps(1, [ns])
    b8 = BatchResult.from_reps(8, [np.full(20, 4e6)])
    assert sc.single_stream(b1)["p90_ms"] == pytest.approx(np.percentile(ns / 1e6, 90))
    off = sc.offline([b1, b8])
    assert off["batch"] == 8 and off["throughput"] == pytest.approx(2000.0)


def test_queue_simulation_matches_mm1_theory() -> None:
    """Exponential service (mean 1 ms) at 500 qps: sojourn ~ Exp(mu - lambda), p99 = ln(100)/500 s."""
    service = np.random.default_rng(3).exponential(1.0, 200_000)
    lat = sc.simulate_queue(service, 500.0, n_queries=200_000, seed=4)
    assert lat.mean() == pytest.approx(2.0, rel=0.05)
    assert np.percentile(lat, 99) == pytest.approx(1000 * math.log(100) / 500, rel=0.05)
    assert np.all(lat >= 0)


def test_queue_at_low_rate_is_just_service() -> None:
    lat = sc.simulate_queue(np.full(10, 2.0), 0.01, n_queries=1000)
    assert np.allclose(lat, 2.0)


def test_server_search_finds_the_mm1_rate() -> None:
    """p99 <= ln(100)/(mu - lambda) = 9.21 ms <=> lambda <= 500 qps for mu = 1000 qps."""
    service = np.random.default_rng(5).exponential(1.0, 100_000)
    res = sc.server(service, bound_ms=1000 * math.log(100) / 500, n_queries=100_000)
    assert res.max_rate_qps == pytest.approx(500, rel=0.06)
    assert res.p99_at_max_ms <= res.bound_ms
    above = sc.p99_at(service, res.max_rate_qps * 1.05, res.n_queries, 0)
    assert above > res.bound_ms
    assert 0 < res.utilisation < 1 and res.capacity_qps == pytest.approx(1000 / service.mean())
    assert "discrete-event" in res.method and len(res.curve) == 9


def test_server_unreachable_bound() -> None:
    res = sc.server(np.full(100, 20.0), bound_ms=15.0)
    assert res.max_rate_qps == 0.0 and res.p99_at_max_ms is None and "exceeds" in res.note


def test_server_target_rate() -> None:
    res = sc.server(np.full(100, 1.0), bound_ms=15.0, target_qps=100.0, n_queries=5000)
    assert res.target_qps == 100.0 and res.p99_at_target_ms >= 1.0


def test_parse_scenarios() -> None:
    assert sc.parse_scenarios("all") == sc.SCENARIOS
    assert sc.parse_scenarios("server,offline") == ("server", "offline")
    assert sc.parse_scenarios(["single_stream"]) == ("single-stream",)
    with pytest.raises(ValueError, match="unknown scenario"):
        sc.parse_scenarios("batch")


def test_server_search_is_precise_far_below_capacity() -> None:
    """Rare slow calls keep the feasible rate at ~10 % of capacity; it must still be found (not 0)."""
    service = np.array([0.04] * 19 + [13.77])
    res = sc.server(service, bound_ms=15.0, n_queries=20_000)
    assert 0.01 * res.capacity_qps < res.max_rate_qps < 0.5 * res.capacity_qps
    assert res.p99_at_max_ms <= 15.0
    assert sc.p99_at(service, res.max_rate_qps * 1.05, 20_000, 0) > 15.0

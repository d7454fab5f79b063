"""benchmarks/int8_ceiling.py --artifact: the model and the chains share every round, and the share is
the floor at that round's best rate over the model's p50 in the same round."""

from __future__ import annotations

import time

import numpy as np
from script_loader import load_script


def _script():
    return load_script("benchmarks/int8_ceiling.py")


def _sleeper(ms: float, log: list[str], name: str):
    def call(x: np.ndarray) -> None:
        log.append(name)
        time.sleep(ms / 1e3)
    return call


def test_each_round_times_both_and_the_share_is_its_own_floor_over_p50() -> None:
    mod = _script()
    log: list[str] = []
    x = np.zeros(1, np.float32)
    # 8e8 MACs in ~8 ms -> ~100 GMAC/s; 4e8 MACs in ~2 ms -> ~200 GMAC/s (the best); the model's 5 GMACs
    # at ~200 GMAC/s need ~25 ms, and it takes ~40 ms: share ~0.6 in every round
    chains = {"slow": (_sleeper(8, log, "slow"), x, 8e8), "fast": (_sleeper(2, log, "fast"), x, 4e8)}
    rows = mod.share_rounds(chains, (_sleeper(40, log, "model"), x), 5.0, rounds=2, per_round=3)
    assert len(rows) == 2
    for r in rows:
        assert r["best"] == "fast"
        assert abs(r["share"] - r["floor_ms"] / r["p50_ms"]) < 1e-3
        assert abs(r["floor_ms"] - 5.0 / r["rate_gmacs"] * 1e3) < 0.01
        assert 0.4 < r["share"] < 0.7, r
    # 5 calls (2 untimed + 3 timed) per window; the model last in round 1, first in round 2
    assert log[:15] == ["slow"] * 5 + ["fast"] * 5 + ["model"] * 5
    assert log[15:20] == ["model"] * 5 and len(log) == 30


def test_summary_counts_rounds_at_the_target() -> None:
    mod = _script()
    rows = [{"p50_ms": p, "best": f"{rt} 3x3", "rate_gmacs": 400.0, "floor_ms": 9.0, "share": 9.0 / p}
            for p, rt in ((10.0, "openvino"), (9.5, "openvino"), (11.0, "onnxruntime"))]
    s = mod.share_summary(rows, "openvino:int8-openvino", 4.09)
    assert s["median"] == 0.9 and s["min"] == 9.0 / 11.0 and s["max"] == 9.0 / 9.5
    assert s["rounds_at_target"] == 2 and s["best_runtime"] == "openvino" and s["p50_ms"] == 10.0


def test_the_kernel_bound_uses_each_class_at_its_own_chains_rate_in_the_round() -> None:
    mod = _script()
    x = np.zeros(1, np.float32)
    log: list[str] = []
    # chains: "3x3" at ~100 GMAC/s (8e8 MACs in 8 ms), "1x1" at ~200 (4e8 in 2 ms); the model has 1 GMAC of each
    chains = {"slow": (_sleeper(8, log, "slow"), x, 8e8), "fast": (_sleeper(2, log, "fast"), x, 4e8)}
    classes = ({"slow": "3x3@7", "fast": "1x1@7"}, {"3x3@7": 1_000_000_000, "1x1@7": 1_000_000_000})
    rows = mod.share_rounds(chains, (_sleeper(15, log, "model"), x), 2.0, rounds=1, per_round=3, classes=classes)
    r = rows[0]
    # bound = 1 GMAC at the 3x3 chain's rate + 1 GMAC at the 1x1 chain's (the best) rate, above the floor
    assert r["floor_ms"] < r["bound_ms"]
    assert abs(r["max_share"] - r["floor_ms"] / r["bound_ms"]) < 1e-3
    assert 0.5 < r["max_share"] < 0.8, r  # ~ (2 GMAC / 200) / (1/100 + 1/200) = 10 / 15 ms
    s = mod.share_summary(rows, "openvino:int8-openvino", 2.0)
    assert s["max_share"] == r["max_share"] and s["bound_ms"] == r["bound_ms"]

"""Head-to-head rounds vs the peer (bench.paired) and how the suite judges them."""

from __future__ import annotations

import time

import numpy as np
import pytest

from resnet_deploy.bench.paired import (
    PairedMetric,
    jobs_count,
    measure,
    paired_rounds,
    paired_vs_peer,
)
from resnet_deploy.bench.render import paired_lines
from resnet_deploy.bench.report import BenchReport
from resnet_deploy.bench.suite import check_targets
from resnet_deploy.bench.timing import NullRunner, TimingPlan

PLAN = TimingPlan(warmup=1, iterations=5)


class SleepRunner(NullRunner):
    """Sleeps a fixed time per image; logs activation order into a shared list."""

    def __init__(self, name: str, per_image_s: float, log: list[str]) -> None:
        super().__init__(num_classes=3)
        self.name_, self.per_image_s, self.log = name, per_image_s, log

    def _activate(self) -> None:
        self.log.append(f"+{self.name_}")

    def _deactivate(self) -> None:
        self.log.append(f"-{self.name_}")

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        time.sleep(self.per_image_s * batch.shape[0])
        return np.zeros((batch.shape[0], 3), np.float32)


def _measuring(name: str, per_image_s: float, log: list[str]):
    """A measure function like run_bench's (which does the same in a fresh process)."""
    return lambda batches: measure(SleepRunner(name, per_image_s, log), (3, 8, 8), batches, PLAN)


def test_rounds_alternate_and_release_each_runner() -> None:
    log: list[str] = []
    got = paired_rounds(_measuring("ours", 0.001, log), _measuring("peer", 0.004, log), [1, 4], rounds=3)
    assert log == ["+ours", "-ours", "+peer", "-peer",  # round 1: ours first
                   "+peer", "-peer", "+ours", "-ours",  # round 2: the peer first
                   "+ours", "-ours", "+peer", "-peer"]
    lat, tput = got["latency"].summary(), got["throughput"].summary()
    assert lat["rounds"] == tput["rounds"] == 3
    assert lat["ratio"] < 0.6 and lat["rounds_won"] == 3  # 1 ms vs 4 ms
    assert tput["batch"] == 4 and tput["ratio"] > 1.7 and tput["rounds_won"] == 3  # images/s: higher wins
    assert tput["ours"][0] == pytest.approx(4 / 0.004, rel=0.5)


def test_each_side_of_each_round_waits_for_the_host_first() -> None:
    """``before_side`` (retime.settle_side) runs right before every side's activation, never between."""
    log: list[str] = []
    paired_rounds(_measuring("ours", 0.001, log), _measuring("peer", 0.001, log), [1], rounds=2,
                  before_side=lambda: log.append("settle"))
    assert log == ["settle", "+ours", "-ours", "settle", "+peer", "-peer",
                   "settle", "+peer", "-peer", "settle", "+ours", "-ours"]


def test_settle_side_waits_no_longer_than_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    from resnet_deploy.bench import hostprobe, retime

    monkeypatch.setattr(hostprobe, "sync_probe", lambda: (1.0, 0.1))  # a host that would read slow forever
    monkeypatch.setenv("RESNET_DEPLOY_HOST_WAIT_S", "0")
    assert retime.settle_side() is True  # waiting is off
    monkeypatch.setenv("RESNET_DEPLOY_HOST_WAIT_S", "0.3")
    t = time.perf_counter()
    assert retime.settle_side() is False and time.perf_counter() - t < 2.0
    monkeypatch.setattr(hostprobe, "sync_probe", lambda: (0.1, 0.78))  # healthy: no wait at all
    assert retime.settle_side() is True


def test_summary_statistics_against_hand_computed_values() -> None:
    m = PairedMetric("p50_ms", 1, "lower", ours=[9.0, 10.0, 12.0, 10.0], peer=[10.0, 10.0, 10.0, 8.0])
    s = m.summary()
    assert s["ratio"] == pytest.approx(np.median([0.9, 1.0, 1.2, 1.25]))
    assert (s["ratio_min"], s["ratio_max"]) == (pytest.approx(0.9), pytest.approx(1.25))
    assert s["rounds_won"] == 1  # a ratio of exactly 1.0 is not a win
    up = PairedMetric("throughput", 16, "higher", ours=[11.0, 9.0], peer=[10.0, 10.0]).summary()
    assert up["rounds_won"] == 1


def test_different_best_backends_are_each_paired_at_their_own_batch() -> None:
    log: list[str] = []
    comparison = {"latency": {"backend": "a", "batch": 1}, "throughput": {"backend": "b", "batch": 4}}
    measures = {"a": _measuring("a", 0.001, log), "b": _measuring("b", 0.002, log)}
    assert jobs_count(comparison) == 2
    out = paired_vs_peer(comparison, measures, _measuring("peer", 0.002, log), PLAN, 2)
    assert out["latency"]["backend"] == "a" and out["latency"]["batch"] == 1
    assert out["throughput"]["backend"] == "b" and out["throughput"]["batch"] == 4
    assert log.count("+a") == 2 and log.count("+b") == 2 and log.count("+peer") == 4
    lines = paired_lines(out)
    assert len(lines) == 2 and "2 alternating rounds" in lines[0] and "batch-4 throughput" in lines[1]


def _report(paired: dict | None) -> BenchReport:
    rep = BenchReport(artifact="x", model={"arch": "resnet50"}, machine={}, config={})
    rep.peer_comparison = {
        "peer": "openvino-nncf:int8", "scope": "int8",
        "latency": {"backend": "openvino:int8-cpu", "batch": 1, "ours_p50_ms": 30.0, "peer_p50_ms": 29.0,
                    "ratio": 30.0 / 29.0},
        "throughput": {"backend": "openvino:int8-cpu", "batch": 16, "ours": 36.0, "peer": 35.0,
                       "ratio": 36.0 / 35.0},
    }
    if paired is not None:
        rep.peer_comparison["paired"] = paired
    return rep


def test_suite_judges_the_paired_median_and_flags_a_tie() -> None:
    single = check_targets(_report(None), None)
    assert single[0].status == "FAIL" and single[0].value == pytest.approx(30 / 29)
    assert "in one pass" in single[0].detail
    paired = {
        "latency": PairedMetric("p50_ms", 1, "lower", ours=[29.0, 31.0, 28.0], peer=[30.0, 30.0, 30.0]).summary(),
        "throughput": PairedMetric("throughput", 16, "higher", ours=[30.0, 31.0], peer=[32.0, 33.0]).summary(),
    }
    lat, tput = check_targets(_report(paired), None)[:2]
    assert lat.status == "PASS" and lat.value == pytest.approx(29 / 30)
    assert "straddles 1.0" in lat.detail and "faster in 2" in lat.detail
    assert tput.status == "FAIL" and "straddles" not in tput.detail


def test_a_target_is_not_judged_on_a_noisy_row() -> None:
    from resnet_deploy.bench.report import BackendRow

    rep = _report(None)
    rep.rows = [BackendRow(spec="openvino:int8-cpu", backend="openvino", status="ok", precision="int8"),
                BackendRow(spec="openvino-nncf:int8", backend="openvino-nncf", status="ok", peer=True,
                           noise={"noisy": True, "others_cores": 0.9})]
    lat, tput = check_targets(rep, None)[:2]
    assert lat.status == tput.status == "NOISY"
    assert "not judged" in lat.detail and "openvino-nncf:int8" in lat.detail
    rep.rows[1].noise = {"noisy": False, "others_cores": 0.01}
    assert check_targets(rep, None)[0].status == "FAIL"  # judged again once the row is quiet


def test_our_openvino_form_gets_rounds_of_its_own_when_it_is_not_the_headline_row() -> None:
    log: list[str] = []
    comparison = {"latency": {"backend": "a", "batch": 1}, "throughput": {"backend": "a", "batch": 4},
                  "same_runtime": {"backend": "ov", "latency": {"batch": 1}, "throughput": {"batch": 4}}}
    measures = {"a": _measuring("a", 0.001, log), "ov": _measuring("ov", 0.002, log)}
    assert jobs_count(comparison) == 2
    out = paired_vs_peer(comparison, measures, _measuring("peer", 0.002, log), PLAN, 2)
    same = out["same_runtime"]
    assert same["latency"]["backend"] == "ov" and same["throughput"]["batch"] == 4
    assert log.count("+ov") == 2 and log.count("+peer") == 4
    assert any("same runtime, batch 4 (ov, 2 rounds)" in line for line in paired_lines(out))
    comparison["same_runtime"]["backend"] = "a"  # it is the headline row: no extra rounds
    assert jobs_count(comparison) == 1
    assert "same_runtime" not in paired_vs_peer(comparison, measures, _measuring("peer", 0.002, log), PLAN, 1)

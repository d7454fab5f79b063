"""benchmarks/end_to_end.py's verdicts (bench.e2e_report) and its noise bookkeeping (bench.e2e_sides)."""

from __future__ import annotations

import os
from typing import Any

from resnet_deploy.bench.e2e_report import all_targets, render_markdown
from resnet_deploy.bench.e2e_sides import Isolation, _chunks, discounted, noise_records
from resnet_deploy.bench.hostprobe import mark, reference
from resnet_deploy.bench.noise import Noise

QUIET = {"others_cores": 0.02, "noisy": False}
BUSY = {"others_cores": 0.5, "noisy": True}


def _paired(ratios: list[float], lower: bool, noise: dict[str, Any] = QUIET) -> dict[str, Any]:
    won = sum(1 for r in ratios if (r < 1.0 if lower else r > 1.0))
    return {"rounds": len(ratios), "ratio": sorted(ratios)[len(ratios) // 2], "ratio_min": min(ratios),
            "ratio_max": max(ratios), "rounds_won": won, "ours": [10.0] * len(ratios),
            "noise": [noise] * (2 * len(ratios))}


def _results(**over: Any) -> dict[str, Any]:
    window = {"images_per_s": 40.0, "p50_ms": 30.0, "mean_ms": 400.0, "noise": QUIET}
    base = {"images_per_s": 10.0, "p50_ms": 100.0, "noise": QUIET}
    res = {
        "machine_line": "CPU X, 2 logical CPUs", "config": {"threads": 2, "rounds": 6},
        "inference": {"resnet50": {"ours_spec": "openvino:int8-openvino", "batch": 16,
                                   "latency": _paired([0.95, 0.96, 0.94, 0.95, 0.96, 1.01], True),
                                   "throughput": _paired([1.05, 1.04, 1.06, 0.98, 0.99, 1.05], False)}},
        "e2e": {"arch": "resnet50", "batch": 16, "ours": {"throughput": window, "latency": window, "profile": {
            "decode_preprocess_ms_per_image": 12.5, "infer_ms_per_batch": 150.0}},
                "baseline": {"throughput": base, "latency": base}},
        "serve": {"images_per_s": 36.0, "clients": 8, "errors": 0, "noise": QUIET},
        "ceiling": {"arch": "resnet50", "share": 0.93, "floor_ms": 9.1, "gmacs": 4.09, "rate_gmacs": 447.0,
                    "runtime": "openvino", "p50_ms": 9.8, "host_class": "host class AVX-512 VNNI",
                    "noise": [QUIET], "noisy": False},
        "isolation": [{"unit": "resnet50 ours inference", "pids": [11, 12], "runtimes_loaded": ["openvino"]}],
    }
    res.update(over)
    return res


def test_rounds_won_and_ratio_both_decide() -> None:
    t = {x.name.split(",")[0]: x for x in all_targets(_results())}
    lat, tput = t["resnet50 INT8 batch-1 p50"], t["resnet50 INT8 batch-16 images/s"]
    assert lat.status == "PASS" and "won 5 of 6 (need 5)" in lat.detail
    assert tput.status == "FAIL" and tput.value >= 1.03  # median fine, but only 4 rounds won


def test_end_to_end_serve_and_ceiling_ratios() -> None:
    by_op = {(x.op, x.bound): x for x in all_targets(_results())}
    assert by_op[(">=", 2.0)].value == 4.0 and by_op[(">=", 2.0)].status == "PASS"
    assert by_op[("<=", 0.6)].value == 0.3 and by_op[("<=", 0.6)].status == "PASS"
    assert by_op[(">=", 0.8)].value == 0.9 and by_op[(">=", 0.8)].status == "PASS"
    assert by_op[(">=", 0.9)].status == "PASS"


def test_a_noisy_window_is_not_judged_and_a_missing_part_is_skipped() -> None:
    res = _results(serve={"error": "RuntimeError: no port"})
    res["e2e"]["baseline"]["latency"] = {"p50_ms": 100.0, "noise": BUSY}
    by_op = {(x.op, x.bound): x for x in all_targets(res)}
    assert by_op[("<=", 0.6)].status == "NOISY" and "would pass" in by_op[("<=", 0.6)].detail
    assert by_op[(">=", 0.8)].status == "SKIP" and "no port" in by_op[(">=", 0.8)].detail


def test_markdown_rows_follow_the_targets() -> None:
    res = _results()
    targets = all_targets(res)
    md = render_markdown(res, targets)
    rows = [line for line in md.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == len(targets) == 6
    assert "- host: CPU X" in md and "2 processes (pid 11, 12)" in md
    assert "| Predictor.predict (its stages: draft decode, raw twin) | 400.0 | 12.50 | 150.0 |" in md  # the profile row


def test_server_cpu_counts_as_ours_not_as_noise() -> None:
    n = Noise(window_s=2.0, others_cores=0.9, self_cores=0.3, load_avg_1m=None, cpu_mhz=None, noisy=True)
    d = discounted(n, 0.85)
    assert abs(d.others_cores - 0.05) < 1e-9 and not d.noisy and abs(d.self_cores - 1.15) < 1e-9


def test_chunks_cycle_through_every_image_evenly() -> None:
    nxt = _chunks([b"a", b"b", b"c"], 2)
    seen = [x for _ in range(3) for x in nxt()]
    assert seen == [b"a", b"b", b"c", b"a", b"b", b"c"]


def _record(probe_ms: float, efficiency: float) -> dict[str, Any]:
    quiet = Noise(window_s=2.0, others_cores=0.01, self_cores=1.9, load_avg_1m=None, cpu_mhz=None, noisy=False)
    return dict(quiet.to_dict(), host_probe_ms=probe_ms, host_efficiency=efficiency)


def test_a_slow_host_makes_its_figures_noisy_and_says_so() -> None:
    res = _results()
    res["e2e"]["ours"]["throughput"] = dict(res["e2e"]["ours"]["throughput"], noise=_record(0.175, 0.60))
    res["e2e"]["baseline"]["throughput"] = dict(res["e2e"]["baseline"]["throughput"], noise=_record(0.118, 0.88))
    res["serve"] = dict(res["serve"], noise=_record(0.119, 0.87))
    noises = noise_records(res)
    assert len(noises) == 3  # the records with NoiseProbe's fields, wherever they sit
    mark(noises, reference(noises))
    by_op = {(x.op, x.bound): x for x in all_targets(res)}
    e2e = by_op[(">=", 2.0)]
    assert e2e.status == "NOISY" and "host slow while timing" in e2e.detail and "would pass" in e2e.detail
    assert by_op[("<=", 0.6)].status == "PASS"  # its windows carry no slow probe
    # serve's own window was healthy, but the predict figure it is compared with was not
    assert by_op[(">=", 0.8)].status == "NOISY"


def _timed_unit() -> dict[str, Any]:
    """What a child returns: a figure and its noise record."""
    quiet = Noise(window_s=1.0, others_cores=0.0, self_cores=1.0, load_avg_1m=None, cpu_mhz=None, noisy=False)
    return {"throughput": {"images_per_s": 1.0, "noise": quiet.to_dict()}, "pid": os.getpid()}


def test_isolation_run_probes_the_host_around_the_child() -> None:
    iso = Isolation()
    got = iso.run("a unit", _timed_unit)
    noise = got["throughput"]["noise"]
    assert noise["host_probe_ms"] > 0  # timed by the parent, before and after the child
    assert noise["host_efficiency"] is None or 0 < noise["host_efficiency"] < 2
    assert iso.to_list() == [{"unit": "a unit", "pids": [got["pid"]], "runtimes_loaded": []}]
    assert got["pid"] != os.getpid()

"""benchmarks/end_to_end.py's run_steps: a part timed while the host was slow is run again (and a later
part that used its figures after it); quiet parts are not."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from resnet_deploy.bench.noise import Noise

SCRIPTS = Path(__file__).resolve().parents[3] / "benchmarks"


@pytest.fixture()
def run_steps(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("RESNET_DEPLOY_HOST_WAIT_S", "0")  # judge the bookkeeping, do not wait for this host
    monkeypatch.syspath_prepend(str(SCRIPTS))
    import end_to_end

    yield end_to_end.run_steps
    sys.modules.pop("end_to_end", None)


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, line: str) -> None:
        self.lines.append(line)


def _record(probe_ms: float, efficiency: float) -> dict[str, Any]:
    quiet = Noise(window_s=2.0, others_cores=0.01, self_cores=1.9, load_avg_1m=None, cpu_mhz=None, noisy=False)
    return dict(quiet.to_dict(), host_probe_ms=probe_ms, host_efficiency=efficiency)


def test_a_part_timed_on_a_slow_host_is_run_again(run_steps: Any) -> None:
    calls = {"inference": 0, "e2e": 0}
    probes = {"inference": [(0.175, 0.60), (0.118, 0.88)], "e2e": [(0.119, 0.87)]}

    def part(name: str) -> Any:
        def fn() -> dict[str, Any]:
            probe = probes[name][min(calls[name], len(probes[name]) - 1)]
            calls[name] += 1
            return {"figure": {"value": calls[name], "noise": _record(*probe)}}
        return fn

    results: dict[str, Any] = {}
    ui = Lines()
    steps = [(("inference", "resnet50"), "inference", part("inference")), (("e2e",), "end to end", part("e2e"))]
    run_steps(steps, results, [], ui, 2)
    assert calls == {"inference": 2, "e2e": 1}  # only the slow part again, and only until it was not slow
    noise = results["inference"]["resnet50"]["figure"]["noise"]
    assert results["inference"]["resnet50"]["figure"]["value"] == 2 and not noise["host_slow"] and not noise["noisy"]
    assert any("re-timing 1 part(s)" in line for line in ui.lines)


def test_a_host_slow_every_time_keeps_the_figure_noisy(run_steps: Any) -> None:
    calls = []

    def fn() -> dict[str, Any]:
        calls.append(1)
        return {"figure": {"noise": _record(0.119, 0.55)}}  # two threads barely faster than one: slow in itself

    results: dict[str, Any] = {}
    run_steps([(("serve",), "serve", fn)], results, [], Lines(), 1)
    assert len(calls) == 2
    assert results["serve"]["figure"]["noise"]["host_slow"] and results["serve"]["figure"]["noise"]["noisy"]
    results = {}
    calls.clear()
    run_steps([(("serve",), "serve", fn)], results, [], Lines(), 0)  # --retime 0: measured once, still marked
    assert len(calls) == 1 and results["serve"]["figure"]["noise"]["noisy"]


def test_every_part_waits_for_a_slow_host_before_it_is_timed(run_steps: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from resnet_deploy.bench import retime

    order: list[str] = []
    monkeypatch.setattr(retime, "settle", lambda info=None: order.append("settle") or True)

    def part(name: str) -> Any:
        def fn() -> dict[str, Any]:
            order.append(name)
            return {"figure": {"noise": _record(0.118, 0.88)}}
        return fn

    steps = [(("inference", "resnet18"), "a", part("a")), (("e2e",), "b", part("b")), (("serve",), "c", part("c"))]
    run_steps(steps, {}, [], Lines(), 1)
    assert order == ["settle", "a", "settle", "b", "settle", "c"]  # quiet parts: no re-time, one wait each

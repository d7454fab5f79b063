"""The live Server scenario: open-loop Poisson load on a real `serve` process on loopback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from resnet_deploy.serve.openloop import RateResult, max_rate_within, poisson_arrivals

pytest.importorskip("tritonclient.http")
pytest.importorskip("tritonclient.grpc")
pytest.importorskip("pytriton")


def test_poisson_arrivals_have_the_offered_rate_and_exponential_gaps() -> None:
    t = poisson_arrivals(200.0, 50.0, seed=1)
    assert abs(t.size / 50.0 - 200.0) < 10.0
    gaps = np.diff(t)
    assert abs(gaps.mean() - 1 / 200.0) < 0.0003
    assert abs(gaps.std() / gaps.mean() - 1.0) < 0.05  # exponential: coefficient of variation 1
    assert np.all(t < 50.0) and np.all(gaps > 0)


def _rate(rps: float, p99: float | None, errors: int = 0) -> RateResult:
    return RateResult("http", rps, rps, 10, 10 - errors, errors, 1.0, p99, p99, p99, 0)


def test_max_rate_is_the_highest_clean_rate_within_the_bound() -> None:
    curve = [_rate(10, 5.0), _rate(20, 9.0), _rate(30, 12.0), _rate(40, 8.0, errors=1)]
    assert max_rate_within(curve, 10.0) == 20
    assert max_rate_within(curve, 4.0) is None


@pytest.mark.slow
def test_live_server_scenario_on_a_real_server(tmp_path: Path) -> None:
    from resnet_deploy.bench.live_server import run_live_server
    from resnet_deploy.export.config import ExportConfig
    from resnet_deploy.export.pipeline import export_artifact

    art = tmp_path / "resnet20"
    export_artifact(ExportConfig(arch="resnet20", num_classes=10, input_size=32, formats=("onnx",), out=art))
    res = run_live_server(art, "onnxruntime:fp32", bound_ms=500.0, rates=[10.0, 40.0],
                          protocols=("http", "grpc"), duration_s=2.0, max_batch=8)
    for proto in ("http", "grpc"):
        curve = res.rates[proto]
        assert [c["offered_rps"] for c in curve] == [10.0, 40.0]
        for c in curve:
            # open loop: what is sent follows the offered rate, and every request is answered
            assert abs(c["sent"] - 2.0 * c["offered_rps"]) <= 4 * np.sqrt(2.0 * c["offered_rps"]) + 2
            assert c["completed"] == c["sent"] and c["errors"] == 0
            assert 0 < c["p50_ms"] <= c["p90_ms"] <= c["p99_ms"]
        assert res.max_rate_qps[proto] == 40.0
    assert res.server["backend"] == "onnxruntime:fp32"


@pytest.mark.slow
def test_bench_puts_the_live_run_beside_the_simulation(tmp_path: Path) -> None:
    from resnet_deploy.bench import BenchConfig, run_bench
    from resnet_deploy.bench.render import to_markdown
    from resnet_deploy.export.config import ExportConfig
    from resnet_deploy.export.pipeline import export_artifact

    art = tmp_path / "resnet20"
    export_artifact(ExportConfig(arch="resnet20", num_classes=10, input_size=32, formats=("onnx",), out=art))
    rep = run_bench(art, BenchConfig(backends=["onnxruntime:fp32"], batch_sizes=[1], time_budget=0.3, peer=False,
                                     eval_data=None, plots=False, live_server=True, server_rates=[10.0],
                                     live_seconds=1.0, server_bound_ms=1000.0))
    live = rep.live_server
    assert live is not None and live["backend"] == "onnxruntime:fp32"
    assert live["simulated_max_rate_qps"] == rep.row("onnxruntime:fp32").scenarios["server"]["max_rate_qps"]
    assert live["max_rate_qps"] == {"http": 10.0, "grpc": 10.0}
    md = to_markdown(rep)
    assert "## Server scenario, live" in md and "the simulation predicted" in md


@pytest.mark.slow
def test_serve_json_keeps_stdout_for_json(tmp_path: Path) -> None:
    """PyTriton prints Triton's log on stdout in chunks that need not end a line; a partial one glued
    itself to the ready line once and a benchmark waited forever. With --json that log goes to stderr."""
    import json
    import signal
    import subprocess

    from resnet_deploy.bench.live_server import _serve_command
    from resnet_deploy.export.config import ExportConfig
    from resnet_deploy.export.pipeline import export_artifact

    art = tmp_path / "resnet20"
    export_artifact(ExportConfig(arch="resnet20", num_classes=10, input_size=32, formats=("onnx",), out=art))
    proc = subprocess.Popen(_serve_command(art, "onnxruntime:fp32", 4), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert json.loads(first)["status"] == "ready"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    after = [json.loads(line) for line in out.splitlines() if line.strip()]  # nothing but JSON after it
    assert [a["status"] for a in after] == ["stopped"] and after[0]["image_batches"]["batches"] == 0
    assert "Started HTTPService" in err  # Triton's log is still there, on stderr

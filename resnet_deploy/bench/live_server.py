"""The MLPerf Server scenario for real: open-loop Poisson load on a live ``serve`` on loopback.

The simulated Server scenario (``scenarios.server``) replays measured service
times through a queue model; this runs the real thing, the way a service would
meet its traffic: ``resnet-deploy serve`` starts in its own process on
127.0.0.1 (free ports), and ``serve.openloop`` offers increasing Poisson rates
over HTTP and gRPC. Per rate it records the achieved rate, p50/p90/p99 latency
and errors, and the highest rate whose p99 stayed within the bound, which the
report sets beside the simulation's prediction. The server is stopped with
SIGTERM (its clean shutdown path) whatever happens.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from resnet_deploy.errors import ResNetDeployError

RATE_FACTORS = (0.25, 0.5, 0.75, 1.0, 1.25)  # of the simulated max rate, when no rates are given
READY_TIMEOUT_S = 180.0


@dataclass
class LiveServerResult:
    """Live Server scenario of one backend: one curve per protocol, and the simulation beside it."""

    backend: str
    bound_ms: float
    duration_s: float
    rates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # protocol -> RateResult dicts
    max_rate_qps: dict[str, float | None] = field(default_factory=dict)
    simulated_max_rate_qps: float | None = None
    server: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "bound_ms": self.bound_ms, "duration_s": self.duration_s,
                "rates": self.rates, "max_rate_qps": self.max_rate_qps,
                "simulated_max_rate_qps": self.simulated_max_rate_qps, "server": self.server,
                "method": "open-loop Poisson arrivals (serve.openloop) against resnet-deploy serve on 127.0.0.1"}


def _serve_command(artifact: Path, backend: str, max_batch: int) -> list[str]:
    return [sys.executable, "-c", "from resnet_deploy.cli import main; main()", "serve", str(artifact),
            "--backend", backend, "--host", "127.0.0.1", "--http-port", "0", "--grpc-port", "0",
            "--metrics-port", "0", "--max-batch", str(max_batch), "--json"]


def _wait_ready(proc: subprocess.Popen[str], timeout_s: float = READY_TIMEOUT_S,
                lines: queue.Queue[str | None] | None = None) -> dict[str, Any]:
    """The JSON line ``serve --json`` prints once up (ports, model names), within ``timeout_s``.

    The lines are read on a thread, so a server that hangs before printing (or keeps printing
    other things) fails after ``timeout_s`` instead of blocking the caller forever. The thread
    keeps reading into ``lines`` (when given) after the ready line, for ``_stopped_line``.
    """
    lines = queue.Queue() if lines is None else lines
    assert proc.stdout is not None
    stdout = proc.stdout

    def pump() -> None:
        for line in stdout:
            lines.put(line)
        lines.put(None)  # end of output: the server exited

    threading.Thread(target=pump, daemon=True, name="serve-stdout").start()
    info = _status_line(lines, "ready", timeout_s)
    if info:
        return info
    state = f"exit code {proc.poll()}" if proc.poll() is not None else f"no ready line within {timeout_s:.0f} s"
    raise ResNetDeployError(
        f"the server for the live Server scenario did not come up ({state}); "
        "run 'resnet-deploy serve ARTIFACT' alone to see why"
    )


def _wait_model_ready(http_url: str, model: str) -> None:
    """Poll the model's own readiness endpoint (the server's ready endpoint waits for every model too;
    asking for the one we load is the direct check)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    url = f"{http_url}/v2/models/{model}/ready"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise ResNetDeployError(f"model '{model}' never became ready at {url}; see the server's log")


def _status_line(lines: queue.Queue[str | None], status: str, timeout_s: float) -> dict[str, Any]:
    """The next ``{"status": STATUS, ...}`` line ``serve --json`` printed, within ``timeout_s`` ({} if none:
    no such line in time, or the output ended). Other lines (JSON or not) are skipped."""
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            break
        if line.strip().startswith("{"):
            info = json.loads(line)
            if info.get("status") == status:
                return info
    return {}


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def serve_process(artifact: Path, backend: str, max_batch: int = 16) -> Iterator[dict[str, Any]]:
    """``resnet-deploy serve`` in its own process on free loopback ports, its models ready.

    Yields what ``serve --json`` printed (URLs, model and input names); SIGTERM on exit, after
    which the same dict gets ``"stopped"``: the server's stop line (its image batches).
    """
    proc = subprocess.Popen(_serve_command(artifact, backend, max_batch), stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    lines: queue.Queue[str | None] = queue.Queue()
    info: dict[str, Any] = {}
    try:
        info = _wait_ready(proc, lines=lines)
        for model in info["models"]:
            _wait_model_ready(info["http"], model)
        yield info
    finally:
        _stop(proc)
        if info:
            info["stopped"] = _status_line(lines, "stopped", 30.0)


def run_live_server(
    artifact: str | os.PathLike[str],
    backend: str,
    *,
    bound_ms: float,
    rates: Sequence[float] | None = None,
    simulated_max_rate: float | None = None,
    protocols: Sequence[str] = ("http", "grpc"),
    duration_s: float = 5.0,
    max_batch: int = 16,
) -> LiveServerResult:
    """Start ``serve`` for ``backend``, offer each rate on each protocol, stop it; see module docstring."""
    from resnet_deploy.artifact import read_manifest
    from resnet_deploy.serve.loadgen import RequestInput
    from resnet_deploy.serve.openloop import max_rate_within, run_open_loop

    art = Path(artifact)
    manifest = read_manifest(art)
    if not rates:
        if not simulated_max_rate:
            raise ResNetDeployError("the live Server scenario needs --server-rates or a simulated "
                                    "Server result to start from; add 'server' to --scenarios")
        rates = [round(simulated_max_rate * f, 2) for f in RATE_FACTORS]
    shape = [1, *(int(v) for v in manifest.input.shape[1:])]
    data = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    res = LiveServerResult(backend=backend, bound_ms=bound_ms, duration_s=duration_s,
                           simulated_max_rate_qps=simulated_max_rate)
    with serve_process(art, backend, max_batch) as info:
        model = info["models"][0]
        res.server = {k: info.get(k) for k in ("http", "grpc", "backend", "models")}
        inputs = [RequestInput(info["inputs"][model], data, "FP32")]
        for proto in protocols:
            address = info[proto].split("://", 1)[1]
            run_open_loop(address, model, inputs, max(rates[0], 1.0), protocol=proto, duration_s=1.0)  # warm-up
            curve = [run_open_loop(address, model, inputs, r, protocol=proto, duration_s=duration_s, seed=i)
                     for i, r in enumerate(rates)]
            res.rates[proto] = [c.to_dict() for c in curve]
            res.max_rate_qps[proto] = max_rate_within(curve, bound_ms)
    return res


def add_live_server(report: Any, art: Path, cfg: Any, ui: Any) -> None:
    """The Server scenario against a real ``serve`` of our fastest INT8 row (else the fastest row)."""
    rows = [r for r in report.ok_rows if not r.peer and r.p50_ms]
    int8 = [r for r in rows if r.precision == "int8"]
    if not rows:
        report.notes.append("live Server scenario not run: no backend was timed")
        return
    row = min(int8 or rows, key=lambda r: r.p50_ms or 0.0)
    sim = row.scenarios.get("server") or {}
    rates = cfg.server_rates
    if not rates and sim.get("capacity_qps"):  # around the predicted max (half the capacity if none fits)
        base = sim.get("max_rate_qps") or 0.5 * sim["capacity_qps"]
        rates = [round(base * f, 2) for f in RATE_FACTORS]
    try:
        with ui.status(f"live Server scenario: serve {row.spec} on 127.0.0.1, open-loop Poisson load"):
            res = run_live_server(art, row.spec, bound_ms=cfg.server_bound_ms, rates=rates,
                                  simulated_max_rate=sim.get("max_rate_qps"), duration_s=cfg.live_seconds)
        report.live_server = res.to_dict()
    except ResNetDeployError as exc:
        report.notes.append(f"live Server scenario not run: {exc}")

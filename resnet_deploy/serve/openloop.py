"""An open-loop Poisson load generator: the MLPerf Server scenario against a live endpoint.

A closed loop (``loadgen.run_load``) sends the next request only after the
last answer, so a slow server slows its own load and hides its queue. Here
arrival times are drawn first (exponential gaps at the offered rate) and every
request is sent at its time whatever the earlier ones are doing. Latency is
measured from the *scheduled* arrival, so when the generator or the server
falls behind, the wait counts (no coordinated omission). ``late_sends`` counts
requests that left more than ``LATE_MS`` after their time: a high count means
the generator, not the server, was the limit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from resnet_deploy.serve.loadgen import RequestInput, client_module, infer_call, make_inputs

LATE_MS = 5.0


@dataclass
class RateResult:
    """One offered rate: what was achieved and at what latency."""

    protocol: str
    offered_rps: float
    achieved_rps: float
    sent: int
    completed: int
    errors: int
    seconds: float
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    late_sends: int
    first_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def poisson_arrivals(rate: float, duration_s: float, seed: int = 0) -> np.ndarray:
    """Arrival times (s from the start) of a Poisson process at ``rate`` per second."""
    rng = np.random.default_rng(seed)
    n = max(1, int(rate * duration_s * 1.5) + 10)
    t = np.cumsum(rng.exponential(1.0 / rate, size=n))
    return t[t < duration_s]


class _Clients(threading.local):
    """One tritonclient per sender thread (clients are not shared across threads)."""

    client: Any = None
    reqs: Any = None


def run_open_loop(
    address: str,
    model: str,
    inputs: Sequence[RequestInput],
    rate: float,
    *,
    protocol: str = "http",
    duration_s: float = 10.0,
    max_in_flight: int = 64,
    timeout_s: float = 30.0,
    seed: int = 0,
) -> RateResult:
    """Offer ``rate`` requests/s for ``duration_s`` and measure every answer."""
    mod = client_module(protocol)
    local = _Clients()
    lock = threading.Lock()
    lat: list[float] = []
    errors: list[str] = []

    def send(scheduled: float) -> None:
        try:
            if local.client is None:
                kw = {"network_timeout": timeout_s, "connection_timeout": timeout_s} if protocol == "http" else {}
                local.client = mod.InferenceServerClient(address, **kw)
                local.reqs = make_inputs(mod, inputs)
            infer_call(local.client, model, local.reqs, None, protocol, timeout_s)
        except Exception as exc:  # every failure counts; the load goes on
            with lock:
                errors.append(str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__)
            return
        done = time.perf_counter()
        with lock:
            lat.append((done - scheduled) * 1e3)

    arrivals = poisson_arrivals(rate, duration_s, seed)
    late = 0
    with ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="openloop") as pool:
        t0 = time.perf_counter()
        for a in arrivals:
            scheduled = t0 + float(a)
            wait = scheduled - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            elif -wait * 1e3 > LATE_MS:
                late += 1
            pool.submit(send, scheduled)
    seconds = time.perf_counter() - t0  # until the last answer
    return RateResult(
        protocol=protocol, offered_rps=round(rate, 3), achieved_rps=round(len(lat) / seconds, 3),
        sent=int(arrivals.size), completed=len(lat), errors=len(errors), seconds=round(seconds, 3),
        p50_ms=_pct(lat, 50), p90_ms=_pct(lat, 90), p99_ms=_pct(lat, 99), late_sends=late,
        first_error=errors[0] if errors else None,
    )


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def max_rate_within(results: Sequence[RateResult], bound_ms: float) -> float | None:
    """The highest offered rate whose p99 stayed within ``bound_ms`` with no errors."""
    ok = [r.offered_rps for r in results if r.errors == 0 and r.p99_ms is not None and r.p99_ms <= bound_ms]
    return max(ok) if ok else None

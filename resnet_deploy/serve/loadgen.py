"""A small closed-loop load generator for a Triton endpoint (HTTP or gRPC).

N client threads each send M requests back to back (one in flight per client),
like N users hammering the service; the server's dynamic batcher sees up to N
concurrent requests. Every response can be checked (``check``) so a wrong
answer counts as an error, not just a failed call. Used by the serving tests
and ``benchmarks/serve_load.py``; Triton's ``perf_analyzer`` is the tool for
deeper studies, this one needs nothing beyond tritonclient.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from resnet_deploy._optional import require
from resnet_deploy.checks import check_int
from resnet_deploy.errors import ResNetDeployError

PROTOCOLS = ("http", "grpc")


@dataclass(frozen=True)
class RequestInput:
    """One named input of every request: the array and its Triton datatype (FP32, BYTES)."""

    name: str
    data: np.ndarray
    datatype: str


@dataclass
class LoadResult:
    """Latency percentiles (ms), throughput and errors of one load run."""

    protocol: str
    model: str
    clients: int
    requests: int  # completed + failed, timed part only
    errors: int
    seconds: float
    items_per_request: int
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    first_error: str | None = None

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")

    @property
    def throughput_rps(self) -> float:
        ok = self.requests - self.errors
        return ok / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol, "model": self.model, "clients": self.clients,
            "requests": self.requests, "errors": self.errors, "seconds": round(self.seconds, 3),
            "items_per_request": self.items_per_request,
            "throughput_rps": round(self.throughput_rps, 2),
            "throughput_items_s": round(self.throughput_rps * self.items_per_request, 2),
            "p50_ms": round(self.percentile(50), 3), "p90_ms": round(self.percentile(90), 3),
            "p99_ms": round(self.percentile(99), 3), "max_ms": round(self.percentile(100), 3),
            "first_error": self.first_error,
        }


def client_module(protocol: str) -> Any:
    """tritonclient's http or grpc module (shared with the open-loop generator), or a one-line error naming the extra."""
    if protocol not in PROTOCOLS:
        raise ResNetDeployError(f"unknown protocol '{protocol}'; choose http or grpc")
    return require(f"tritonclient.{protocol}", extra="serve", purpose="the load generator")


def make_inputs(mod: Any, inputs: Sequence[RequestInput]) -> list[Any]:
    """Build the protocol's InferInput objects once per thread, so timing leaves out their serialisation."""
    out = []
    for spec in inputs:
        item = mod.InferInput(spec.name, list(spec.data.shape), spec.datatype)
        item.set_data_from_numpy(spec.data)
        out.append(item)
    return out


@dataclass(frozen=True)
class _Job:
    """What every client thread sends, and how often."""

    address: str
    model: str
    inputs: Sequence[RequestInput]
    protocol: str
    requests_per_client: int
    warmup_per_client: int
    outputs: Sequence[str] | None
    check: Callable[[Any], bool] | None
    timeout_s: float
    cycle: Sequence[Sequence[RequestInput]] = ()  # request variants the clients take turns through


@dataclass
class _Tally:
    """Latencies and errors the client threads share (under one lock)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: list[str] = field(default_factory=list)

    def record_error(self, exc: BaseException | str) -> None:
        with self.lock:
            self.errors += 1
            if not self.first_error:
                self.first_error.append(str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__)

    def void(self, requests: int, exc: BaseException | None = None) -> None:
        """Count a client's whole share as failed (it could not start: ``exc``, or the run is void)."""
        with self.lock:
            self.errors += requests
            if exc is not None:
                self.first_error.append(str(exc).splitlines()[0][:300])

    def add_latencies(self, mine: list[float]) -> None:
        with self.lock:
            self.latencies.extend(mine)


def run_load(
    address: str,
    model: str,
    inputs: Sequence[RequestInput],
    *,
    protocol: str = "http",
    clients: int = 8,
    requests_per_client: int = 250,
    warmup_per_client: int = 3,
    outputs: Sequence[str] | None = None,
    check: Callable[[Any], bool] | None = None,
    timeout_s: float = 60.0,
    cycle: Sequence[Sequence[RequestInput]] = (),
) -> LoadResult:
    """Run the load; ``address`` is ``host:port`` of the chosen protocol's endpoint.

    ``cycle``: request variants (e.g. one per image of a photo set) that replace ``inputs``;
    client i sends variant i, i+1, ... in turn, so every variant is sent as often.
    """
    check_int(clients, "clients", hint="pass e.g. 4")
    check_int(requests_per_client, "requests per client", hint="pass e.g. 100")
    mod = client_module(protocol)
    job = _Job(address, model, inputs, protocol, requests_per_client, warmup_per_client, outputs, check, timeout_s,
               tuple(cycle))
    tally = _Tally()
    start = threading.Barrier(clients + 1)
    threads = [
        threading.Thread(target=_client_worker, args=(mod, job, tally, start, i), name=f"load-{i}", daemon=True)
        for i in range(clients)
    ]
    for t in threads:
        t.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        start.wait(timeout=timeout_s * (warmup_per_client + 1))
    t_start = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t_start
    first = job.cycle[0] if job.cycle else inputs
    n_items = int(first[0].data.shape[0]) if first and first[0].data.ndim else 1
    return LoadResult(
        protocol=protocol, model=model, clients=clients, requests=clients * requests_per_client,
        errors=tally.errors, seconds=seconds, items_per_request=n_items, latencies_ms=tally.latencies,
        first_error=tally.first_error[0] if tally.first_error else None,
    )


def _client_worker(mod: Any, job: _Job, tally: _Tally, start: threading.Barrier, index: int = 0) -> None:
    """One client: connect, warm up (untimed), wait for the others, then send its timed requests."""
    kwargs = {"network_timeout": job.timeout_s, "connection_timeout": job.timeout_s} if job.protocol == "http" else {}
    try:
        client = mod.InferenceServerClient(job.address, **kwargs)
        variants = [make_inputs(mod, v) for v in job.cycle] or [make_inputs(mod, job.inputs)]
        variants = variants[index % len(variants):] + variants[: index % len(variants)]
        outs = [mod.InferRequestedOutput(n) for n in job.outputs] if job.outputs else None
    except Exception as exc:  # a client that cannot start fails all its requests
        tally.void(job.requests_per_client, exc)
        start.abort()
        return
    for i in range(job.warmup_per_client):  # not timed, not counted
        with contextlib.suppress(Exception):
            infer_call(client, job.model, variants[i % len(variants)], outs, job.protocol, job.timeout_s)
    try:
        start.wait(timeout=job.timeout_s)
    except threading.BrokenBarrierError:  # another client could not start: the run is void
        tally.void(job.requests_per_client)
        client.close()
        return
    mine = _timed_requests(client, variants, outs, job, tally)
    client.close()
    tally.add_latencies(mine)


def _timed_requests(client: Any, variants: list[list[Any]], outs: list[Any] | None, job: _Job,
                    tally: _Tally) -> list[float]:
    """Send the client's share back to back; returns the latencies (ms) of the calls that answered."""
    mine: list[float] = []
    for j in range(job.requests_per_client):
        reqs = variants[j % len(variants)]
        t0 = time.perf_counter()
        try:
            result = infer_call(client, job.model, reqs, outs, job.protocol, job.timeout_s)
        except Exception as exc:  # every failure counts, the run goes on
            tally.record_error(exc)
            continue
        mine.append((time.perf_counter() - t0) * 1e3)
        if job.check is not None and not job.check(result):
            tally.record_error("response failed the check (wrong answer)")
    return mine


def infer_call(client: Any, model: str, reqs: list[Any], outs: list[Any] | None, protocol: str,
               timeout_s: float) -> Any:
    """One inference; only gRPC's client takes a per-call timeout (HTTP's is set on the client)."""
    if protocol == "grpc":
        return client.infer(model, reqs, outputs=outs, client_timeout=timeout_s)
    return client.infer(model, reqs, outputs=outs)

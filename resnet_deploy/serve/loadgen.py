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


def _client_module(protocol: str) -> Any:
    if protocol not in PROTOCOLS:
        raise ResNetDeployError(f"unknown protocol '{protocol}'; choose http or grpc")
    return require(f"tritonclient.{protocol}", extra="serve", purpose="the load generator")


def _make_inputs(mod: Any, inputs: Sequence[RequestInput]) -> list[Any]:
    out = []
    for spec in inputs:
        item = mod.InferInput(spec.name, list(spec.data.shape), spec.datatype)
        item.set_data_from_numpy(spec.data)
        out.append(item)
    return out


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
) -> LoadResult:
    """Run the load; ``address`` is ``host:port`` of the chosen protocol's endpoint."""
    check_int(clients, "clients", hint="pass e.g. 4")
    check_int(requests_per_client, "requests per client", hint="pass e.g. 100")
    mod = _client_module(protocol)
    lock = threading.Lock()
    latencies: list[float] = []
    errors = [0]
    first_error: list[str] = []
    start = threading.Barrier(clients + 1)

    def record_error(exc: BaseException | str) -> None:
        with lock:
            errors[0] += 1
            if not first_error:
                first_error.append(str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__)

    def worker() -> None:
        kwargs = {"network_timeout": timeout_s, "connection_timeout": timeout_s} if protocol == "http" else {}
        try:
            client = mod.InferenceServerClient(address, **kwargs)
            reqs = _make_inputs(mod, inputs)
            outs = [mod.InferRequestedOutput(n) for n in outputs] if outputs else None
        except Exception as exc:  # a client that cannot start fails all its requests
            with lock:
                errors[0] += requests_per_client
                first_error.append(str(exc).splitlines()[0][:300])
            start.abort()
            return
        mine: list[float] = []
        for _ in range(warmup_per_client):  # not timed, not counted
            with contextlib.suppress(Exception):
                _call(client, model, reqs, outs, protocol, timeout_s)
        try:
            start.wait(timeout=timeout_s)
        except threading.BrokenBarrierError:  # another client could not start: the run is void
            with lock:
                errors[0] += requests_per_client
            client.close()
            return
        for _ in range(requests_per_client):
            t0 = time.perf_counter()
            try:
                result = _call(client, model, reqs, outs, protocol, timeout_s)
            except Exception as exc:  # every failure counts, the run goes on
                record_error(exc)
                continue
            mine.append((time.perf_counter() - t0) * 1e3)
            if check is not None and not check(result):
                record_error("response failed the check (wrong answer)")
        client.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, name=f"load-{i}", daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    with contextlib.suppress(threading.BrokenBarrierError):
        start.wait(timeout=timeout_s * (warmup_per_client + 1))
    t_start = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t_start
    n_items = int(inputs[0].data.shape[0]) if inputs and inputs[0].data.ndim else 1
    return LoadResult(
        protocol=protocol, model=model, clients=clients, requests=clients * requests_per_client,
        errors=errors[0], seconds=seconds, items_per_request=n_items, latencies_ms=latencies,
        first_error=first_error[0] if first_error else None,
    )


def _call(client: Any, model: str, reqs: list[Any], outs: list[Any] | None, protocol: str, timeout_s: float) -> Any:
    if protocol == "grpc":
        return client.infer(model, reqs, outputs=outs, client_timeout=timeout_s)
    return client.infer(model, reqs, outputs=outs)

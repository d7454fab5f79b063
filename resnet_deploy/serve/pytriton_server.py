"""Serve an artifact with PyTriton: a real Triton server (HTTP + gRPC, KServe v2).

``start_server`` loads one Predictor per model instance, binds the tensor and
image models (see ``handlers``) with Triton's dynamic batcher, starts the
server on the requested (or free, for port 0) ports and yields a handle with
the client addresses; leaving the ``with`` block stops it. ``serve`` is the
blocking form used by ``resnet-deploy serve``: SIGTERM/SIGINT call
``triton.stop()``, which lets in-flight requests finish (up to
``exit_timeout_s``) before the server exits; a signal during start-up stops
it at the next checkpoint and removes everything started (``signals``).

Triton gives health (``/v2/health/live|ready``), model readiness and metadata
(``/v2/models/<name>``), config and Prometheus metrics (``:metrics_port/metrics``)
for free; nothing here reimplements them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from resnet_deploy._optional import require
from resnet_deploy.artifact import read_manifest
from resnet_deploy.checks import check_int, check_nonempty_str
from resnet_deploy.errors import ConfigError, ResNetDeployError, WorkFailedError
from resnet_deploy.serve.batch_stats import BatchStats
from resnet_deploy.serve.environment import (
    client_host,
    prepare_triton_environment,
    resolve_ports,
    triton_environment,
)
from resnet_deploy.serve.handlers import (
    ModelSpec,
    image_inputs,
    make_infer_functions,
    output_tensors,
    tensor_inputs,
)
from resnet_deploy.serve.signals import StopRequested, StopSignals, child_pids, reap_children

LOG = logging.getLogger(__name__)
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,57}$")


@dataclass
class ServeConfig:
    """Options of ``resnet-deploy serve``. Port 0 = pick a free port."""

    host: str = "127.0.0.1"
    http_port: int = 8000
    grpc_port: int = 8001
    metrics_port: int = 8002
    backend: str = "auto"  # backend spec for runtime.predictor.load
    max_batch: int = 32
    instances: int = 1
    max_queue_delay_us: int = 500
    model_name: str = "resnet"
    top_k: int = 5
    threads: int | None = None  # per instance; default: CPU cores / instances
    exit_timeout_s: int = 10
    log_verbose: int = 0
    log_file: Path | None = None  # Triton's own log; None = this process's stdout

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """One-line ConfigError for nonsense options, before anything is loaded (again in ``start_server``)."""
        check_nonempty_str(self.host, "--host", hint="pass an address such as 127.0.0.1 or 0.0.0.0")
        for role in ("http", "grpc", "metrics"):
            check_int(getattr(self, f"{role}_port"), f"--{role}-port", minimum=0, maximum=65535,
                      hint="pass e.g. 8000, or 0 for any free port")
        check_nonempty_str(self.backend, "--backend", hint="pass auto or a backend such as onnxruntime")
        check_int(self.max_batch, "--max-batch", maximum=4096, hint="pass e.g. 32")
        check_int(self.instances, "--instances", maximum=64, hint="pass e.g. 1")
        check_int(self.max_queue_delay_us, "--max-queue-delay-us", minimum=0, maximum=10_000_000,
                  hint="pass e.g. 500")
        if not isinstance(self.model_name, str) or not _NAME_RE.match(self.model_name):
            raise ConfigError(
                f"model name '{self.model_name}' is not valid; use letters, digits, '.', '_' or '-' (max 58)"
            )
        check_int(self.top_k, "--top-k", hint="pass e.g. 5")
        check_int(self.threads, "--threads", allow_none=True, hint="pass e.g. 4, or leave it out")
        check_int(self.exit_timeout_s, "exit timeout (s)", minimum=0, hint="pass e.g. 10")
        check_int(self.log_verbose, "--log-verbose", minimum=0, hint="pass 0 (quiet) to 3")


@dataclass
class RunningServer:
    """A started server: where clients connect, and how to stop it."""

    host: str
    http_port: int
    grpc_port: int
    metrics_port: int
    model_name: str
    image_model_name: str
    backend: str
    spec: ModelSpec
    image_stats: BatchStats = field(default_factory=BatchStats)  # the image model's batches, all instances
    _triton: Any = field(repr=False, default=None)
    _predictors: list[Any] = field(repr=False, default_factory=list)
    _stopped: bool = field(repr=False, default=False)

    @property
    def http_address(self) -> str:
        """``host:port`` as tritonclient.http expects it."""
        return f"{client_host(self.host)}:{self.http_port}"

    @property
    def grpc_address(self) -> str:
        return f"{client_host(self.host)}:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.http_address}"

    @property
    def grpc_url(self) -> str:
        return f"grpc://{self.grpc_address}"

    @property
    def metrics_url(self) -> str:
        return f"http://{client_host(self.host)}:{self.metrics_port}/metrics"

    @property
    def stopped(self) -> bool:
        """True once ``stop()`` was called (by the owner or a signal)."""
        return self._stopped

    def is_alive(self) -> bool:
        return not self._stopped and self._triton is not None and self._triton.is_alive()

    def stop(self) -> None:
        """Stop Triton (in-flight requests finish first) and release the Predictors. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        if self._triton is not None:
            try:
                self._triton.stop()
            except Exception:  # any failure: stopped before run(): PyTriton has no server yet
                with contextlib.suppress(Exception):
                    self._triton._workspace.clean()
        for p in self._predictors:
            with contextlib.suppress(Exception):  # best effort: the server is already down
                p.close()
        self._predictors.clear()

    def wait(self, poll_s: float = 0.5) -> None:
        """Block until ``stop`` is called (e.g. by a signal) or the server dies."""
        while self.is_alive():
            time.sleep(poll_s)

    def summary(self) -> dict[str, Any]:
        return {
            "http": self.http_url, "grpc": self.grpc_url, "metrics": self.metrics_url,
            "models": [self.model_name, self.image_model_name], "backend": self.backend,
            "inputs": {self.model_name: self.spec.input_name, self.image_model_name: "image"},
            "outputs": ["logits", "probabilities", "topk_indices", "topk_scores", "topk_labels"],
            "top_k": self.spec.top_k,
        }


def _load_predictors(artifact_dir: Path, cfg: ServeConfig) -> list[Any]:
    from resnet_deploy.runtime.predictor import load

    threads = cfg.threads or max(1, (os.cpu_count() or 1) // cfg.instances)
    loaded: list[Any] = []
    try:
        for _ in range(cfg.instances):  # one per instance: no lock shared between batches in flight
            loaded.append(load(artifact_dir, backend=cfg.backend, threads=threads, max_batch=cfg.max_batch))
    except BaseException:
        for p in loaded:
            p.close()
        raise
    return loaded


def _model_spec(artifact_dir: Path, cfg: ServeConfig, labels: list[str] | None = None) -> ModelSpec:
    m = read_manifest(artifact_dir)
    return ModelSpec(
        input_name=m.input.name, channels=m.input.channels, size=m.input.size,
        num_classes=m.model.num_classes, top_k=min(cfg.top_k, m.model.num_classes),
        labels=tuple(labels or m.model.labels or ()),
    )


def _triton_config(cfg: ServeConfig, ports: dict[str, int]) -> Any:
    from pytriton.triton import TritonConfig

    return TritonConfig(
        http_address=cfg.host, http_port=ports["http"],
        grpc_address=cfg.host, grpc_port=ports["grpc"],
        metrics_address=cfg.host, metrics_port=ports["metrics"],
        exit_timeout_secs=cfg.exit_timeout_s, log_verbose=cfg.log_verbose or None,
        log_file=Path(cfg.log_file).resolve() if cfg.log_file else None,
    )


ACCESS_TOKEN_ENV = "RESNET_DEPLOY_SERVE_ACCESS_TOKEN"


def _security_config() -> Any:
    """PyTriton guards statistics/repository/logging endpoints with a token; let operators set it.

    By default PyTriton invents a random token, so monitoring and ``perf_analyzer``
    (which reads per-model statistics) are refused. With the token in
    ``$RESNET_DEPLOY_SERVE_ACCESS_TOKEN`` they pass it as the ``triton-access-token`` header.
    """
    from pytriton.triton import TritonSecurityConfig

    return TritonSecurityConfig(access_token=os.environ.get(ACCESS_TOKEN_ENV) or None)


def launch(
    artifact_dir: str | os.PathLike[str], cfg: ServeConfig | None = None, stop: StopSignals | None = None
) -> RunningServer:
    """Load, bind and start; the caller must ``stop()`` the returned server.

    With ``stop`` (recorded SIGTERM/SIGINT), start-up gives up at the next
    checkpoint with ``StopRequested`` after stopping whatever it had started.
    """
    cfg = cfg or ServeConfig()
    check = stop.checkpoint if stop is not None else (lambda: None)
    cfg.validate()
    artifact = Path(artifact_dir)
    _model_spec(artifact, cfg)  # a missing/broken artifact fails here, before ports or Triton
    require("pytriton", extra="serve", purpose="resnet-deploy serve")
    ports = resolve_ports(cfg.host, {"http": cfg.http_port, "grpc": cfg.grpc_port, "metrics": cfg.metrics_port})
    check()
    predictors = _load_predictors(artifact, cfg)
    try:
        check()
        spec = _model_spec(artifact, cfg, predictors[0].labels)
        warm = np.zeros((1, spec.channels, spec.size, spec.size), dtype=np.float32)
        for p in predictors:
            p.infer(warm)  # the first call pays for graph optimisation, not the first client
            if p.raw_runner is not None:  # the image model's raw-pixel twin too
                p.infer_pixels(np.zeros((1, spec.size, spec.size, 3), dtype=np.uint8))
            p.prepare(range(1, cfg.max_batch + 1))  # every batch Triton may send, compiled before ready
        check()
    except BaseException:
        for p in predictors:
            with contextlib.suppress(Exception):
                p.close()
        raise
    server = RunningServer(
        host=cfg.host, http_port=ports["http"], grpc_port=ports["grpc"], metrics_port=ports["metrics"],
        model_name=cfg.model_name, image_model_name=f"{cfg.model_name}_image",
        backend=str(predictors[0].backend), spec=spec, _predictors=predictors,
    )
    try:
        server._triton = _start_triton(cfg, ports, spec, predictors, server)
        check()
    except BaseException as exc:  # Ctrl-C during start-up too: stop what was started
        server.stop()
        if stop is not None and stop.requested and isinstance(exc, Exception):
            raise StopRequested() from None  # Triton saw the terminal's Ctrl-C too: not a start failure
        if isinstance(exc, ResNetDeployError) or not isinstance(exc, Exception):
            raise
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        where = f"see {cfg.log_file}" if cfg.log_file else "see the Triton log above"
        raise ResNetDeployError(f"the Triton server did not start ({reason}); {where}") from exc
    return server


def _start_triton(
    cfg: ServeConfig, ports: dict[str, int], spec: ModelSpec, predictors: list[Any], server: RunningServer
) -> Any:
    """Bind the tensor and image models (one infer function per instance) and start Triton.

    The models go into a local model store before Triton starts (PyTriton's
    ``local_model_store`` policy), so Triton loads them *before* it opens its
    endpoints: ``/v2/health/ready`` (strict readiness, Triton's default) can
    only answer 200 once every model is loaded. PyTriton's own default loads
    them through the repository API after the server is up, so readiness was
    vacuously true for seconds while ``/v2/models/<name>/infer`` returned 404.
    """
    prepare_triton_environment()  # before Triton spawns the server and its Python stubs
    from pytriton.model_config import DynamicBatcher, ModelConfig
    from pytriton.triton import Triton, TritonLifecyclePolicy

    model_config = ModelConfig(
        batching=cfg.max_batch > 1, max_batch_size=cfg.max_batch,
        batcher=DynamicBatcher(max_queue_delay_microseconds=cfg.max_queue_delay_us),
    )
    fns = [make_infer_functions(p, spec, server.image_stats) for p in predictors]
    with triton_environment(cfg.instances):
        triton = Triton(config=_triton_config(cfg, ports), security_config=_security_config(),
                        triton_lifecycle_policy=TritonLifecyclePolicy(launch_triton_on_startup=False,
                                                                      local_model_store=True))
        server._triton = triton  # so stop() works even if run() fails half-way
        triton.bind(
            model_name=server.model_name, infer_func=[f[0] for f in fns],
            inputs=tensor_inputs(spec), outputs=output_tensors(spec), config=model_config, strict=True,
        )
        triton.bind(
            model_name=server.image_model_name, infer_func=[f[1] for f in fns],
            inputs=image_inputs(), outputs=output_tensors(spec), config=model_config, strict=True,
        )
        triton.run()
    return triton


@contextlib.contextmanager
def start_server(artifact_dir: str | os.PathLike[str], cfg: ServeConfig | None = None) -> Iterator[RunningServer]:
    """A running server for the ``with`` block (tests, benchmarks, embedding in an app)."""
    server = launch(artifact_dir, cfg)
    try:
        yield server
    finally:
        server.stop()


def serve(
    artifact_dir: str | os.PathLike[str],
    cfg: ServeConfig | None = None,
    on_ready: Callable[[RunningServer], None] | None = None,
    stop: StopSignals | None = None,
) -> RunningServer | None:
    """Serve until SIGTERM/SIGINT; returns the stopped server (WorkFailedError if Triton died).

    ``stop``: signal handling already installed by the caller (the CLI does so
    before parsing); otherwise it is installed here. Returns None when a signal
    came before the server was up; everything started is stopped and removed
    either way, including stray descendants (``reap_children``).
    """
    signals = (stop or StopSignals()).install()
    before = child_pids()
    server: RunningServer | None = None
    try:
        try:
            server = launch(artifact_dir, cfg, stop=signals)
        except StopRequested:
            return None
        if signals.requested:
            return server
        if on_ready is not None:
            on_ready(server)
        while server.is_alive() and not signals.requested:  # the stop runs below, not in the handler
            time.sleep(0.2)
        if not signals.requested and not server.stopped:  # Triton or a model process died
            raise WorkFailedError(
                "the Triton server exited unexpectedly; see its log"
                + (f" ({cfg.log_file})" if cfg and cfg.log_file else "")
            )
    finally:
        if server is not None:
            server.stop()  # triton.stop(): drain in-flight requests, then exit
        reap_children(before)
        signals.restore()
    return server

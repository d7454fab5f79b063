"""Readiness means ready: ``/v2/health/ready`` of ``resnet-deploy serve`` is 200 only when every model answers.

``serve`` runs as a real CLI process on loopback. From the moment its HTTP port
opens, every ~50 ms one round asks, in this order: ``/v2/health/ready``, then
``/v2/models/<model>/ready`` and a real inference on each served model (tensor
model: a zero tensor; image model: a PNG). A readiness probe that got 200 must
never be followed, in the same round, by a model that is not ready or cannot
infer (the models only ever become ready during start-up, so the later checks
are no stricter than the probe). Then the server must actually become ready.
Run with one and with two model instances (two instances load one after the
other, see ``serve.environment.triton_server_env``).
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

httpclient = pytest.importorskip("tritonclient.http")
pytest.importorskip("pytriton")
from serve_ports import PortClash, clashed, distinct_free_ports, retry_on_port_clash  # noqa: E402

MODELS = ("resnet", "resnet_image")
POLL_S = 0.05
START_BUDGET_S = 240
ROUNDS_AFTER_READY = 5


@dataclass
class Round:
    """One poll: HTTP status of health/ready (None: port closed), per model: ready and an infer that worked."""

    t: float
    health: int | None
    model_ready: dict[str, bool]
    infer_ok: dict[str, bool]

    def consistent(self) -> bool:
        return self.health != 200 or (all(self.model_ready.values()) and all(self.infer_ok.values()))

    def all_ok(self) -> bool:
        return self.health == 200 and self.consistent()


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from resnet_deploy.export.config import ExportConfig
    from resnet_deploy.export.pipeline import export_artifact

    out = tmp_path_factory.mktemp("serve_ready") / "resnet20"
    export_artifact(ExportConfig(arch="resnet20", num_classes=10, input_size=32, formats=("onnx",), out=out))
    return out


@pytest.fixture(scope="module")
def png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((40, 48, 3), 128, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:  # refused, reset, timed out: the probe fails
        return None


def _infer_ok(client, model: str, png: bytes) -> bool:  # type: ignore[no-untyped-def]
    if model == "resnet":
        item = httpclient.InferInput("input", [1, 3, 32, 32], "FP32")
        item.set_data_from_numpy(np.zeros((1, 3, 32, 32), np.float32))
    else:
        item = httpclient.InferInput("image", [1, 1], "BYTES")
        item.set_data_from_numpy(np.array([[png]], dtype=object))
    try:
        result = client.infer(model, [item])
    except Exception:  # noqa: BLE001 - any failure (404, 400, connection) means "cannot infer"
        return False
    return result.as_numpy("topk_indices") is not None


def _poll(port: int, png: bytes, t0: float) -> Round:
    base = f"http://127.0.0.1:{port}/v2"
    started = time.monotonic() - t0
    health = _status(f"{base}/health/ready")
    ready = {m: _status(f"{base}/models/{m}/ready") == 200 for m in MODELS}
    client = httpclient.InferenceServerClient(f"127.0.0.1:{port}", connection_timeout=5, network_timeout=20)
    try:
        infer = {m: _infer_ok(client, m, png) for m in MODELS}
    finally:
        client.close()
    return Round(started, health, ready, infer)


def _watch(proc: subprocess.Popen[str], port: int, png: bytes) -> list[Round]:
    """Poll from the moment the port answers until ROUNDS_AFTER_READY all-good rounds, the process exits or time is up."""
    deadline = time.monotonic() + START_BUDGET_S
    while time.monotonic() < deadline and proc.poll() is None:
        if _status(f"http://127.0.0.1:{port}/v2/health/live") is not None:
            break
        time.sleep(POLL_S)  # port not open yet: a probe fails, nothing to compare
    t0 = time.monotonic()
    rounds: list[Round] = []
    while time.monotonic() < deadline and proc.poll() is None:
        rounds.append(_poll(port, png, t0))
        if sum(r.all_ok() for r in rounds) >= ROUNDS_AFTER_READY:
            break
        time.sleep(POLL_S)
    return rounds


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.communicate(timeout=90)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def _serve_and_watch(artifact: Path, instances: int, png: bytes, log: Path) -> list[Round]:
    ports = distinct_free_ports(3)
    cmd = [sys.executable, "-c", "from resnet_deploy.cli import main; main()", "serve", str(artifact),
           "--backend", "onnxruntime:fp32", "--instances", str(instances), "--threads", "1",
           "--http-port", str(ports[0]), "--grpc-port", str(ports[1]), "--metrics-port", str(ports[2]),
           "--log-file", str(log)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        rounds = _watch(proc, ports[0], png)
    finally:
        out, err = _stop(proc)
    if not any(r.all_ok() for r in rounds) and clashed(out, err, log):
        raise PortClash(err[-300:])
    assert any(r.all_ok() for r in rounds), f"serve never became ready (exit {proc.returncode}): {err[-1500:]}"
    return rounds


@pytest.mark.slow
@pytest.mark.parametrize("instances", [1, 2], ids=["1-instance", "2-instances"])
def test_health_ready_only_when_every_model_answers(
    artifact: Path, png: bytes, tmp_path: Path, instances: int
) -> None:
    rounds = retry_on_port_clash(
        lambda attempt: _serve_and_watch(artifact, instances, png, tmp_path / f"triton-{attempt}.log")
    )
    early = [r for r in rounds if not r.consistent()]
    assert not early, (
        f"/v2/health/ready said 200 while a model could not answer, {len(early)} of {len(rounds)} polls; "
        f"first: {early[0]}"
    )
    first_ok = next(i for i, r in enumerate(rounds) if r.all_ok())
    assert all(r.all_ok() for r in rounds[first_ok:]), "readiness went away again after start-up"
    print(f"\n{instances} instance(s): {len(rounds)} polls, ready at {rounds[first_ok].t:.2f} s "
          f"after the port opened ({first_ok} polls not ready before)")

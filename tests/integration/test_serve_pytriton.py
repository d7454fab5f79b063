"""A real Triton server (PyTriton) on loopback, driven by tritonclient over HTTP and gRPC.

One server for the module (start-up costs seconds): resnet20 at 32 px, two
model instances, dynamic batching. Every answer is compared with the same
artifact run directly through ``runtime.predictor``; a bounded load test checks
every response and requires zero errors; the CLI is run as a real process and
stopped with SIGTERM.
"""

from __future__ import annotations

import contextlib
import io
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from resnet_deploy.errors import ResNetDeployError
from resnet_deploy.serve import ServeConfig, start_server
from resnet_deploy.serve.environment import port_is_free
from resnet_deploy.serve.loadgen import RequestInput, run_load

httpclient = pytest.importorskip("tritonclient.http")
grpcclient = pytest.importorskip("tritonclient.grpc")
pytest.importorskip("pytriton")
from serve_ports import PortClash, clashed, retry_on_port_clash  # noqa: E402
from tritonclient.utils import InferenceServerException  # noqa: E402

LABELS = [f"class_{i}" for i in range(10)]
TOP_K = 3


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from resnet_deploy.export.config import ExportConfig
    from resnet_deploy.export.pipeline import export_artifact

    out = tmp_path_factory.mktemp("serve_it") / "resnet20"
    export_artifact(ExportConfig(arch="resnet20", num_classes=10, input_size=32, formats=("onnx",),
                                 out=out, labels=LABELS))
    return out


@pytest.fixture(scope="module")
def predictor(artifact: Path):
    from resnet_deploy.runtime.predictor import load

    with load(artifact, backend="onnxruntime:fp32", threads=1) as p:
        yield p


def _enter_server(stack: contextlib.ExitStack, artifact: Path, log: Path):  # type: ignore[no-untyped-def]
    """Start on ports 0 (picked free by the library); PortClash if one was taken before Triton bound it."""
    cfg = ServeConfig(http_port=0, grpc_port=0, metrics_port=0, backend="onnxruntime:fp32", max_batch=16,
                      instances=2, max_queue_delay_us=2000, top_k=TOP_K, log_file=log)
    try:
        return stack.enter_context(start_server(artifact, cfg))
    except ResNetDeployError as exc:
        if clashed(str(exc), log):
            raise PortClash(str(exc)) from exc
        raise


@pytest.fixture(scope="module")
def server(artifact: Path, tmp_path_factory: pytest.TempPathFactory):
    logs = tmp_path_factory.mktemp("serve_log")
    with contextlib.ExitStack() as stack:
        srv = retry_on_port_clash(lambda attempt: _enter_server(stack, artifact, logs / f"triton-{attempt}.log"))
        yield srv
    # leaving the block stopped Triton and released every port
    assert not srv.is_alive()
    deadline = time.time() + 15
    while time.time() < deadline and not all(
        port_is_free("127.0.0.1", p) for p in (srv.http_port, srv.grpc_port, srv.metrics_port)
    ):
        time.sleep(0.2)
    assert port_is_free("127.0.0.1", srv.http_port) and port_is_free("127.0.0.1", srv.grpc_port)


@pytest.fixture(scope="module")
def images() -> list[bytes]:
    from PIL import Image

    rng = np.random.default_rng(3)
    out = []
    for i, (h, w) in enumerate([(40, 52), (64, 30), (32, 32), (90, 120)]):
        img = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        buf = io.BytesIO()
        img.save(buf, format="PNG" if i % 2 else "JPEG")
        out.append(buf.getvalue())
    return out


def clients(server):
    return (
        ("http", httpclient, httpclient.InferenceServerClient(server.http_address)),
        ("grpc", grpcclient, grpcclient.InferenceServerClient(server.grpc_address)),
    )


def infer(mod, client, model: str, name: str, data: np.ndarray, datatype: str):
    item = mod.InferInput(name, list(data.shape), datatype)
    item.set_data_from_numpy(data)
    return client.infer(model, [item])


def test_health_ready_and_metrics(server) -> None:
    for _, _, c in clients(server):
        assert c.is_server_live() and c.is_server_ready()
        assert c.is_model_ready(server.model_name) and c.is_model_ready(server.image_model_name)
        assert not c.is_model_ready("no_such_model")
        c.close()
    text = urllib.request.urlopen(server.metrics_url, timeout=10).read().decode()
    assert "nv_inference_request_success" in text


def test_metadata_and_config(server) -> None:
    http = httpclient.InferenceServerClient(server.http_address)
    meta = http.get_model_metadata(server.model_name)
    assert [(i["name"], i["datatype"], i["shape"]) for i in meta["inputs"]] == [("input", "FP32", [-1, 3, 32, 32])]
    outs = {o["name"]: (o["datatype"], o["shape"]) for o in meta["outputs"]}
    assert outs == {
        "logits": ("FP32", [-1, 10]), "probabilities": ("FP32", [-1, 10]),
        "topk_indices": ("INT64", [-1, TOP_K]), "topk_scores": ("FP32", [-1, TOP_K]),
        "topk_labels": ("BYTES", [-1, TOP_K]),
    }
    image_meta = http.get_model_metadata(server.image_model_name)
    assert [(i["name"], i["datatype"]) for i in image_meta["inputs"]] == [("image", "BYTES")]
    config = http.get_model_config(server.model_name)
    assert config["max_batch_size"] == 16
    assert config["dynamic_batching"]["max_queue_delay_microseconds"] == 2000
    assert sum(g["count"] for g in config["instance_group"]) == 2
    http.close()
    grpc = grpcclient.InferenceServerClient(server.grpc_address)
    gmeta = grpc.get_model_metadata(server.model_name, as_json=True)
    assert gmeta["inputs"][0]["name"] == "input" and gmeta["inputs"][0]["datatype"] == "FP32"
    grpc.close()


def test_tensor_path_matches_the_predictor(server, predictor) -> None:
    x = np.random.default_rng(0).standard_normal((5, 3, 32, 32)).astype(np.float32)
    want = predictor.infer(x)
    want_top = [p.indices for p in predictor.predict_batch(x, top_k=TOP_K)]
    for proto, mod, c in clients(server):
        r = infer(mod, c, server.model_name, "input", x, "FP32")
        np.testing.assert_allclose(r.as_numpy("logits"), want, rtol=1e-4, atol=1e-4, err_msg=proto)
        assert r.as_numpy("topk_indices").tolist() == want_top, proto
        assert (r.as_numpy("logits").argmax(1) == want.argmax(1)).all()
        np.testing.assert_allclose(r.as_numpy("probabilities").sum(1), 1.0, rtol=1e-5)
        labels = [[b.decode() for b in row] for row in r.as_numpy("topk_labels")]
        assert labels == [[LABELS[i] for i in row] for row in want_top]
        c.close()


def test_image_path_preprocesses_like_the_predictor(server, predictor, images) -> None:
    batch = np.array([[b] for b in images], dtype=object)
    want = predictor.predict(images, top_k=TOP_K)
    for proto, mod, c in clients(server):
        r = infer(mod, c, server.image_model_name, "image", batch, "BYTES")
        got = r.as_numpy("topk_indices").tolist()
        assert [row[0] for row in got] == [p.top1 for p in want], proto
        assert got == [p.indices for p in want], proto
        np.testing.assert_allclose(r.as_numpy("topk_scores"), [p.probabilities for p in want], atol=1e-5)
        c.close()


def test_a_client_naming_one_output_gets_only_that_output(server, predictor, images) -> None:
    want = [p.indices for p in predictor.predict(images[:2], top_k=TOP_K)]
    for proto, mod, c in clients(server):
        item = mod.InferInput("image", [2, 1], "BYTES")
        item.set_data_from_numpy(np.array([[b] for b in images[:2]], dtype=object))
        r = c.infer(server.image_model_name, [item], outputs=[mod.InferRequestedOutput("topk_indices")])
        assert r.as_numpy("topk_indices").tolist() == want, proto
        assert r.as_numpy("logits") is None and r.as_numpy("topk_labels") is None, proto
        c.close()


def test_bad_requests_fail_cleanly_and_the_server_stays_up(server) -> None:
    for proto, mod, c in clients(server):
        with pytest.raises(InferenceServerException, match="cannot be decoded") as bad:
            infer(mod, c, server.image_model_name, "image", np.array([[b"not an image"]], dtype=object), "BYTES")
        # the reason as one line, not our frames (PyTriton's own stub frame around it is not ours to drop)
        assert "RequestError: image bytes cannot be decoded" in str(bad.value), proto
        assert "resnet_deploy/" not in str(bad.value) and "handlers.py" not in str(bad.value), proto
        with pytest.raises(InferenceServerException):  # wrong spatial size: refused by Triton itself
            infer(mod, c, server.model_name, "input", np.zeros((1, 3, 31, 31), np.float32), "FP32")
        with pytest.raises(InferenceServerException):  # more than max_batch_size
            infer(mod, c, server.model_name, "input", np.zeros((17, 3, 32, 32), np.float32), "FP32")
        assert c.is_server_ready() and c.is_model_ready(server.model_name), proto
        c.close()


def test_load_8_clients_x_250_requests_no_errors(server, predictor, record_property) -> None:
    x = np.random.default_rng(1).standard_normal((1, 3, 32, 32)).astype(np.float32)
    expected = int(predictor.infer(x).argmax())
    result = run_load(
        server.http_address, server.model_name, [RequestInput("input", x, "FP32")], protocol="http",
        clients=8, requests_per_client=250, outputs=["topk_indices"],
        check=lambda r: int(r.as_numpy("topk_indices")[0, 0]) == expected,
    )
    summary = result.to_dict()
    record_property("serve_load_http", summary)
    print("\nload (http, 8x250):", summary)
    assert result.errors == 0, result.first_error
    assert result.requests == 2000 and len(result.latencies_ms) == 2000
    assert 0 < summary["p50_ms"] <= summary["p99_ms"]
    grpc = run_load(
        server.grpc_address, server.model_name, [RequestInput("input", x, "FP32")], protocol="grpc",
        clients=8, requests_per_client=50, outputs=["topk_indices"],
        check=lambda r: int(r.as_numpy("topk_indices")[0, 0]) == expected,
    )
    print("load (grpc, 8x50):", grpc.to_dict())
    assert grpc.errors == 0, grpc.first_error


# the ready lines of `resnet-deploy serve` name the ports it bound
ADDRESSES = re.compile(r"HTTP\s+http://127\.0\.0\.1:(\d+)\s+gRPC\s+grpc://127\.0\.0\.1:(\d+)"
                       r"\s+metrics\s+http://127\.0\.0\.1:(\d+)/metrics")


def _start_cli(artifact: Path, tmp_path: Path, attempt: int) -> tuple[subprocess.Popen, list[int], Path]:
    """`resnet-deploy serve` on ports 0, until its ready lines; PortClash if a port was taken meanwhile."""
    err_path, log = tmp_path / f"serve-{attempt}.err", tmp_path / f"triton-{attempt}.log"
    cmd = [sys.executable, "-c", "from resnet_deploy.cli import main; main()", "serve", str(artifact),
           "--http-port", "0", "--grpc-port", "0", "--metrics-port", "0",
           "--backend", "onnxruntime", "--log-file", str(log)]
    with open(err_path, "w") as err:  # the child keeps its own descriptor
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        found = ADDRESSES.search(err_path.read_text(errors="replace"))
        if found:
            return proc, [int(g) for g in found.groups()], err_path
        time.sleep(0.5)
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    text = err_path.read_text(errors="replace")
    if clashed(text, log):
        raise PortClash(text[-500:])
    raise AssertionError(f"server not ready (rc={proc.returncode}): {text[-2000:]}")


def test_cli_serves_until_sigterm(artifact: Path, tmp_path: Path) -> None:
    """The real console command: ready, answers, then SIGTERM -> clean exit 0 and ports released."""
    proc, ports, err_path = retry_on_port_clash(lambda attempt: _start_cli(artifact, tmp_path, attempt))
    try:
        client = httpclient.InferenceServerClient(f"127.0.0.1:{ports[0]}")
        assert client.is_server_ready() and client.is_model_ready("resnet_image")
        x = np.zeros((2, 3, 32, 32), np.float32)
        assert infer(httpclient, client, "resnet", "input", x, "FP32").as_numpy("logits").shape == (2, 10)
        client.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = err_path.read_text(errors="replace")
    assert proc.returncode == 0, err[-2000:]
    assert "stopped" in err and "Traceback" not in err
    assert all(port_is_free("127.0.0.1", p) for p in ports[:2])

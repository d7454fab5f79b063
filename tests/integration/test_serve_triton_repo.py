"""A generated model repository: validated against Triton's schema, and loaded by a real ``tritonserver``.

The Triton binary bundled with nvidia-pytriton has only the Python backend (its
``tritonserver/backends`` holds ``python`` alone), so the generated network model,
whose config names the onnxruntime backend, cannot be loaded here. What is checked
for it instead: its ``config.pbtxt`` parses strictly as Triton's ``ModelConfig``
and agrees with the ONNX file and labels it names. To run the ensemble end to end,
a Python-backend stand-in with the same config (only the backend changed) runs the
repository's own ``resnet/1/model.onnx`` with ONNX Runtime. The generated
``resnet_preprocess`` (config + model.py) and ``resnet_ensemble`` are loaded by
Triton exactly as written, and the answers are compared with the artifact's
Predictor. Should the bundled Triton gain the onnxruntime backend, the generated
config is loaded as is and no stand-in is used.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from resnet_deploy.artifact import (
    InputSpec,
    Manifest,
    ModelInfo,
    Preprocessing,
    make_entry,
    save_manifest,
)
from resnet_deploy.serve.environment import prepare_triton_environment
from resnet_deploy.serve.triton_repo import RepoConfig, write_triton_repo

httpclient = pytest.importorskip("tritonclient.http")
mc = pytest.importorskip("tritonclient.grpc.model_config_pb2")
distribution = pytest.importorskip("pytriton.utils.distribution")
from google.protobuf import text_format  # noqa: E402
from serve_ports import PortClash, clashed, distinct_free_ports, retry_on_port_clash  # noqa: E402

SIZE, CLASSES = 32, 7
LABELS = [f"kind_{i}" for i in range(CLASSES)]

STAND_IN = '''
import os
import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        path = os.path.join(args["model_repository"], args["model_version"], "model.onnx")
        self.session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])

    def execute(self, requests):
        out = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "input").as_numpy()
            logits = self.session.run(["logits"], {"input": x})[0]
            out.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("logits", logits)]))
        return out
'''


def toy_artifact(root: Path) -> Path:
    """Conv -> ReLU -> GlobalAveragePool -> Gemm, with the manifest's I/O contract."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(5)
    inits = [
        numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "cw"),
        numpy_helper.from_array(rng.standard_normal((8, CLASSES)).astype(np.float32), "fw"),
        numpy_helper.from_array(rng.standard_normal(CLASSES).astype(np.float32), "fb"),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "cw"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes, "toy",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", CLASSES])], inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    root.mkdir(parents=True)
    onnx.save(model, str(root / "model.fp32.onnx"))
    save_manifest(Manifest(
        model=ModelInfo(arch="toy", num_classes=CLASSES, labels=LABELS),
        input=InputSpec(shape=[-1, 3, SIZE, SIZE]), preprocessing=Preprocessing.for_input_size(SIZE),
        files=[make_entry(root, "model.fp32.onnx", "onnx")],
    ), root)
    return root


def _bundled_backends(base: Path) -> tuple[Path, bool]:
    """A copy of PyTriton's backends with the Python stub for this interpreter; has it onnxruntime?"""
    bundled = distribution.get_root_module_path() / "tritonserver" / "backends"
    backends = base / "backends"
    shutil.copytree(bundled, backends)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    shutil.copy(distribution.get_stub_path(version), backends / "python" / "triton_python_backend_stub")
    return backends, (bundled / "onnxruntime").is_dir()


def _use_stand_in(repo: Path) -> None:
    """The network model as a Python-backend model: generated config, only the backend changed."""
    cfg = text_format.Parse((repo / "resnet" / "config.pbtxt").read_text(), mc.ModelConfig())
    cfg.backend = "python"
    cfg.ClearField("default_model_filename")
    (repo / "resnet" / "config.pbtxt").write_text(text_format.MessageToString(cfg))
    (repo / "resnet" / "1" / "model.py").write_text(STAND_IN)


def _start_tritonserver(repo: Path, backends: Path, log_path: Path) -> tuple[subprocess.Popen, object]:
    """Start tritonserver on fresh free ports; PortClash if one was taken before it bound it."""
    env = dict(os.environ)
    prepare_triton_environment(env)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [env.get("LD_LIBRARY_PATH"),
                                                           str(distribution.get_libs_path())]))
    ports = distinct_free_ports(3)
    binary = distribution.get_root_module_path() / "tritonserver" / "bin" / "tritonserver"
    with open(log_path, "w") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [str(binary), f"--model-repository={repo}", f"--backend-directory={backends}",
             f"--http-port={ports[0]}", f"--grpc-port={ports[1]}", f"--metrics-port={ports[2]}",
             "--http-address=127.0.0.1", "--grpc-address=127.0.0.1", "--exit-timeout-secs=5"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    # short timeouts while waiting: whoever took a port may accept and never answer
    probe = httpclient.InferenceServerClient(f"127.0.0.1:{ports[0]}", connection_timeout=2, network_timeout=2)
    deadline = time.time() + 90
    ready = False
    while time.time() < deadline and proc.poll() is None and not ready:
        with contextlib.suppress(Exception):  # not listening yet
            ready = probe.is_server_ready()
        if not ready:
            time.sleep(0.5)
    probe.close()
    if not ready:
        _stop(proc)
        if clashed(log_path):
            raise PortClash(f"tritonserver on {ports}: {log_path}")
        raise AssertionError(log_path.read_text()[-3000:])
    return proc, httpclient.InferenceServerClient(f"127.0.0.1:{ports[0]}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def generated_repo(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The toy artifact and the repository ``write_triton_repo`` generates for it (bytes kept)."""
    base = tmp_path_factory.mktemp("triton_repo")
    artifact = toy_artifact(base / "artifact")
    repo = base / "model_repository"
    write_triton_repo(artifact, RepoConfig(out=repo, max_batch=8, instances=1))
    generated = {p.relative_to(repo): p.read_bytes() for p in repo.rglob("*") if p.is_file()}
    return SimpleNamespace(artifact=artifact, repo=repo, generated=generated)


@pytest.fixture(scope="module")
def triton_repo_server(generated_repo: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("triton_served")
    repo = base / "model_repository"
    shutil.copytree(generated_repo.repo, repo)  # with the ensemble's empty version folder
    backends, has_onnxruntime = _bundled_backends(base)
    if not has_onnxruntime:
        _use_stand_in(repo)
    proc, client = retry_on_port_clash(
        lambda attempt: _start_tritonserver(repo, backends, base / f"tritonserver-{attempt}.log"))
    try:
        yield SimpleNamespace(client=client, artifact=generated_repo.artifact, repo=repo,
                              generated=generated_repo.generated, stand_in=not has_onnxruntime)
    finally:
        client.close()
        _stop(proc)


def _images() -> list[bytes]:
    from PIL import Image

    rng = np.random.default_rng(11)
    out = []
    for mode, fmt in (("RGB", "JPEG"), ("RGBA", "PNG"), ("L", "PNG")):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)).convert(mode).save(buf, format=fmt)
        out.append(buf.getvalue())
    return out


def test_generated_onnxruntime_config_is_a_valid_triton_model_config(generated_repo) -> None:
    """Not loadable here (no onnxruntime backend): parsed strictly as Triton's ModelConfig instead."""
    import onnx

    gen = generated_repo.generated
    cfg = text_format.Parse(gen[Path("resnet/config.pbtxt")].decode(), mc.ModelConfig())  # unknown field: error
    assert cfg.name == "resnet" and cfg.backend == "onnxruntime" and cfg.max_batch_size == 8
    graph = onnx.load_from_string(gen[Path("resnet/1") / (cfg.default_model_filename or "model.onnx")]).graph

    def per_item(values) -> list[tuple[str, list[int]]]:  # type: ignore[no-untyped-def]
        return [(v.name, [d.dim_value for d in v.type.tensor_type.shape.dim[1:]]) for v in values]

    assert [(t.name, list(t.dims)) for t in cfg.input] == per_item(graph.input) == [("input", [3, SIZE, SIZE])]
    assert [(t.name, list(t.dims)) for t in cfg.output] == per_item(graph.output) == [("logits", [CLASSES])]
    assert all(t.data_type == mc.TYPE_FP32 for t in [*cfg.input, *cfg.output])
    assert gen[Path("resnet") / cfg.output[0].label_filename].decode().split() == LABELS
    assert [(g.count, g.kind) for g in cfg.instance_group] == [(1, mc.ModelInstanceGroup.KIND_CPU)]
    assert 0 < max(cfg.dynamic_batching.preferred_batch_size) <= cfg.max_batch_size


def test_triton_loads_the_generated_preprocess_and_ensemble_models(triton_repo_server) -> None:
    srv = triton_repo_server
    client = srv.client
    for name in ("resnet_preprocess", "resnet_ensemble"):
        written = {k: v for k, v in srv.generated.items() if k.parts[0] == name}
        assert written and all((srv.repo / k).read_bytes() == v for k, v in written.items())  # as generated
        assert client.is_model_ready(name), name
    assert client.get_model_config("resnet_preprocess")["backend"] == "python"
    steps = client.get_model_config("resnet_ensemble")["ensemble_scheduling"]["step"]
    assert [s["model_name"] for s in steps] == ["resnet_preprocess", "resnet"]
    # the network: the stand-in here, the generated onnxruntime config where Triton has that backend
    assert client.is_model_ready("resnet")
    assert client.get_model_config("resnet")["backend"] == ("python" if srv.stand_in else "onnxruntime")
    meta = client.get_model_metadata("resnet_ensemble")
    assert [(i["name"], i["datatype"], i["shape"]) for i in meta["inputs"]] == [("image", "BYTES", [-1, 1])]
    assert [(o["name"], o["shape"]) for o in meta["outputs"]] == [("logits", [-1, CLASSES])]


def test_ensemble_answers_like_the_predictor(triton_repo_server) -> None:
    from resnet_deploy.runtime.predictor import load

    client, artifact = triton_repo_server.client, triton_repo_server.artifact
    images = _images()
    data = np.array([[b] for b in images], dtype=object)
    item = httpclient.InferInput("image", list(data.shape), "BYTES")
    item.set_data_from_numpy(data)
    result = client.infer("resnet_ensemble", [item])
    with load(artifact, backend="onnxruntime:fp32") as predictor:
        from resnet_deploy.preprocess import preprocess_image

        x = np.stack([preprocess_image(b, predictor.preprocessing) for b in images])
        want = predictor.infer(x)
        top = [p.indices for p in predictor.predict(images, top_k=3)]
    np.testing.assert_allclose(result.as_numpy("logits"), want, rtol=1e-4, atol=1e-4)
    # Triton's classification extension uses the generated labels.txt: "score:index:label"
    out = httpclient.InferRequestedOutput("logits", class_count=3)
    classes = client.infer("resnet_ensemble", [item], outputs=[out]).as_numpy("logits")
    parsed = [[c.decode().split(":") for c in row] for row in classes]
    assert [[int(p[1]) for p in row] for row in parsed] == top
    assert [[p[2] for p in row] for row in parsed] == [[LABELS[i] for i in row] for row in top]


def test_a_bad_image_fails_only_its_request(triton_repo_server) -> None:
    client = triton_repo_server.client
    bad = httpclient.InferInput("image", [1, 1], "BYTES")
    bad.set_data_from_numpy(np.array([[b"definitely not a picture"]], dtype=object))
    with pytest.raises(Exception, match="cannot be decoded"):
        client.infer("resnet_ensemble", [bad])
    assert client.is_model_ready("resnet_ensemble")

"""A generated model repository loaded by a real ``tritonserver``: image bytes through the ensemble.

The Triton binary bundled with nvidia-pytriton has only the Python backend, so
the network model is swapped for a Python-backend stand-in that runs the
repository's own ``resnet/1/model.onnx`` with ONNX Runtime. Its config is the
generated one with only the backend changed (same names, dims, batching,
instances). Everything else, the generated ``resnet_preprocess`` (config +
model.py) and ``resnet_ensemble``, is loaded exactly as written, and the
answers are compared with the artifact's Predictor.
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
from resnet_deploy.serve.environment import find_free_port, prepare_triton_environment
from resnet_deploy.serve.triton_repo import RepoConfig, write_triton_repo

httpclient = pytest.importorskip("tritonclient.http")
mc = pytest.importorskip("tritonclient.grpc.model_config_pb2")
distribution = pytest.importorskip("pytriton.utils.distribution")
from google.protobuf import text_format  # noqa: E402

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


@pytest.fixture(scope="module")
def triton_repo_server(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("triton_repo")
    artifact = toy_artifact(base / "artifact")
    repo = base / "model_repository"
    write_triton_repo(artifact, RepoConfig(out=repo, max_batch=8, instances=1))
    # the stand-in network: generated config, Python backend instead of onnxruntime
    cfg = text_format.Parse((repo / "resnet" / "config.pbtxt").read_text(), mc.ModelConfig())
    cfg.backend = "python"
    cfg.ClearField("default_model_filename")
    (repo / "resnet" / "config.pbtxt").write_text(text_format.MessageToString(cfg))
    (repo / "resnet" / "1" / "model.py").write_text(STAND_IN)

    backends = base / "backends"
    shutil.copytree(distribution.get_root_module_path() / "tritonserver" / "backends", backends)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    shutil.copy(distribution.get_stub_path(version), backends / "python" / "triton_python_backend_stub")
    env = dict(os.environ)
    prepare_triton_environment(env)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [env.get("LD_LIBRARY_PATH"),
                                                           str(distribution.get_libs_path())]))
    ports = [find_free_port() for _ in range(3)]
    binary = distribution.get_root_module_path() / "tritonserver" / "bin" / "tritonserver"
    log = open(base / "tritonserver.log", "w")  # noqa: SIM115 - closed after the server exits
    proc = subprocess.Popen(
        [str(binary), f"--model-repository={repo}", f"--backend-directory={backends}",
         f"--http-port={ports[0]}", f"--grpc-port={ports[1]}", f"--metrics-port={ports[2]}",
         "--http-address=127.0.0.1", "--grpc-address=127.0.0.1", "--exit-timeout-secs=5"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    client = httpclient.InferenceServerClient(f"127.0.0.1:{ports[0]}")
    try:
        deadline = time.time() + 90
        ready = False
        while time.time() < deadline and proc.poll() is None and not ready:
            with contextlib.suppress(Exception):  # not listening yet
                ready = client.is_server_ready()
            if not ready:
                time.sleep(0.5)
        assert ready, (base / "tritonserver.log").read_text()[-3000:]
        yield client, artifact
    finally:
        client.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def _images() -> list[bytes]:
    from PIL import Image

    rng = np.random.default_rng(11)
    out = []
    for mode, fmt in (("RGB", "JPEG"), ("RGBA", "PNG"), ("L", "PNG")):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)).convert(mode).save(buf, format=fmt)
        out.append(buf.getvalue())
    return out


def test_triton_loads_every_generated_model(triton_repo_server) -> None:
    client, _ = triton_repo_server
    for name in ("resnet", "resnet_preprocess", "resnet_ensemble"):
        assert client.is_model_ready(name), name
    meta = client.get_model_metadata("resnet_ensemble")
    assert [(i["name"], i["datatype"], i["shape"]) for i in meta["inputs"]] == [("image", "BYTES", [-1, 1])]
    assert [(o["name"], o["shape"]) for o in meta["outputs"]] == [("logits", [-1, CLASSES])]


def test_ensemble_answers_like_the_predictor(triton_repo_server) -> None:
    from resnet_deploy.runtime.predictor import load

    client, artifact = triton_repo_server
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
    client, _ = triton_repo_server
    bad = httpclient.InferInput("image", [1, 1], "BYTES")
    bad.set_data_from_numpy(np.array([[b"definitely not a picture"]], dtype=object))
    with pytest.raises(Exception, match="cannot be decoded"):
        client.infer("resnet_ensemble", [bad])
    assert client.is_model_ready("resnet_ensemble")

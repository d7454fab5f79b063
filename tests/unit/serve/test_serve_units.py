"""Small pieces of serving: pbtxt writer, environment/ports, outputs, config validation."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import numpy as np
import pytest

from resnet_deploy.errors import InvalidInputError, ResNetDeployError
from resnet_deploy.metrics import softmax
from resnet_deploy.serve import environment, pbtxt
from resnet_deploy.serve.handlers import OUTPUTS, ModelSpec, batched, decode_images, postprocess
from resnet_deploy.serve.pytriton_server import ServeConfig

mc = pytest.importorskip("tritonclient.grpc.model_config_pb2")
text_format = pytest.importorskip("google.protobuf.text_format")


# -- pbtxt ------------------------------------------------------------------------------
def test_pbtxt_round_trips_through_tritons_schema() -> None:
    config = {
        "name": 'we"ird\\name',
        "backend": "python",
        "max_batch_size": 3,
        "input": [{"name": "a", "data_type": pbtxt.Enum("TYPE_STRING"), "dims": [1]}],
        "output": [{"name": "b", "data_type": pbtxt.Enum("TYPE_FP16"), "dims": [-1, 7]}],
        "instance_group": [{"count": 1, "kind": pbtxt.Enum("KIND_CPU")}, {"count": 2, "kind": pbtxt.Enum("KIND_GPU")}],
        "parameters": pbtxt.string_parameters({"k\n1": "v\t1", "n": 5}),
        "dynamic_batching": None,  # None fields are left out
    }
    parsed = text_format.Parse(pbtxt.dumps(config), mc.ModelConfig())
    assert parsed.name == 'we"ird\\name' and parsed.max_batch_size == 3
    assert list(parsed.output[0].dims) == [-1, 7]
    assert [g.count for g in parsed.instance_group] == [1, 2]
    assert parsed.parameters["k\n1"].string_value == "v\t1" and parsed.parameters["n"].string_value == "5"
    assert not parsed.HasField("dynamic_batching")


def test_pbtxt_rejects_what_it_cannot_write() -> None:
    with pytest.raises(ValueError):
        pbtxt.Enum("TYPE FP32")
    with pytest.raises(TypeError):
        pbtxt.dumps({"x": object()})


def test_schema_catches_invalid_configs() -> None:
    """Guard for the tests above: the parser really rejects unknown fields."""
    with pytest.raises(text_format.ParseError):
        text_format.Parse(pbtxt.dumps({"name": "x", "no_such_field": 1}), mc.ModelConfig())


# -- environment ------------------------------------------------------------------------
def test_ld_library_path_gets_the_interpreters_lib_dir_first() -> None:
    libdir = environment.python_libdir()
    env = {"LD_LIBRARY_PATH": "/opt/a:/opt/b"}
    paths = environment.prepare_triton_environment(env)
    if libdir is None:  # a static interpreter: nothing to fix, nothing changed
        assert env["LD_LIBRARY_PATH"] == "/opt/a:/opt/b"
        return
    assert paths[0] == str(libdir) and env["LD_LIBRARY_PATH"].split(os.pathsep)[1:] == ["/opt/a", "/opt/b"]
    ver = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert list(libdir.glob(f"libpython{ver}*.so*"))
    environment.prepare_triton_environment(env)  # idempotent: no duplicates
    assert env["LD_LIBRARY_PATH"].split(os.pathsep).count(str(libdir)) == 1


def test_ports_zero_are_replaced_by_distinct_free_ports() -> None:
    ports = environment.resolve_ports("127.0.0.1", {"http": 0, "grpc": 0, "metrics": 0})
    assert len(set(ports.values())) == 3 and all(p > 0 for p in ports.values())
    assert all(environment.port_is_free("127.0.0.1", p) for p in ports.values())


def test_busy_and_duplicate_ports_are_one_line_errors() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        with pytest.raises(ResNetDeployError, match=f"port {busy} .* already in use \\(grpc\\).*--grpc-port"):
            environment.resolve_ports("127.0.0.1", {"http": 0, "grpc": busy})
    _duplicate_port_is_refused()
    with pytest.raises(ResNetDeployError, match="--host"):  # the name fails before any bind
        environment.resolve_ports("no-such-host.invalid", {"http": environment.find_free_port()})


def _duplicate_port_is_refused(attempts: int = 5) -> None:
    """Same port for two roles -> "another endpoint"; a port taken by someone else meanwhile -> retry."""
    for _ in range(attempts):
        port = environment.find_free_port()
        with pytest.raises(ResNetDeployError) as info:
            environment.resolve_ports("127.0.0.1", {"http": port, "grpc": port})
        if "already in use" not in str(info.value):  # not lost to another process between the two calls
            assert "--grpc-port" in str(info.value) and "another endpoint" in str(info.value), info.value
            return
    pytest.fail(f"every free port was taken before it could be checked ({attempts} tries)")


def test_client_host_for_wildcard_binds() -> None:
    assert environment.client_host("0.0.0.0") == "127.0.0.1"
    assert environment.client_host("127.0.0.1") == "127.0.0.1"


# -- outputs ----------------------------------------------------------------------------
def test_postprocess_matches_a_direct_computation() -> None:
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((4, 6)).astype(np.float32) * 5
    spec = ModelSpec("input", 3, 8, 6, top_k=3, labels=("a", "b", "c", "d", "e", "f"))
    out = postprocess(logits, spec)
    probs = np.exp(logits.astype(np.float64))
    probs /= probs.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(out["probabilities"], probs, rtol=1e-5)
    np.testing.assert_array_equal(out["topk_indices"], np.argsort(-probs, axis=1)[:, :3])
    np.testing.assert_allclose(out["topk_scores"], np.sort(probs, axis=1)[:, ::-1][:, :3], rtol=1e-5)
    assert out["topk_labels"][0].tolist() == [spec.labels[i].encode() for i in out["topk_indices"][0]]
    assert out["topk_indices"].dtype == np.int64 and out["topk_labels"].dtype == object
    assert np.isfinite(softmax(np.array([[1e4, 0.0]], dtype=np.float32))).all()


def test_postprocess_computes_only_the_outputs_wanted() -> None:
    logits = np.random.default_rng(1).standard_normal((3, 6)).astype(np.float32)
    spec = ModelSpec("input", 3, 8, 6, top_k=2, labels=())
    full = postprocess(logits, spec)
    assert list(full) == list(OUTPUTS)
    part = postprocess(logits, spec, {"topk_scores", "logits"})
    assert list(part) == ["logits", "topk_scores"]
    np.testing.assert_array_equal(part["topk_scores"], full["topk_scores"])


class _Request(dict):
    """What PyTriton hands a callable: a mapping of inputs plus the outputs the client named."""

    def __init__(self, data: dict[str, np.ndarray], requested: list[str] | None) -> None:
        super().__init__(data)
        self.requested_output_names = requested


def test_batched_joins_requests_and_gives_each_only_what_it_asked_for() -> None:
    seen: list[tuple[tuple[int, ...], set[str]]] = []

    def fn(x: np.ndarray, wanted: set[str]) -> dict[str, np.ndarray]:
        seen.append((x.shape, set(wanted)))
        return {"logits": x * 2, "topk_indices": x.astype(np.int64), "probabilities": x + 1}

    rows = [np.full((n, 2), float(i)) for i, n in enumerate((1, 3, 2))]
    asks = [["topk_indices"], ["logits", "topk_indices"], None]
    out = batched("input", fn)([_Request({"input": r}, a) for r, a in zip(rows, asks, strict=True)])
    assert seen == [((6, 2), set(OUTPUTS))]  # one call; the request naming nothing wants all
    assert [sorted(o) for o in out] == [["topk_indices"], ["logits", "topk_indices"],
                                        ["logits", "probabilities", "topk_indices"]]
    for o, r in zip(out, rows, strict=True):
        np.testing.assert_array_equal(o["topk_indices"], r.astype(np.int64))
    np.testing.assert_array_equal(out[1]["logits"], rows[1] * 2)
    np.testing.assert_array_equal(out[2]["probabilities"], rows[2] + 1)


def test_postprocess_without_labels_uses_indices() -> None:
    out = postprocess(np.array([[0.0, 2.0]], dtype=np.float32), ModelSpec("input", 3, 8, 2, 2, ()))
    assert out["topk_labels"].tolist() == [[b"1", b"0"]]


def test_decode_images_rejects_garbage_and_empty(sample_images) -> None:
    from resnet_deploy.artifact import Preprocessing

    pre = Preprocessing.for_input_size(32)
    x = decode_images(np.array([[sample_images["rgb_jpeg"]], [sample_images["gray_png"]]], dtype=object), pre)
    assert x.shape == (2, 3, 32, 32) and x.dtype == np.float32
    with pytest.raises(InvalidInputError, match="cannot be decoded"):
        decode_images(np.array([[b"garbage"]], dtype=object), pre)
    with pytest.raises(InvalidInputError):
        decode_images(np.empty((0, 1), dtype=object), pre)


# -- config -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"max_batch": 0}, "--max-batch"),
        ({"max_batch": 5000}, "--max-batch"),
        ({"instances": 0}, "--instances"),
        ({"http_port": 70000}, "--http-port"),
        ({"max_queue_delay_us": -1}, "--max-queue-delay-us"),
        ({"model_name": "a b"}, "model name"),
        ({"top_k": 0}, "--top-k"),
    ],
)
def test_serve_config_validation(kw: dict, match: str) -> None:
    with pytest.raises(ResNetDeployError, match=match):
        ServeConfig(**kw)


def test_launch_checks_the_artifact_before_anything_else(tmp_path: Path) -> None:
    from resnet_deploy.errors import ArtifactError
    from resnet_deploy.serve import launch

    with pytest.raises(ArtifactError, match="does not exist"):
        launch(tmp_path / "missing", ServeConfig(http_port=0, grpc_port=0, metrics_port=0))


def test_several_instances_use_the_base64_transport_only_while_starting(monkeypatch) -> None:
    from resnet_deploy.serve.environment import triton_environment

    monkeypatch.delenv("PYTRITON_NO_TENSORSTORE", raising=False)
    with triton_environment(1):
        assert "PYTRITON_NO_TENSORSTORE" not in os.environ
    with triton_environment(2):
        assert os.environ["PYTRITON_NO_TENSORSTORE"] == "1"
    assert "PYTRITON_NO_TENSORSTORE" not in os.environ
    monkeypatch.setenv("PYTRITON_NO_TENSORSTORE", "yes")
    with triton_environment(3):
        pass
    assert os.environ["PYTRITON_NO_TENSORSTORE"] == "yes"


@pytest.mark.parametrize("instances", [1, 2, 4])
def test_triton_creates_model_instances_one_after_another_while_starting(monkeypatch, instances: int) -> None:
    """Instance 0 must serve PyTriton's handshake before the next starts (see triton_server_env)."""
    from resnet_deploy.serve.environment import triton_environment

    monkeypatch.setenv("TRITON_PARALLEL_INSTANCE_LOADING", "1")
    with triton_environment(instances):
        assert os.environ["TRITON_PARALLEL_INSTANCE_LOADING"] == "0"
    assert os.environ["TRITON_PARALLEL_INSTANCE_LOADING"] == "1"
    monkeypatch.delenv("TRITON_PARALLEL_INSTANCE_LOADING")
    with triton_environment(instances):
        pass
    assert "TRITON_PARALLEL_INSTANCE_LOADING" not in os.environ

"""Serving with raw-pixel twins: triton-repo ships them (preprocess emits uint8 NHWC crops),
and the PyTriton image path decodes to crops only.

The toy raw twin is a real uint8 NHWC ONNX graph (Cast -> Transpose -> the toy head);
the repository writer reads its I/O and copies it, ONNX Runtime runs it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from serve_toy import CLASSES, SIZE, build_toy_artifact

from resnet_deploy.artifact import make_entry, read_manifest, save_manifest
from resnet_deploy.preprocess import crop_image
from resnet_deploy.raw_input import raw_input_spec
from resnet_deploy.serve.handlers import decode_images
from resnet_deploy.serve.triton_repo import RepoConfig, write_triton_repo

mc = pytest.importorskip("tritonclient.grpc.model_config_pb2")
json_format = pytest.importorskip("google.protobuf.json_format")
text_format = pytest.importorskip("google.protobuf.text_format")


def _raw_toy(path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.random.default_rng(1).standard_normal((3, CLASSES)).astype(np.float32), "w")
    nodes = [
        helper.make_node("Cast", ["input"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("Transpose", ["f"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("GlobalAveragePool", ["nchw"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "w"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes, "toy-raw", [helper.make_tensor_value_info("input", TensorProto.UINT8, ["batch", SIZE, SIZE, 3])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", CLASSES])], initializer=[w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


@pytest.fixture()
def raw_toy(tmp_path: Path) -> Path:
    art = build_toy_artifact(tmp_path / "art")
    m = read_manifest(art)
    for name, precision, target in (("model.fp32-raw.onnx", "fp32", None), ("model.int8-cpu-raw.onnx", "int8", "cpu")):
        _raw_toy(art / name)
        entry = make_entry(art, name, "onnx", precision, target)
        entry.input = raw_input_spec(m.input)
        m.replace_file(entry)
    save_manifest(m, art)
    return art


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _configs(out: Path) -> dict[str, object]:
    return {d.name: text_format.Parse((d / "config.pbtxt").read_text(), mc.ModelConfig())
            for d in out.iterdir() if (d / "config.pbtxt").is_file()}


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_triton_repo_ships_the_raw_twin(raw_toy: Path, tmp_path: Path, precision: str) -> None:
    out = tmp_path / "repo"
    result = write_triton_repo(raw_toy, RepoConfig(out=out, precision=precision))
    key = "fp32" if precision == "fp32" else "int8-cpu"
    assert result.source == f"model.{key}-raw.onnx"
    assert _sha(out / "resnet" / "1" / "model.onnx") == _sha(raw_toy / result.source)
    cfgs = _configs(out)
    net, pre = cfgs["resnet"], cfgs["resnet_preprocess"]
    assert list(net.input[0].dims) == [SIZE, SIZE, 3] and net.input[0].data_type == mc.TYPE_UINT8
    assert list(pre.output[0].dims) == [SIZE, SIZE, 3] and pre.output[0].data_type == mc.TYPE_UINT8
    assert pre.parameters["layout"].string_value == "NHWC"
    flt = write_triton_repo(raw_toy, RepoConfig(out=tmp_path / "flt", precision=precision, raw=False))
    assert flt.source == f"model.{key}.onnx"  # --float-input keeps the old repository
    assert list(_configs(tmp_path / "flt")["resnet"].input[0].dims) == [3, SIZE, SIZE]


def test_gpu_repositories_stay_float_input(raw_toy: Path, tmp_path: Path) -> None:
    result = write_triton_repo(raw_toy, RepoConfig(out=tmp_path / "repo", kind="gpu", precision="int8"))
    assert result.source == "model.int8-tensorrt.onnx"


def test_generated_preprocess_emits_the_uint8_crops(raw_toy: Path, tmp_path: Path, sample_images,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from test_serve_preprocess_model import _Request, _stub_module

    out = tmp_path / "repo"
    write_triton_repo(raw_toy, RepoConfig(out=out))
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", _stub_module())
    spec = importlib.util.spec_from_file_location("generated_raw_preprocess", out / "resnet_preprocess/1/model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = _configs(out)["resnet_preprocess"]
    model = module.TritonPythonModel()
    model.initialize({"model_config": json_format.MessageToJson(config, preserving_proto_field_name=True)})
    images = [sample_images["rgb_jpeg"], sample_images["gray_png"]]
    (response,) = model.execute([_Request(image=np.array([[i] for i in images], dtype=object))])
    got = response.output_tensors[0].as_numpy()
    pre = read_manifest(raw_toy).preprocessing
    want = np.stack([crop_image(i, pre) for i in images])
    assert got.dtype == np.uint8 and got.shape == (2, SIZE, SIZE, 3)
    np.testing.assert_array_equal(got, want)


def test_image_path_decodes_to_crops_for_a_raw_predictor(raw_toy: Path, sample_images) -> None:
    from resnet_deploy.runtime import load

    pre = read_manifest(raw_toy).preprocessing
    batch = np.array([[sample_images["rgb_jpeg"]], [sample_images["gray_png"]]], dtype=object)
    crops = decode_images(batch, pre, raw=True)
    assert crops.dtype == np.uint8 and crops.shape == (2, SIZE, SIZE, 3)
    with load(raw_toy, backend="onnxruntime:fp32") as p:
        assert p.raw_backend == "onnxruntime:fp32-raw"
        logits = p.infer_pixels(crops)
    assert logits.shape == (2, CLASSES) and np.isfinite(logits).all()

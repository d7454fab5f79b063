"""The generated Python-backend model.py preprocesses exactly like resnet_deploy.preprocess.

The file is imported from a written repository (the bytes Triton would load)
with a small stand-in for ``triton_python_backend_utils`` that implements the
few calls it makes, and driven through ``initialize``/``execute`` with the
model config JSON Triton would pass (built from the generated config.pbtxt).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from resnet_deploy.artifact import Preprocessing, read_manifest
from resnet_deploy.preprocess import preprocess_image
from resnet_deploy.serve.triton_repo import RepoConfig, write_triton_repo

mc = pytest.importorskip("tritonclient.grpc.model_config_pb2")
json_format = pytest.importorskip("google.protobuf.json_format")
text_format = pytest.importorskip("google.protobuf.text_format")


class _Tensor:
    def __init__(self, name: str, array: np.ndarray) -> None:
        self._name, self._array = name, array

    def name(self) -> str:
        return self._name

    def as_numpy(self) -> np.ndarray:
        return self._array


class _Response:
    def __init__(self, output_tensors: list[_Tensor], error: object = None) -> None:
        self.output_tensors, self.error = output_tensors, error


class _Error:
    def __init__(self, message: str) -> None:
        self._message = message

    def message(self) -> str:
        return self._message


class _Request:
    def __init__(self, **inputs: np.ndarray) -> None:
        self.inputs = inputs


def _stub_module() -> types.ModuleType:
    mod = types.ModuleType("triton_python_backend_utils")
    mod.Tensor = _Tensor
    mod.InferenceResponse = _Response
    mod.TritonError = _Error
    mod.get_input_tensor_by_name = lambda request, name: _Tensor(name, request.inputs[name])
    return mod


@pytest.fixture()
def model_and_pre(toy_artifact: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """(initialised TritonPythonModel from the written repo, the manifest's Preprocessing)."""
    out = tmp_path / "repo"
    write_triton_repo(toy_artifact, RepoConfig(out=out))
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", _stub_module())
    path = out / "resnet_preprocess" / "1" / "model.py"
    spec = importlib.util.spec_from_file_location("generated_preprocess_model", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = text_format.Parse((out / "resnet_preprocess" / "config.pbtxt").read_text(), mc.ModelConfig())
    model = module.TritonPythonModel()
    model.initialize({"model_config": json_format.MessageToJson(config, preserving_proto_field_name=True)})
    return model, read_manifest(toy_artifact).preprocessing


def test_generated_code_matches_the_library_on_every_image_mode(model_and_pre, sample_images) -> None:
    model, pre = model_and_pre
    names = list(sample_images)
    batch = np.array([[sample_images[n]] for n in names], dtype=object)  # [N, 1] BYTES
    (response,) = model.execute([_Request(image=batch)])
    assert response.error is None
    (tensor,) = response.output_tensors
    assert tensor.name() == "input"
    got = tensor.as_numpy()
    assert got.dtype == np.float32 and got.shape == (len(names), 3, pre.crop, pre.crop)
    for i, name in enumerate(names):
        want = preprocess_image(sample_images[name], pre)
        np.testing.assert_allclose(got[i], want, rtol=0, atol=1e-6, err_msg=name)


def test_a_bad_image_fails_only_its_own_request(model_and_pre, sample_images) -> None:
    model, pre = model_and_pre
    good = np.array([[sample_images["rgb_jpeg"]]], dtype=object)
    responses = model.execute([
        _Request(image=np.array([[b"not an image"]], dtype=object)),
        _Request(image=good),
        _Request(image=np.array([[b""]], dtype=object)),
    ])
    assert "cannot be decoded" in responses[0].error.message()
    assert responses[1].error is None
    np.testing.assert_allclose(
        responses[1].output_tensors[0].as_numpy()[0], preprocess_image(sample_images["rgb_jpeg"], pre), atol=1e-6
    )
    assert "empty" in responses[2].error.message()


def test_bgr_bicubic_and_custom_stats_follow_the_parameters(sample_images, monkeypatch) -> None:
    """The parameters, not hard-coded ImageNet defaults, drive the generated code."""
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", _stub_module())
    path = Path(__file__).resolve().parents[3] / "resnet_deploy" / "serve" / "triton_preprocess_model.py"
    spec = importlib.util.spec_from_file_location("preprocess_model_src", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    pre = Preprocessing(resize=50, crop=40, mean=[0.5, 0.4, 0.3], std=[0.2, 0.3, 0.4],
                        channel_order="BGR", interpolation="bicubic", scale=1 / 255)
    params = {"resize": "50", "crop": "40", "mean": "0.5,0.4,0.3", "std": "0.2,0.3,0.4",
              "channel_order": "BGR", "interpolation": "bicubic", "scale": repr(1 / 255)}
    proc = module.Preprocessor(params)
    for name, data in sample_images.items():
        np.testing.assert_allclose(proc(data), preprocess_image(data, pre), atol=1e-6, err_msg=name)
    config = {"parameters": {k: {"string_value": v} for k, v in params.items()}}
    model = module.TritonPythonModel()
    model.initialize({"model_config": json.dumps(config)})
    assert model.preprocess.channel_order == "BGR"

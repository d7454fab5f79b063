"""Every CPU runner agrees with the FP32 ONNX model (ORT) on the same batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from resnet_deploy.artifact import FileEntry, load_manifest, make_entry
from resnet_deploy.errors import BackendUnavailableError
from resnet_deploy.runtime.openvino import OpenVINORunner
from resnet_deploy.runtime.resolve import make_runner, resolve
from resnet_deploy.runtime.torch_compile import TorchCompileRunner, find_cxx

FP32_SPECS = ["openvino:fp32", "torchscript", "torch", "torch-channels-last"]


@pytest.fixture(scope="module")
def manifest(artifact_dir: Path):
    return load_manifest(artifact_dir)


@pytest.fixture(scope="module")
def reference(artifact_dir: Path, manifest, test_batch: np.ndarray) -> np.ndarray:
    with make_runner(artifact_dir, manifest, resolve(manifest, "onnxruntime:fp32")) as r:
        return r.infer(test_batch)


def _run(artifact_dir: Path, manifest, spec: str, x: np.ndarray, **kw) -> np.ndarray:
    with make_runner(artifact_dir, manifest, resolve(manifest, spec), **kw) as r:
        y = r.infer(x)
        y1 = r.infer(x[:1])  # a second batch size on the same runner (dynamic batch)
    assert y.dtype == np.float32 and y.shape == (len(x), 10)
    # INT8 outputs may move by a quantisation step when the batch (and so ORT's kernels) changes
    atol = 0.02 * float(np.abs(y).max()) if ":int8" in spec else 1e-4
    np.testing.assert_allclose(y1[0], y[0], rtol=1e-4, atol=atol)
    return y


def test_reference_has_clear_top1(reference: np.ndarray) -> None:
    """Guard: agreement tests below are meaningless if the logits are near-ties."""
    top2 = np.sort(reference, axis=1)[:, -2:]
    assert (top2[:, 1] - top2[:, 0]).min() > 1e-3
    assert len(set(reference.argmax(1).tolist())) >= 5


@pytest.mark.parametrize("spec", FP32_SPECS)
def test_fp32_runner_matches_onnx(artifact_dir, manifest, test_batch, reference, spec: str) -> None:
    y = _run(artifact_dir, manifest, spec, test_batch, threads=1)
    np.testing.assert_array_equal(y.argmax(1), reference.argmax(1))
    np.testing.assert_allclose(y, reference, rtol=1e-3, atol=1e-4)


def test_openvino_fp16_matches_onnx(artifact_dir, manifest, test_batch, reference) -> None:
    ov = _run(artifact_dir, manifest, "openvino:fp16", test_batch)
    np.testing.assert_array_equal(ov.argmax(1), reference.argmax(1))
    assert np.abs(ov - reference).max() < 0.01 * np.abs(reference).max()


# INT8 on a random-weight network drifts much more than on a trained one, so the
# bars are loose; a broken runner (wrong layout/preprocessing) agrees ~10% of the time.
def test_openvino_int8_matches_onnxruntime_int8(artifact_dir, manifest, test_batch, reference) -> None:
    ov = _run(artifact_dir, manifest, "openvino:int8-cpu", test_batch)
    ort = _run(artifact_dir, manifest, "onnxruntime:int8-cpu", test_batch)
    assert (ov.argmax(1) == ort.argmax(1)).mean() >= 0.75
    assert (ov.argmax(1) == reference.argmax(1)).mean() >= 0.6
    assert np.abs(ov - ort).max() < 0.1 * np.abs(ort).max()


@pytest.mark.parametrize(("key", "bar"), [("fp16", 1.0), ("int8-cpu", 0.6), ("int8-tensorrt", 0.6)])
def test_onnxruntime_runs_every_onnx_file(artifact_dir, manifest, test_batch, reference, key, bar) -> None:
    y = _run(artifact_dir, manifest, f"onnxruntime:{key}", test_batch)
    assert (y.argmax(1) == reference.argmax(1)).mean() >= bar


def test_openvino_requests_f32_latency_and_threads(artifact_dir, manifest) -> None:
    r = make_runner(artifact_dir, manifest, resolve(manifest, "openvino:fp32"), threads=1)
    assert r.config() == {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": 1}
    with r:
        assert str(r.compiled.get_property("INFERENCE_PRECISION_HINT")) in ("<Type: 'float32'>", "f32")
        assert int(r.compiled.get_property("INFERENCE_NUM_THREADS")) == 1


def test_openvino_unreadable_model_is_one_line_error(tmp_path: Path, manifest) -> None:
    (tmp_path / "model.fp32.onnx").write_bytes(b"this is not an onnx model")
    entry: FileEntry = make_entry(tmp_path, "model.fp32.onnx", "onnx")
    with pytest.raises(BackendUnavailableError, match="OpenVINO cannot compile model.fp32.onnx") as info:
        OpenVINORunner(tmp_path, manifest, entry).activate()
    assert "\n" not in str(info.value)


def test_torch_compile_probe_reports_missing_compiler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("CXX", raising=False)
    assert find_cxx() is None
    assert "C++ compiler" in (TorchCompileRunner.probe() or "")


@pytest.mark.slow
def test_torch_compile_matches_onnx(artifact_dir, manifest, test_batch, reference) -> None:
    if TorchCompileRunner.probe():
        pytest.skip(TorchCompileRunner.probe())
    cand = resolve(manifest, "torch-compile")
    with make_runner(artifact_dir, manifest, cand, batch=len(test_batch)) as r:
        y = r.infer(test_batch)
    np.testing.assert_array_equal(y.argmax(1), reference.argmax(1))
    np.testing.assert_allclose(y, reference, rtol=1e-3, atol=1e-4)


def test_openvino_forms_follow_the_option_then_the_environment(artifact_dir, manifest, monkeypatch) -> None:
    cand = resolve(manifest, "openvino:fp32")
    monkeypatch.setenv("RESNET_DEPLOY_OV_FORMS", "0")
    with make_runner(artifact_dir, manifest, cand, threads=2) as r:
        assert r.forms.specialize is False and len(r.forms.compiled_keys()) == 1  # one dynamic model
    with make_runner(artifact_dir, manifest, cand, threads=2, specialize=True) as r:
        assert r.forms.specialize is True and len(r.forms.compiled_keys()) == 2  # + static batch 1
    monkeypatch.delenv("RESNET_DEPLOY_OV_FORMS")
    with make_runner(artifact_dir, manifest, cand, threads=2) as r:
        assert r.forms.specialize is True


@pytest.mark.parametrize(("value", "on"), [(None, True), ("1", True), ("yes", True), ("0", False), (" Off ", False),
                                           ("false", False), ("no", False)])
def test_env_switch(monkeypatch, value, on) -> None:
    from resnet_deploy.runtime.base import env_switch

    if value is None:
        monkeypatch.delenv("RD_TEST_SWITCH", raising=False)
    else:
        monkeypatch.setenv("RD_TEST_SWITCH", value)
    assert env_switch("RD_TEST_SWITCH") is on


def test_make_input_feeds_raw_pixel_files_uint8() -> None:
    from resnet_deploy.runtime.timing import make_input

    x = make_input((64, 64, 3), 2, dtype="uint8")
    assert x.dtype == np.uint8 and x.shape == (2, 64, 64, 3) and x.flags.c_contiguous and x.max() > 200
    f = make_input((3, 8, 8), 2)
    assert f.dtype == np.float32 and abs(float(f.mean())) < 0.5

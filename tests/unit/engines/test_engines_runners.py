"""GPU runners refuse what cannot work here, before touching a GPU: engines and ORT GPU providers."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from resnet_deploy.artifact import ArtifactError, load_manifest, read_manifest
from resnet_deploy.errors import (
    BackendUnavailableError,
    EngineCompatibilityError,
    ResNetDeployError,
)
from resnet_deploy.runtime.ort import OrtCpuRunner
from resnet_deploy.runtime.ort_gpu import (
    OrtCudaRunner,
    OrtTensorRTRunner,
    check_active_provider,
    gpu_provider_reason,
)
from resnet_deploy.runtime.tensorrt import TensorRTRunner, installed_family
from resnet_deploy.runtime.torch_tensorrt import TorchTensorRTRunner

HAS_RTX = importlib.util.find_spec("tensorrt_rtx") is not None


def engine_runner(root, **options) -> TensorRTRunner:
    m = read_manifest(root)
    return TensorRTRunner(root, m, m.files[0], **options)


# -- TensorRT engines -------------------------------------------------------
def test_corrupt_engine_is_refused_by_sha256(make_engine_artifact):
    root = make_engine_artifact()
    load_manifest(root)  # intact: fine
    plan = root / "engines/model.fp32.tensorrt-rtx.plan"
    data = bytearray(plan.read_bytes())
    data[100] ^= 0xFF
    plan.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="fails its sha256 check") as info:
        load_manifest(root)
    assert "\n" not in str(info.value)
    plan.write_bytes(bytes(data[:1000]))
    with pytest.raises(ArtifactError, match="truncated or replaced"):
        load_manifest(root)


@pytest.mark.skipif(not HAS_RTX, reason="needs the tensorrt_rtx module to compare versions")
def test_version_mismatch_refused_before_deserialising(make_engine_artifact):
    root = make_engine_artifact(version="1.5.0")
    runner = engine_runner(root)
    reason = TensorRTRunner.entry_reason(runner.manifest, runner.entry)
    assert reason is not None and "built with TensorRT-RTX 1.5.0" in reason and "major.minor must match" in reason
    with pytest.raises(EngineCompatibilityError) as info:
        runner.activate()  # random bytes would crash deserialisation: the check must come first
    assert str(info.value) == reason and not runner.is_active


@pytest.mark.skipif(not HAS_RTX, reason="needs the tensorrt_rtx module installed")
def test_family_mismatch_refused(make_engine_artifact):
    root = make_engine_artifact(family="tensorrt", version="10.3.0", compute_capability="9.0")
    runner = engine_runner(root)
    family, _mod, version = installed_family(runner.manifest.engines[0])
    assert family in ("tensorrt", "tensorrt-rtx")
    if family == "tensorrt-rtx":  # no full TensorRT here: the RTX module is what is installed
        with pytest.raises(EngineCompatibilityError, match=r"built with TensorRT 10.3.0 but this host has TensorRT-RTX"):
            runner.activate()


def test_missing_record_and_no_gpu_are_one_liners(make_engine_artifact):
    runner = engine_runner(make_engine_artifact(record=False))
    with pytest.raises(EngineCompatibilityError, match="has no build record") as info:
        runner.activate()
    assert "\n" not in str(info.value)
    if HAS_RTX:
        import tensorrt_rtx

        from resnet_deploy.runtime.gpu import gpu_info

        runner = engine_runner(make_engine_artifact(version=tensorrt_rtx.__version__))
        reason = TensorRTRunner.entry_reason(runner.manifest, runner.entry)
        if gpu_info() is None:
            assert reason is not None and "needs an NVIDIA GPU" in reason


def test_engine_runner_basics(make_engine_artifact, onnx_artifact):
    runner = engine_runner(make_engine_artifact())
    assert runner.max_batch == 16 and runner.name == "tensorrt:fp32" and runner.device == "cuda"
    onnx_entry = read_manifest(onnx_artifact).files[0]
    assert TensorRTRunner.accepts(runner.entry) and not TensorRTRunner.accepts(onnx_entry)
    assert TensorRTRunner.probe() is not None  # no GPU / no cuda-python on CI


def test_probe_names_the_missing_gpu_before_missing_packages(monkeypatch):
    import resnet_deploy.runtime.tensorrt as trt_module

    monkeypatch.setattr(trt_module, "gpu_info", lambda: None)
    reason = TensorRTRunner.probe()
    assert reason is not None and reason.startswith("no NVIDIA GPU") and "\n" not in reason


# -- ONNX Runtime GPU providers ---------------------------------------------
def test_brief_no_gpu_message():
    avail = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert gpu_provider_reason("CUDAExecutionProvider", avail, has_gpu=False) == (
        "onnxruntime lists CUDAExecutionProvider but there is no GPU (it would silently run on CPU)"
    )
    assert gpu_provider_reason("CUDAExecutionProvider", avail, has_gpu=True) is None
    assert "CPU build" in gpu_provider_reason("CUDAExecutionProvider", ["CPUExecutionProvider"], has_gpu=True)


def test_active_provider_check():
    check_active_provider(["CUDAExecutionProvider", "CPUExecutionProvider"], "CUDAExecutionProvider", "m.onnx")
    with pytest.raises(BackendUnavailableError, match="silently run on CPU"):
        check_active_provider(["CPUExecutionProvider"], "CUDAExecutionProvider", "m.onnx")
    with pytest.raises(BackendUnavailableError):
        check_active_provider([], "TensorrtExecutionProvider", "m.onnx")


def test_cuda_runner_on_cpu_onnxruntime_detects_the_silent_fallback(onnx_artifact):
    """A real session: CPU onnxruntime accepts the CUDA provider request and runs on CPU; we refuse."""
    m = read_manifest(onnx_artifact)
    runner = OrtCudaRunner(onnx_artifact, m, m.files[0])
    assert runner.providers[0] == ("CUDAExecutionProvider", {"device_id": 0})
    with pytest.raises(BackendUnavailableError) as info:
        runner.activate()
    msg = str(info.value)
    assert "did not enable CUDAExecutionProvider" in msg and "active: CPUExecutionProvider" in msg
    assert "\n" not in msg and not runner.is_active and runner.session is None
    # the same file runs fine on the CPU runner, so the refusal is about the provider only
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    with OrtCpuRunner(onnx_artifact, m, m.files[0]) as cpu:
        assert cpu.infer(x).shape == (2, 4)


def test_tensorrt_ep_options_and_refusal(onnx_artifact):
    m = read_manifest(onnx_artifact)
    runner = OrtTensorRTRunner(onnx_artifact, m, m.files[0], batch=(2, 4, 8))
    name, opts = runner.providers[0]
    assert name == "TensorrtExecutionProvider"
    cache = onnx_artifact / "ort_trt_cache"
    assert opts["trt_engine_cache_enable"] and opts["trt_engine_cache_path"] == str(cache)
    assert opts["trt_timing_cache_enable"] and opts["trt_timing_cache_path"] == str(cache)
    assert opts["trt_fp16_enable"] is False and opts["trt_int8_enable"] is False
    assert opts["trt_profile_min_shapes"] == "input:2x3x8x8" and opts["trt_profile_max_shapes"] == "input:8x3x8x8"
    assert [p if isinstance(p, str) else p[0] for p in runner.providers] == [
        "TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    with pytest.raises(BackendUnavailableError, match="did not enable TensorrtExecutionProvider"):
        runner.activate()
    assert cache.is_dir()  # the cache lives inside the artifact
    u8s8 = next(f for f in m.files if f.key == "int8-cpu")
    assert OrtCudaRunner.accepts(u8s8) and not OrtTensorRTRunner.accepts(u8s8)
    assert OrtTensorRTRunner.probe() is not None and OrtCudaRunner.probe() is not None


def test_torch_tensorrt_runner_options(onnx_artifact):
    m = read_manifest(onnx_artifact)
    r = TorchTensorRTRunner(onnx_artifact, m, m.files[0], precision="fp16", batch=(1, 2, 4))
    assert r.name == "torch-tensorrt:fp16" and r.max_batch == 4 and r.profile == (1, 2, 4)
    with pytest.raises(ResNetDeployError, match="fp32 or fp16"):
        _ = TorchTensorRTRunner(onnx_artifact, m, m.files[0], precision="int8").precision
    with pytest.raises(ResNetDeployError, match="MIN <= OPT <= MAX"):
        _ = TorchTensorRTRunner(onnx_artifact, m, m.files[0], batch=(4, 2, 1)).profile
    assert TorchTensorRTRunner.probe() is not None

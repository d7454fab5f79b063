"""GPU runners refuse what cannot work here, before touching a GPU: engines and ORT GPU providers."""

from __future__ import annotations

import numpy as np
import pytest

import resnet_deploy.runtime.tensorrt as trt_module
from resnet_deploy._optional import is_available
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

HAS_RTX = is_available("tensorrt_rtx")


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
    assert reason is not None and "built with TensorRT-RTX 1.5.0" in reason and "exact version" in reason
    with pytest.raises(EngineCompatibilityError) as info:
        runner.activate()  # random bytes would crash deserialisation: the check must come first
    assert str(info.value) == reason and not runner.is_active


def test_family_mismatch_refused(make_engine_artifact, monkeypatch):
    """A TensorRT engine on a host whose only TensorRT module is TensorRT-RTX: refused before deserialising.

    Full TensorRT is hidden from the runner (whatever this host has), so the test asserts on every host:
    with tensorrt_rtx installed the refusal names both families, without it it names the missing module.
    """
    real = trt_module.try_import
    monkeypatch.setattr(trt_module, "try_import", lambda name: None if name == "tensorrt" else real(name))
    root = make_engine_artifact(family="tensorrt", version="10.3.0", compute_capability="9.0")
    runner = engine_runner(root)
    family, _mod, _version = installed_family(runner.manifest.engines[0])
    assert family == ("tensorrt-rtx" if HAS_RTX else "tensorrt")
    want = (r"built with TensorRT 10.3.0 but this host has TensorRT-RTX .*resnet-deploy\[tensorrt\]" if HAS_RTX
            else r"needs TensorRT 10.3.0 but Python module 'tensorrt' is not installed")
    with pytest.raises(EngineCompatibilityError, match=want) as info:
        runner.activate()  # random bytes in the plan: deserialising would crash, the check comes first
    assert "\n" not in str(info.value) and not runner.is_active
    assert TensorRTRunner.entry_reason(runner.manifest, runner.entry) == str(info.value)


def test_missing_record_and_no_gpu_are_one_liners(make_engine_artifact, monkeypatch):
    runner = engine_runner(make_engine_artifact(record=False))
    with pytest.raises(EngineCompatibilityError, match="has no build record") as info:
        runner.activate()
    assert "\n" not in str(info.value)
    # no GPU (made so on every host): a matching library is not enough, the refusal names the GPU
    monkeypatch.setattr(trt_module, "gpu_info", lambda: None)
    monkeypatch.setattr(trt_module, "installed_family", lambda meta: ("tensorrt-rtx", object(), "1.7.1.116"))
    runner = engine_runner(make_engine_artifact(version="1.7.1.116"))
    reason = TensorRTRunner.entry_reason(runner.manifest, runner.entry)
    assert reason is not None and "needs an NVIDIA GPU and none was found" in reason and "\n" not in reason
    with pytest.raises(EngineCompatibilityError) as info:
        runner.activate()
    assert str(info.value) == reason and not runner.is_active


def test_engine_runner_basics(make_engine_artifact, onnx_artifact, gpu_missing, tensorrt_missing):
    runner = engine_runner(make_engine_artifact())
    assert runner.max_batch == 16 and runner.name == "tensorrt:fp32" and runner.device == "cuda"
    onnx_entry = read_manifest(onnx_artifact).files[0]
    assert TensorRTRunner.accepts(runner.entry) and not TensorRTRunner.accepts(onnx_entry)
    cuda_python = is_available("cuda.bindings.runtime") or is_available("cuda.cudart")
    usable = gpu_missing is None and tensorrt_missing is None and cuda_python
    assert (TensorRTRunner.probe() is None) == usable, TensorRTRunner.probe()


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
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime is a GPU build: there is no silent CPU fallback to detect")
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


def test_tensorrt_ep_options_and_refusal(onnx_artifact, gpu_missing):
    import onnxruntime

    providers = onnxruntime.get_available_providers()
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
    if "TensorrtExecutionProvider" not in providers:
        with pytest.raises(BackendUnavailableError, match="did not enable TensorrtExecutionProvider"):
            runner.activate()
        assert cache.is_dir()  # the cache lives inside the artifact
    u8s8 = next(f for f in m.files if f.key == "int8-cpu")
    assert OrtCudaRunner.accepts(u8s8) and not OrtTensorRTRunner.accepts(u8s8)
    for cls in (OrtTensorRTRunner, OrtCudaRunner):
        unusable = gpu_missing is not None or cls.requested not in providers
        assert (cls.probe() is not None) == unusable, (cls.backend, cls.probe())


def test_torch_tensorrt_runner_options(onnx_artifact, gpu_missing):
    m = read_manifest(onnx_artifact)
    r = TorchTensorRTRunner(onnx_artifact, m, m.files[0], precision="fp16", batch=(1, 2, 4))
    assert r.name == "torch-tensorrt:fp16" and r.max_batch == 4 and r.profile == (1, 2, 4)
    with pytest.raises(ResNetDeployError, match="fp32 or fp16"):
        _ = TorchTensorRTRunner(onnx_artifact, m, m.files[0], precision="int8").precision
    with pytest.raises(ResNetDeployError, match="MIN <= OPT <= MAX"):
        _ = TorchTensorRTRunner(onnx_artifact, m, m.files[0], batch=(4, 2, 1)).profile
    usable = gpu_missing is None and is_available("torch") and is_available("torch_tensorrt")
    assert (TorchTensorRTRunner.probe() is None) == usable, TorchTensorRTRunner.probe()

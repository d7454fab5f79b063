"""The small version adapters around TensorRT, Torch-TensorRT and ONNX Runtime GPU, and atomic cache writes."""

from __future__ import annotations

import types

import pytest

from resnet_deploy.atomic import write_bytes_atomic
from resnet_deploy.engines.builder_parts import create_builder, make_logger
from resnet_deploy.errors import BackendUnavailableError
from resnet_deploy.runtime import ort_gpu
from resnet_deploy.runtime.torch_tensorrt import compile_kwargs

# precision-related parameters of torch_tensorrt.dynamo.compile, read from pytorch/TensorRT's
# py/torch_tensorrt/dynamo/_compiler.py at tags v2.9.0, v2.10.0 and v2.13.0
TT_2_9 = {"enabled_precisions", "use_explicit_typing"}
TT_2_10 = TT_2_9 | {"enable_autocast", "autocast_low_precision_type", "autocast_excluded_nodes"}
TT_2_13 = {"enable_autocast", "autocast_low_precision_type", "autocast_excluded_nodes"}


def test_torch_tensorrt_fp16_arguments_per_release():
    torch = pytest.importorskip("torch")
    # 2.10-2.12 assert that explicit typing sees only fp32 (or fp4) in enabled_precisions
    kw = compile_kwargs(torch, "fp16", TT_2_10)
    assert kw == {"enable_autocast": True, "use_explicit_typing": True,
                  "autocast_low_precision_type": torch.float16, "enabled_precisions": {torch.float32}}
    # 2.13: no enabled_precisions or use_explicit_typing parameter at all (always explicitly typed)
    assert compile_kwargs(torch, "fp16", TT_2_13) == {"enable_autocast": True,
                                                      "autocast_low_precision_type": torch.float16}
    # before autocast: fp16 through TensorRT 10's weak typing
    assert compile_kwargs(torch, "fp16", TT_2_9) == {"enabled_precisions": {torch.float16},
                                                     "use_explicit_typing": False}
    assert compile_kwargs(torch, "fp32", TT_2_10) == {"enabled_precisions": {torch.float32}}
    assert compile_kwargs(torch, "fp32", TT_2_13) == {}


def test_null_builder_is_one_line():
    """pybind11's py::init raises TypeError when createInferBuilder returns nullptr (bad/missing driver)."""
    rtx = pytest.importorskip("tensorrt_rtx")
    logger = make_logger(rtx)
    logger.log(rtx.ILogger.Severity.ERROR, "CUDA initialization failure with error: 35")

    def null_builder(_logger):
        raise TypeError("pybind11::init(): factory function returned nullptr")

    fake = types.SimpleNamespace(Builder=null_builder)
    with pytest.raises(BackendUnavailableError) as info:
        create_builder(fake, logger, "TensorRT 10.16.1")
    msg = str(info.value)
    assert msg.startswith("TensorRT 10.16.1 could not create its builder (CUDA initialization failure")
    assert "nvidia-smi" in msg and "[tensorrt-cu12]" in msg and "\n" not in msg
    assert create_builder(rtx, logger, "TensorRT-RTX") is not None  # the real one builds without a GPU


def test_preload_dlls_only_for_pip_cuda_and_once(monkeypatch):
    calls = []
    fake_ort = types.SimpleNamespace(preload_dlls=lambda: calls.append(1))
    monkeypatch.setattr(ort_gpu, "_preloaded", [])
    monkeypatch.setattr(ort_gpu, "is_available", lambda name: False)  # CUDA from the system, not wheels
    assert ort_gpu.preload_cuda_wheels(fake_ort) is None and calls == []
    monkeypatch.setattr(ort_gpu, "is_available", lambda name: name == "nvidia.cuda_runtime")
    assert "preloaded" in ort_gpu.preload_cuda_wheels(fake_ort)
    ort_gpu.preload_cuda_wheels(fake_ort)
    assert calls == [1]  # once per process
    monkeypatch.setattr(ort_gpu, "_preloaded", [])
    assert ort_gpu.preload_cuda_wheels(types.SimpleNamespace()) is None  # onnxruntime < 1.21: no preload_dlls


def test_write_bytes_is_atomic_and_leaves_no_temp(tmp_path):
    dest = tmp_path / "cache" / "timing.cache"
    assert write_bytes_atomic(dest, b"one") == dest and dest.read_bytes() == b"one"
    write_bytes_atomic(dest, b"two")
    assert dest.read_bytes() == b"two" and sorted(p.name for p in dest.parent.iterdir()) == ["timing.cache"]
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OSError):  # callers turn this into a note ("could not save ... cache")
        write_bytes_atomic(tmp_path / "afile" / "x.cache", b"x")

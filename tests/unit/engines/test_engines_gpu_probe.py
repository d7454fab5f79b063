"""The GPU probe: nvidia-smi parsing, the driver query, caching, and no torch/TensorRT import."""

from __future__ import annotations

import ctypes.util
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

from resnet_deploy.runtime import gpu as gpu_mod
from resnet_deploy.runtime.gpu import (
    GpuInfo,
    gpu_info,
    has_gpu,
    parse_nvidia_smi,
    probe_gpu,
    query_libcuda,
)

SMI_ONE = "NVIDIA H100 80GB HBM3, 9.0, 81559, 550.54.15\n"
SMI_TWO = "NVIDIA A10, 8.6, 23028, 535.104.05\nNVIDIA A10, 8.6, 23028, 535.104.05\n"


def test_parse_nvidia_smi():
    info = parse_nvidia_smi(SMI_ONE)
    assert info == GpuInfo("NVIDIA H100 80GB HBM3", "9.0", 81559, "550.54.15", count=1)
    assert info.cc_tuple == (9, 0)
    two = parse_nvidia_smi(SMI_TWO)
    assert two is not None and two.count == 2 and two.compute_capability == "8.6"


def test_parse_nvidia_smi_rejects_unusable_rows():
    assert parse_nvidia_smi("") is None
    assert parse_nvidia_smi("NVIDIA K80, [N/A], 11441, 470.82\n") is None  # driver too old for compute_cap
    assert parse_nvidia_smi("No devices were found\n") is None


SMI_MIXED = ("0, GPU-aaaa1111-0000, NVIDIA A100-SXM4-80GB, 8.0, 81920, 580.65\n"
             "1, GPU-bbbb2222-0000, NVIDIA GeForce RTX 4090, 8.9, 24564, 580.65\n")


def test_cuda_visible_devices_picks_the_gpu_cuda_uses():
    """nvidia-smi lists every GPU; CUDA sees CUDA_VISIBLE_DEVICES' list, in its order."""
    assert parse_nvidia_smi(SMI_MIXED).name == "NVIDIA A100-SXM4-80GB"
    assert parse_nvidia_smi(SMI_MIXED, None).count == 2
    one = parse_nvidia_smi(SMI_MIXED, "1")
    assert one.name == "NVIDIA GeForce RTX 4090" and one.compute_capability == "8.9" and one.count == 1
    assert parse_nvidia_smi(SMI_MIXED, "1,0").name == "NVIDIA GeForce RTX 4090"
    assert parse_nvidia_smi(SMI_MIXED, "GPU-bbbb").name == "NVIDIA GeForce RTX 4090"  # UUID prefix
    assert parse_nvidia_smi(SMI_MIXED, "bbbb2222").name == "NVIDIA GeForce RTX 4090"
    assert parse_nvidia_smi(SMI_MIXED, "7") is None  # names no device: CUDA sees none
    assert parse_nvidia_smi(SMI_MIXED, "0,7,1").count == 1  # the list ends at the first invalid entry


def test_query_honours_cuda_visible_devices(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert gpu_mod.query_nvidia_smi(_fake_smi(tmp_path, SMI_MIXED)).name == "NVIDIA GeForce RTX 4090"


def _fake_smi(tmp_path: Path, body: str, code: int = 0) -> str:
    exe = tmp_path / "nvidia-smi"
    exe.write_text(f"#!/bin/sh\ncat <<'EOF'\n{body}EOF\nexit {code}\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return str(exe)


def test_query_runs_nvidia_smi_with_the_documented_query(tmp_path):
    exe = tmp_path / "nvidia-smi"
    exe.write_text('#!/bin/sh\necho "$@" > "$(dirname "$0")/args"\necho "NVIDIA L4, 8.9, 23034, 550.90"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    info = gpu_mod.query_nvidia_smi(str(exe))
    assert info is not None and info.name == "NVIDIA L4" and info.memory_mib == 23034
    args = (tmp_path / "args").read_text()
    assert "--query-gpu=index,uuid,name,compute_cap,memory.total,driver_version" in args
    assert "--format=csv,noheader,nounits" in args


def test_failing_nvidia_smi_means_no_gpu(tmp_path):
    assert gpu_mod.query_nvidia_smi(_fake_smi(tmp_path, "NVIDIA-SMI has failed\n", code=9)) is None
    assert gpu_mod.query_nvidia_smi(str(tmp_path / "missing")) is None


def test_driver_query_without_a_driver_is_none():
    assert query_libcuda(str(Path("/nonexistent") / "libcuda.so.1")) is None


def test_cuda_visible_devices_empty_hides_everything(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert probe_gpu(nvidia_smi=_fake_smi(tmp_path, SMI_ONE)) is None
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert probe_gpu(nvidia_smi=_fake_smi(tmp_path, SMI_ONE)) is not None


def test_gpu_info_matches_this_host_and_is_cached():
    gpu_info.cache_clear()
    first = gpu_info()
    if shutil.which("nvidia-smi") is None and ctypes.util.find_library("cuda") is None:
        assert first is None and has_gpu() is False  # this CI machine: no GPU at all
    else:
        assert first == probe_gpu()
    hits = gpu_info.cache_info().hits
    assert gpu_info() is first and gpu_info.cache_info().hits == hits + 1


def test_gpu_modules_import_without_torch_or_tensorrt():
    code = textwrap.dedent("""
        import sys
        for name in ("torch", "tensorrt", "tensorrt_rtx", "torch_tensorrt", "cuda", "onnxruntime"):
            sys.modules[name] = None
        import resnet_deploy.runtime.gpu, resnet_deploy.runtime.trt_compat
        import resnet_deploy.runtime.tensorrt as t, resnet_deploy.runtime.ort_gpu as o
        import resnet_deploy.runtime.torch_tensorrt as tt
        print(t.TensorRTRunner.probe())
        print(tt.TorchTensorRTRunner.probe())
        print(o.OrtCudaRunner.probe())
        assert not [m for m in ("torch", "tensorrt", "tensorrt_rtx") if sys.modules.get(m) is not None]
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert res.returncode == 0, res.stderr
    trt_reason, torch_reason, ort_reason = res.stdout.strip().splitlines()
    assert "no TensorRT module" in trt_reason and "resnet-deploy[tensorrt]" in trt_reason
    assert "torch is not installed" in torch_reason
    assert "onnxruntime" in ort_reason

"""What a benchmark ran on: CPU model, cores, ISA flags that matter for INT8, GPU, versions.

Numbers without the machine are meaningless: INT8 speed on x86 depends on
AVX-512 VNNI / AVX-VNNI / AMX, and OpenVINO's CPU default precision depends on
bf16 support. Everything here is cheap (reads /proc, importlib.metadata,
nvidia-smi -L) and never imports a backend.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import sys
from importlib import metadata
from typing import Any

from resnet_deploy.host import INTERESTING_FLAGS, cpu_flags, cpu_model  # noqa: F401 (re-exported)
from resnet_deploy.host import cpuinfo as _cpuinfo

LIBRARIES = (
    "numpy", "onnx", "onnxruntime", "onnxruntime-gpu", "openvino", "nncf", "torch",
    "tensorrt", "tensorrt-cu12", "tensorrt-rtx-cu13", "torch-tensorrt", "psutil", "resnet-deploy",
)


def _family_model() -> dict[str, str]:
    """x86 family/model numbers: they name the core when a VM hides the marketing name."""
    info = _cpuinfo()
    return {k: info[k] for k in ("cpu family", "model") if k in info}


VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


def int8_hardware_note(flags: list[str], arch: str) -> str | None:
    """Why INT8 gains less here than on a VNNI machine, for x86 CPUs without any VNNI flag."""
    if arch not in ("x86_64", "AMD64") or "avx2" not in flags or any(f in flags for f in VNNI_FLAGS):
        return None
    return ("this CPU has AVX2 but no VNNI (avx512_vnni, avx_vnni, amx_int8): int8 convolutions run at "
            "about 2x FP32 at best, against about 3x on VNNI CPUs (benchmarks/int8_ceiling.py measures it)")


def usable_cores() -> int:
    """CPUs this process may run on (affinity/cgroup aware where the OS says)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def gpu_names() -> list[str]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        res = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.split(" (UUID")[0].strip() for line in res.stdout.splitlines() if line.startswith("GPU")]


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in LIBRARIES:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def machine_info(argv: list[str] | None = None) -> dict[str, Any]:
    """A JSON-ready description of this machine and the command that produced a report."""
    import psutil

    flags = cpu_flags()
    return {
        "hostname": socket.gethostname(),
        "os": f"{platform.system()} {platform.release()}",
        "arch": platform.machine(),
        "cpu_model": cpu_model(),
        "cores_logical": psutil.cpu_count(logical=True),
        "cores_physical": psutil.cpu_count(logical=False),
        "cores_usable": usable_cores(),
        "cpu_flags": flags,
        "int8_note": int8_hardware_note(flags, platform.machine()),
        "cpu_family_model": " ".join(f"{k} {v}" for k, v in _family_model().items()) or None,
        "memory_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "gpus": gpu_names(),
        "load_avg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "libraries": library_versions(),
        "command": list(sys.argv if argv is None else argv),
    }


def machine_line() -> str:
    """The machine in one Markdown line (benchmark scripts): CPU, core, INT8-relevant flags, load."""
    fm = _family_model()
    model = cpu_model()
    if len(fm) == 2:  # the VM may hide the marketing name; family/model still identify the core
        model += f" (cpu family {fm['cpu family']}, model {fm['model']})"
    flags = " ".join(cpu_flags()) or "none listed"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{model}, {os.cpu_count()} logical CPUs, /proc/cpuinfo SIMD flags: {flags}, "
            f"load average {load:.1f} at the start")

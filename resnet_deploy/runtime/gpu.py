"""Is there a real NVIDIA GPU here? Answered without importing torch or TensorRT.

Several GPU stacks lie when there is no device: onnxruntime-gpu lists
``CUDAExecutionProvider`` and silently runs on the CPU, and a TensorRT runtime
created without a working driver can take the process down. So every GPU
backend asks this module first. Two sources, both cheap and safe:

1. ``nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version
   --format=csv,noheader,nounits`` (the documented query interface of nvidia-smi);
2. if nvidia-smi is missing or too old for ``compute_cap``, the CUDA driver API
   through ctypes (``cuInit``, ``cuDeviceGetCount``, ``cuDeviceGetName``,
   ``cuDeviceGetAttribute`` with CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR/MINOR
   = 75/76, ``cuDeviceTotalMem_v2``, ``cuDriverGetVersion``; CUDA Driver API
   reference, docs.nvidia.com/cuda/cuda-driver-api). That query runs in a child
   process so a broken driver cannot crash the caller.

nvidia-smi lists every GPU and ignores ``CUDA_VISIBLE_DEVICES``; CUDA programs
see only the listed devices, in the listed order (CUDA C programming guide,
"CUDA Environment Variables": indices or ``GPU-``/``MIG-`` UUID prefixes,
comma-separated, the list ends at the first invalid entry). So the query also
asks for ``index,uuid`` and the GPU reported is the first one CUDA will use.

The answer is cached for the life of the process (``gpu_info.cache_clear()`` resets it).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from functools import lru_cache

_SMI_QUERY = "index,uuid,name,compute_cap,memory.total,driver_version"
_TIMEOUT_S = 20


@dataclass(frozen=True)
class GpuInfo:
    """The first visible NVIDIA GPU."""

    name: str
    compute_capability: str  # "major.minor", e.g. "9.0"
    memory_mib: int
    driver: str
    count: int = 1
    source: str = "nvidia-smi"  # or "libcuda"

    @property
    def cc_tuple(self) -> tuple[int, int]:
        return parse_cc(self.compute_capability)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def parse_cc(text: str) -> tuple[int, int]:
    """'8.6' -> (8, 6); raises ValueError on anything else."""
    major, _, minor = str(text).strip().partition(".")
    return int(major), int(minor or 0)


def parse_nvidia_smi(text: str, visible: str | None = None) -> GpuInfo | None:
    """Parse ``--format=csv,noheader,nounits`` rows of the query above; the first GPU CUDA sees wins.

    Rows are ``index, uuid, name, cc, memory, driver`` (or the older 4-field
    ``name, cc, memory, driver``); ``visible`` is a ``CUDA_VISIBLE_DEVICES`` value.
    """
    rows = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 4:
            parts = [str(len(rows)), "", *parts]
        if len(parts) != 6:
            continue
        index, uuid, name, cc, mem, driver = parts
        try:
            parse_cc(cc)
            memory = int(float(mem.split()[0]))
        except (ValueError, IndexError):
            continue  # "[N/A]" or a driver too old to report compute_cap
        rows.append((index, uuid, name, cc, memory, driver))
    rows = visible_rows(rows, visible)
    if not rows:
        return None
    _i, _u, name, cc, memory, driver = rows[0]
    return GpuInfo(name=name, compute_capability=cc, memory_mib=memory, driver=driver, count=len(rows))


def visible_rows(rows: list[tuple], visible: str | None) -> list[tuple]:
    """The rows CUDA would expose, in CUDA's order, for a ``CUDA_VISIBLE_DEVICES`` value (None: all)."""
    if visible is None:
        return rows
    out = []
    for token in (t.strip() for t in visible.split(",")):
        match = [r for r in rows if (token.isdigit() and r[0] == token)
                 or (token and not token.isdigit() and r[1] and r[1].startswith(_uuid(token)))]
        if not match:
            break  # CUDA stops at the first entry that names no device
        out.append(match[0])
    return out


def _uuid(token: str) -> str:
    return token if token.startswith(("GPU-", "MIG-")) else f"GPU-{token}"


def query_nvidia_smi(exe: str | None = None) -> GpuInfo | None:
    """Ask nvidia-smi; None when it is absent, fails, or lists no usable GPU."""
    exe = exe or shutil.which("nvidia-smi")
    if not exe or not os.path.exists(exe):
        return None
    try:
        res = subprocess.run(
            [exe, f"--query-gpu={_SMI_QUERY}", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=_TIMEOUT_S, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if res.returncode != 0:
        return None
    return parse_nvidia_smi(res.stdout, os.environ.get("CUDA_VISIBLE_DEVICES"))


# Run in a child process: a broken driver may abort the process that calls it.
_LIBCUDA_SCRIPT = r"""
import ctypes, json, sys
def query(library):
    try:
        cuda = ctypes.CDLL(library)
    except OSError:
        return None
    if cuda.cuInit(0) != 0:
        return None
    count, dev = ctypes.c_int(0), ctypes.c_int(0)
    if cuda.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value < 1:
        return None
    if cuda.cuDeviceGet(ctypes.byref(dev), 0) != 0:
        return None
    name = ctypes.create_string_buffer(256)
    cuda.cuDeviceGetName(name, 256, dev)
    major, minor = ctypes.c_int(0), ctypes.c_int(0)
    cuda.cuDeviceGetAttribute(ctypes.byref(major), 75, dev)  # CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
    cuda.cuDeviceGetAttribute(ctypes.byref(minor), 76, dev)  # CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR
    total, version = ctypes.c_size_t(0), ctypes.c_int(0)
    cuda.cuDeviceTotalMem_v2(ctypes.byref(total), dev)
    cuda.cuDriverGetVersion(ctypes.byref(version))
    return {
        "name": name.value.decode(errors="replace"),
        "compute_capability": f"{major.value}.{minor.value}",
        "memory_mib": int(total.value // (1 << 20)),
        "driver": f"cuda {version.value // 1000}.{(version.value % 1000) // 10}",
        "count": int(count.value),
        "source": "libcuda",
    }
print(json.dumps(query(sys.argv[1])))
"""


def query_libcuda(library: str = "libcuda.so.1") -> GpuInfo | None:
    """CUDA driver API query (cuInit, cuDeviceGet*, ...) in a child process; None without a driver."""
    if os.sep not in library and ctypes.util.find_library("cuda") is None:
        return None  # no driver library on this host: nothing to ask
    try:
        res = subprocess.run(
            [sys.executable, "-c", _LIBCUDA_SCRIPT, library],
            capture_output=True, text=True, timeout=_TIMEOUT_S, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if res.returncode != 0:
        return None
    try:
        data = json.loads(res.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return None
    if not isinstance(data, dict):
        return None
    try:
        return GpuInfo(**data)
    except TypeError:
        return None


def probe_gpu(nvidia_smi: str | None = None, libcuda: str = "libcuda.so.1") -> GpuInfo | None:
    """Uncached probe: nvidia-smi first, then the driver library."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return None  # the user hid every device from CUDA programs
    return query_nvidia_smi(nvidia_smi) or query_libcuda(libcuda)


@lru_cache(maxsize=1)
def gpu_info() -> GpuInfo | None:
    """The first NVIDIA GPU (name, compute capability, memory, driver), or None; cached."""
    return probe_gpu()


def has_gpu() -> bool:
    """True when a real NVIDIA GPU answers (see ``gpu_info``)."""
    return gpu_info() is not None


def no_gpu_reason() -> str:
    """One phrase for skip reasons and errors when ``gpu_info()`` is None."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return "no NVIDIA GPU (CUDA_VISIBLE_DEVICES hides every device)"
    if shutil.which("nvidia-smi") is None:
        return "no NVIDIA GPU (nvidia-smi not found and the CUDA driver reports no device)"
    return "no NVIDIA GPU (nvidia-smi lists none)"

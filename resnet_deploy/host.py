"""This machine's CPU as the run side needs it: model name, INT8-relevant ISA flags, a signature.

Shared by ``bench.machine`` (reports) and ``runtime`` (``backend="auto"``
decides whether a selection recorded elsewhere still holds here), so it lives
below both. Reads /proc/cpuinfo only; never imports a backend.
"""

from __future__ import annotations

import platform
from typing import Any

# Flags reported when the CPU has them (names as in /proc/cpuinfo).
INTERESTING_FLAGS = (
    "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni",
    "avx512_bf16", "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16", "amx_fp16", "neon", "asimddp",
)
# The flags that decide which INT8 CPU kernels a runtime can use (x86 VNNI/AMX levels,
# Arm dot product): two CPUs that differ here may rank ONNX Runtime and OpenVINO differently.
SIGNATURE_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "asimddp")


def cpuinfo() -> dict[str, str]:
    """The first processor block of /proc/cpuinfo (empty off Linux)."""
    out: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if not line.strip():
                    if out:
                        break
                    continue
                key, _, value = line.partition(":")
                out.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return out


def cpu_model() -> str:
    info = cpuinfo()
    return info.get("model name") or info.get("Hardware") or platform.processor() or platform.machine()


def cpu_family_model() -> str | None:
    """x86 ``family/model`` numbers ("25/17"): they tell cores apart when a VM hides the marketing name."""
    info = cpuinfo()
    if "cpu family" in info and "model" in info:
        return f"{info['cpu family']}/{info['model']}"
    return None


def cpu_flags() -> list[str]:
    info = cpuinfo()
    flags = set((info.get("flags") or info.get("Features") or "").split())
    return [f for f in INTERESTING_FLAGS if f in flags]


def cpu_signature() -> dict[str, Any]:
    """``{"cpu_model", "cpu_family_model", "cpu_flags"}``: what a ranking of CPU INT8 backends depends on."""
    flags = set(cpu_flags())
    return {"cpu_model": cpu_model(), "cpu_family_model": cpu_family_model(),
            "cpu_flags": [f for f in SIGNATURE_FLAGS if f in flags]}


def same_cpu(recorded: Any, here: dict[str, Any] | None = None) -> bool:
    """Whether a recorded signature names this CPU (same model name, family/model and signature flags).

    A malformed record counts as another CPU, so the caller measures again instead of trusting it.
    """
    here = cpu_signature() if here is None else here
    if not isinstance(recorded, dict) or not isinstance(recorded.get("cpu_flags"), list):
        return False
    return (recorded.get("cpu_model") == here["cpu_model"]
            and recorded.get("cpu_family_model") == here.get("cpu_family_model")
            and set(recorded["cpu_flags"]) == set(here["cpu_flags"]))


def describe_signature(sig: Any) -> str:
    """``model [flags]`` in one line for explanations."""
    if not isinstance(sig, dict):
        return "an unknown CPU"
    flags = " ".join(str(f) for f in sig.get("cpu_flags") or []) or "no VNNI/AVX flags"
    return f"{sig.get('cpu_model') or '?'} [{flags}]"

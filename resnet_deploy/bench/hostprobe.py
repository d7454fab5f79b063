"""Was the host itself slow? A cross-core probe the parent times before and after each row.

``NoiseProbe`` sees other processes; it cannot see a host that got slower under us.
Measured on this project's 2-vCPU VM (Firecracker, cpuidle ``haltpoll`` with
``guest_halt_poll_ns=0``): after a burst of heavy PyTorch work (export, calibration,
the eager/TorchScript rows) the host sometimes stays for 30-90 s in a state where
code that synchronises threads across the two vCPUs runs slower -- OpenVINO INT8
ResNet-18 at 64 px 1.21 ms instead of 1.00, a two-thread 192x192 float32 matmul
0.175 ms instead of 0.118 -- while single-thread code on either vCPU, and two
independent single-thread loops at once, keep their speed, and /proc/stat shows
no steal and no other process. A row timed in that state read 20 % slow with
nothing in the report to say so.

The probe is that matmul on two threads and on one (numpy's BLAS, ``threadpoolctl``),
~60 ms, run in the orchestrating parent between children so it never shares a timing
window. A row is marked noisy when its probe (the worse of before and after) exceeds the
run's best by ``HOST_SLOW_RATIO``, or two threads were less than ``MIN_EFFICIENCY``
efficient (a run slow from its first row to its last has no fast row to compare with);
re-timing waits for the probe to recover.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

HOST_SLOW_RATIO = 1.2  # the slow state read 1.45-1.5x; the probe's own jitter is under 2 %
# Two threads do a matmul this fast relative to one thread on a healthy host, and less in the slow
# state: AVX2-only host 0.88 healthy, 0.47-0.60 slow; AVX-512 VNNI host (numpy's BLAS on its
# AVX-512 kernels, so the single-thread side is faster) 0.72-0.79 healthy, 0.43-0.52 slow. The bound
# sits between both classes' states. It catches a run that was slow from its first row to its last.
MIN_EFFICIENCY = 0.65
_N = 192
_WARMUP, _REPS = 20, 150


def _matmul_ms() -> float:
    rng = np.random.default_rng(0)
    a = rng.random((_N, _N), dtype=np.float32)
    for _ in range(_WARMUP):
        a @ a
    samples = np.empty(_REPS, dtype=np.int64)
    for i in range(_REPS):
        t = time.perf_counter_ns()
        a @ a
        samples[i] = time.perf_counter_ns() - t
    return float(np.median(samples)) / 1e6


def sync_probe() -> tuple[float, float | None]:
    """(ms of a two-thread 192x192 float32 matmul, its parallel efficiency vs one thread or None).

    None when there is one core, or numpy's BLAS cannot be limited (``threadpoolctl``).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return round(_matmul_ms(), 5), None
    if (os.cpu_count() or 1) < 2:
        return round(_matmul_ms(), 5), None
    with threadpool_limits(limits=2, user_api="blas"):
        two = _matmul_ms()
    with threadpool_limits(limits=1, user_api="blas"):
        one = _matmul_ms()
    return round(two, 5), round(one / (2.0 * two), 3)


def sync_probe_ms() -> float:
    """The two-thread matmul's ms alone (cross-core synchronisation cost)."""
    return sync_probe()[0]


def _worse(a: tuple[float, float | None], b: tuple[float, float | None]) -> tuple[float, float | None]:
    effs = [e for e in (a[1], b[1]) if e is not None]
    return max(a[0], b[0]), (min(effs) if effs else None)


def probed(fn: Callable[[], Any]) -> tuple[Any, tuple[float, float | None]]:
    """``fn()`` bracketed by the probe; returns its result and the worse of the two probes."""
    before = sync_probe()
    value = fn()
    return value, _worse(before, sync_probe())


def record(noise: dict[str, Any] | None, probe: tuple[float, float | None]) -> dict[str, Any] | None:
    """Store a row's probe in its noise record (rows that never timed have none)."""
    if noise is not None:
        noise["host_probe_ms"], noise["host_efficiency"] = probe
    return noise


def is_slow(probe_ms: float, efficiency: float | None, ref: float | None) -> bool:
    """Slow against the run's best probe, or slow in itself (two threads barely faster than one)."""
    return bool((ref is not None and probe_ms > ref * HOST_SLOW_RATIO)
                or (efficiency is not None and efficiency < MIN_EFFICIENCY))


def reference(noises: Iterable[dict[str, Any] | None]) -> float | None:
    """The run's best probe: the host's speed when it was not slow."""
    vals = [n["host_probe_ms"] for n in noises if n and n.get("host_probe_ms")]
    return min(vals) if vals else None


def mark(noises: Iterable[dict[str, Any] | None], ref: float | None) -> None:
    """Set ``host_slow`` and fold it into ``noisy`` (with other processes' use) against ``ref``."""
    for n in noises:
        if not n or not n.get("host_probe_ms"):
            continue
        n["host_ref_ms"] = ref
        n["host_slow"] = is_slow(n["host_probe_ms"], n.get("host_efficiency"), ref)
        others = n.get("others_cores")
        n["noisy"] = bool(n["host_slow"] or (others is not None and others > n.get("threshold_cores", 0.1)))


def describe(noise: dict[str, Any]) -> str:
    """Why a row is noisy, in a few words for tables."""
    if noise.get("host_slow"):
        eff = noise.get("host_efficiency")
        return (f"host slow while timing (cross-core probe {noise['host_probe_ms']:.3f} ms vs "
                f"{noise['host_ref_ms']:.3f} ms at best" + (f", two-thread efficiency {eff:.2f})" if eff else ")"))
    return "other processes used the CPU while timing"


def wait_until_fast(ref: float | None, limit_s: float = 120.0, poll_s: float = 5.0,
                    on_wait: Callable[[str], None] | None = None) -> bool:
    """Poll the probe until the host is not slow (``is_slow``); False if ``limit_s`` ran out."""
    deadline = time.monotonic() + limit_s
    told = False
    while True:
        now, eff = sync_probe()
        if not is_slow(now, eff, ref):
            return True
        if time.monotonic() >= deadline:
            return False
        if on_wait is not None and not told:
            best = f" vs {ref:.3f} ms at best" if ref is not None else ""
            on_wait(f"the host is slow (cross-core probe {now:.3f} ms{best}, two-thread "
                    f"efficiency {eff if eff is not None else float('nan'):.2f}); "
                    f"waiting up to {limit_s:.0f} s before timing")
            told = True
        time.sleep(min(poll_s, max(0.0, deadline - time.monotonic())))

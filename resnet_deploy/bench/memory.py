"""Peak memory of one backend: host RSS sampled in a thread, GPU memory where relevant.

``resource.getrusage`` only knows the process-lifetime high-water mark, which is
useless once a second backend has run, so a daemon thread samples
``psutil.Process().memory_info().rss`` every few milliseconds while a backend
is activated and run once per batch size (the caller also samples right after
each call); the row reports the peak and the peak minus the RSS just before
activation. Sampling stops before the timed runs so it never steals the GIL
from the timing loop. GPU memory comes from ``torch.cuda.max_memory_allocated``
for torch runners on CUDA (the caching allocator's own count) and otherwise from
``nvidia-smi`` per-process usage (TensorRT, ORT-CUDA allocate outside torch).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

MB = 1024.0 * 1024.0


@dataclass
class MemoryResult:
    """Host and device memory of one backend, in MiB (None = not measured)."""

    rss_before_mb: float
    rss_peak_mb: float
    rss_delta_mb: float  # peak during activate + timing minus RSS before activate
    gpu_peak_mb: float | None = None
    gpu_method: str | None = None
    samples: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class MemorySampler:
    """Context manager sampling this process's RSS until exit; read ``result`` after."""

    def __init__(self, interval_s: float = 0.005, device: str = "cpu", gpu_interval_s: float = 0.25) -> None:
        import psutil

        self._proc = psutil.Process(os.getpid())
        self.interval_s = interval_s
        self.device = device
        self.gpu_interval_s = gpu_interval_s
        self._gpu_last = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._before = 0
        self._peak = 0
        self._n = 0
        self._gpu_peak: float | None = None
        self.result: MemoryResult | None = None

    def _rss(self) -> int:
        return int(self._proc.memory_info().rss)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval_s)

    def sample(self) -> None:
        """Take one sample now (also called by the timing code between phases)."""
        rss = self._rss()
        self._n += 1
        if rss > self._peak:
            self._peak = rss
        now = time.monotonic()
        if self.device != "cpu" and now - self._gpu_last >= self.gpu_interval_s:
            self._gpu_last = now
            used = nvidia_smi_process_mb()
            if used is not None and (self._gpu_peak is None or used > self._gpu_peak):
                self._gpu_peak = used

    def __enter__(self) -> MemorySampler:
        self._before = self._peak = self._rss()
        if self.device != "cpu":
            reset_torch_cuda_peak()
            self.sample()
        self._thread = threading.Thread(target=self._loop, name="bench-rss", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()
        gpu_mb, method = None, None
        if self.device != "cpu":
            torch_peak = torch_cuda_peak_mb()
            if torch_peak:
                gpu_mb, method = torch_peak, "torch.cuda.max_memory_allocated"
            elif self._gpu_peak is not None:
                gpu_mb, method = self._gpu_peak, "nvidia-smi per-process used_memory (sampled)"
        self.result = MemoryResult(
            rss_before_mb=self._before / MB,
            rss_peak_mb=self._peak / MB,
            rss_delta_mb=max(0, self._peak - self._before) / MB,
            gpu_peak_mb=gpu_mb,
            gpu_method=method,
            samples=self._n,
        )


def _torch_cuda() -> Any:
    """torch, only if some runner already imported it and CUDA is up (never imports torch)."""
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
            return torch
    except Exception:  # a broken CUDA setup means "no torch GPU numbers"
        return None
    return None


def reset_torch_cuda_peak() -> None:
    torch = _torch_cuda()
    if torch is not None:
        torch.cuda.reset_peak_memory_stats()


def torch_cuda_peak_mb() -> float | None:
    torch = _torch_cuda()
    if torch is None:
        return None
    peak = torch.cuda.max_memory_allocated()
    return peak / MB if peak else None


def nvidia_smi_process_mb(pid: int | None = None) -> float | None:
    """GPU memory used by ``pid`` (default: this process) per nvidia-smi, or None."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    pid = os.getpid() if pid is None else pid
    try:
        res = subprocess.run(
            [exe, "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    total = 0.0
    for line in res.stdout.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 2 and parts[0] == str(pid):
            try:
                total += float(parts[1])
            except ValueError:
                continue
    return total

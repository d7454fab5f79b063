"""Was the machine quiet while we timed? CPU used by other processes during a timing window.

A benchmark figure is only worth acting on when nothing else competed for the
cores: on two cores one busy neighbour tripled a short INT8 kernel's latency
while the repetitions still agreed with each other. So every timing window is
bracketed by ``NoiseProbe``: it reads the machine's busy CPU time
(/proc/stat, steal included) and this process's own CPU time, and the
difference is what *others* used. A row whose others used more than
``NOISY_CORES`` of a core on average is marked noisy (pyperf's system checks
are the model: measure the disturbance, do not guess it).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from typing import Any

NOISY_CORES = 0.10  # others may use at most this much of one core while we time

_BUSY_FIELDS = (0, 1, 2, 5, 6, 7)  # user nice system irq softirq steal (not idle, iowait)


def _busy_seconds() -> float | None:
    """Busy CPU seconds of the whole machine so far, from /proc/stat (None off Linux)."""
    try:
        with open("/proc/stat") as fh:
            parts = fh.readline().split()
    except OSError:
        return None
    if not parts or parts[0] != "cpu":
        return None
    ticks = [int(v) for v in parts[1:]]
    busy = sum(ticks[i] for i in _BUSY_FIELDS if i < len(ticks))
    return busy / float(os.sysconf("SC_CLK_TCK"))


def _own_seconds() -> float:
    """CPU seconds used by this process (all its threads) so far."""
    t = os.times()
    return t.user + t.system


def cpu_mhz() -> float | None:
    """Mean current frequency of the CPUs, where the OS exposes it."""
    base = "/sys/devices/system/cpu"
    vals = []
    try:
        names = [n for n in os.listdir(base) if n.startswith("cpu") and n[3:].isdigit()]
    except OSError:
        names = []
    for n in names:
        try:
            with open(f"{base}/{n}/cpufreq/scaling_cur_freq") as fh:
                vals.append(int(fh.read().strip()) / 1000.0)
        except (OSError, ValueError):
            continue
    if not vals:
        try:
            with open("/proc/cpuinfo") as fh:
                vals = [float(line.split(":")[1]) for line in fh if line.startswith("cpu MHz")]
        except (OSError, ValueError, IndexError):
            return None
    return round(sum(vals) / len(vals), 1) if vals else None


@dataclass
class Noise:
    """Other processes' CPU use during one timing window."""

    window_s: float
    others_cores: float | None  # mean cores used by other processes (None: not readable here)
    self_cores: float  # mean cores this process used (the timed work itself)
    load_avg_1m: float | None
    cpu_mhz: float | None
    noisy: bool
    threshold_cores: float = NOISY_CORES

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Noise:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    def describe(self) -> str:
        if self.others_cores is None:
            return "other processes' CPU use not readable on this OS"
        return (f"other processes used {self.others_cores:.2f} cores on average over "
                f"{self.window_s:.1f} s (limit {self.threshold_cores:.2f})")


class NoiseProbe:
    """Context manager around a timing window; ``result`` is a ``Noise`` afterwards."""

    def __init__(self, threshold_cores: float = NOISY_CORES) -> None:
        self.threshold = threshold_cores
        self.result: Noise | None = None

    def __enter__(self) -> NoiseProbe:
        self._t0 = time.perf_counter()
        self._busy0 = _busy_seconds()
        self._own0 = _own_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = max(time.perf_counter() - self._t0, 1e-9)
        busy1, own1 = _busy_seconds(), _own_seconds()
        own = (own1 - self._own0) / wall
        others = None
        if self._busy0 is not None and busy1 is not None:
            # clock ticks are coarse (10 ms): clamp the small negative rounding at zero
            others = max(0.0, (busy1 - self._busy0) / wall - own)
        try:
            load = round(os.getloadavg()[0], 2)
        except OSError:
            load = None
        self.result = Noise(
            window_s=round(wall, 3), others_cores=None if others is None else round(others, 3),
            self_cores=round(own, 3),
            load_avg_1m=load, cpu_mhz=cpu_mhz(),
            noisy=bool(others is not None and others > self.threshold), threshold_cores=self.threshold,
        )

"""Timing isolation and noise detection: structure, not wall-clock bounds."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from resnet_deploy.bench.noise import Noise, NoiseProbe
from resnet_deploy.bench.worker import WorkerCrashed, heavy_modules_loaded, in_fresh_process


def _abort() -> None:
    os.abort()


def test_child_is_a_new_process_that_did_not_inherit_the_parents_runtimes() -> None:
    import onnxruntime  # noqa: F401 - the parent holds a runtime the child must not inherit

    assert "onnxruntime" in heavy_modules_loaded()
    res = in_fresh_process(os.getpid)
    assert res.value == res.pid != os.getpid()
    assert res.modules == []


def test_child_exceptions_come_back_and_crashes_are_one_error() -> None:
    with pytest.raises(ZeroDivisionError):
        in_fresh_process(divmod, 1, 0)
    with pytest.raises(WorkerCrashed, match="died without answering"):
        in_fresh_process(_abort)


def test_a_cpu_hog_beside_the_window_marks_it_noisy() -> None:
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # let it get going
        with NoiseProbe() as probe:
            time.sleep(1.0)
    finally:
        hog.kill()
        hog.wait()
    noise = probe.result
    assert noise is not None and noise.others_cores is not None
    assert noise.others_cores > 0.5 and noise.noisy
    assert "other processes used" in noise.describe()


def _busy(t) -> float:
    return t.user + t.nice + t.system + t.irq + t.softirq + t.steal


def test_our_own_cpu_use_is_not_counted_as_noise() -> None:
    """others_cores agrees with psutil's machine-wide busy time minus this process's own."""
    import psutil

    me = psutil.Process()
    t0, m0, b0 = time.perf_counter(), sum(me.cpu_times()[:2]), _busy(psutil.cpu_times())
    with NoiseProbe(threshold_cores=0.5) as probe:
        t_end = time.perf_counter() + 1.0
        while time.perf_counter() < t_end:
            pass
    wall = time.perf_counter() - t0
    own = sum(me.cpu_times()[:2]) - m0
    expected_others = max(0.0, (_busy(psutil.cpu_times()) - b0 - own) / wall)
    noise = probe.result
    assert noise is not None and noise.others_cores is not None
    assert noise.self_cores > 0.3  # the busy loop is ours...
    assert abs(noise.others_cores - expected_others) < 0.25  # ...and is not in others_cores
    assert Noise.from_dict(noise.to_dict()) == noise

"""Memory sampling, machine description and config validation."""

from __future__ import annotations

import numpy as np
import pytest

from resnet_deploy.bench.config import BenchConfig
from resnet_deploy.bench.machine import INTERESTING_FLAGS, int8_hardware_note, machine_info
from resnet_deploy.bench.memory import MemorySampler
from resnet_deploy.errors import ResNetDeployError


def test_memory_sampler_sees_a_large_allocation() -> None:
    with MemorySampler(interval_s=0.002) as mem:
        block = np.ones(120 * 1024 * 1024 // 8)  # 120 MiB, pages touched
        mem.sample()
        del block
    r = mem.result
    assert r is not None and r.samples >= 2
    assert r.rss_delta_mb >= 100 and r.rss_peak_mb >= r.rss_before_mb + 100
    assert r.gpu_peak_mb is None


def test_int8_hardware_note_only_for_x86_without_vnni() -> None:
    note = int8_hardware_note(["avx2", "fma"], "x86_64")
    assert note is not None and "no VNNI" in note and "\n" not in note
    assert int8_hardware_note(["avx2", "avx512f", "avx512_vnni"], "x86_64") is None
    assert int8_hardware_note(["avx2", "avx_vnni"], "x86_64") is None
    assert int8_hardware_note(["neon", "asimddp"], "aarch64") is None
    assert int8_hardware_note([], "x86_64") is None  # flags unknown: say nothing


def test_machine_info_describes_this_machine() -> None:
    info = machine_info(["resnet-deploy", "bench", "x"])
    assert info["command"] == ["resnet-deploy", "bench", "x"]
    assert info["cores_usable"] >= 1 and info["cpu_model"]
    assert set(info["cpu_flags"]) <= set(INTERESTING_FLAGS)
    assert info["int8_note"] == int8_hardware_note(info["cpu_flags"], info["arch"])
    assert "numpy" in info["libraries"] and "python" in info["libraries"]
    assert isinstance(info["gpus"], list)


def test_default_sweep_and_scenarios() -> None:
    assert BenchConfig(max_batch=16).sweep_sizes() == [1, 2, 4, 8, 16]
    assert BenchConfig(scenarios="single-stream").sweep_sizes() == [1]
    assert BenchConfig(batch_sizes=[8, 4, 8], scenarios="offline").sweep_sizes() == [4, 8]
    assert BenchConfig(batch_sizes=[8], scenarios="server").sweep_sizes() == [1, 8]
    assert BenchConfig().plan.budget_s == 1.0
    assert BenchConfig(iterations=5).plan.budget_s is None


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"batch_sizes": [0, 1]}, "batch sizes must be positive"),
    ({"batch_sizes": []}, "batch sizes must be positive"),
    ({"scenarios": "batchy"}, "unknown scenario"),
    ({"iterations": 0}, "--iterations"),
    ({"threads": -2}, "--threads"),
    ({"time_budget": 0.0}, "--time-budget"),
    ({"eval_mode": "five-crop"}, "--eval-mode"),
    ({"select": "fastest"}, "unknown selection strategy"),
    ({"max_drop": 101.0}, "--max-drop"),
    ({"max_drop": 1.0, "eval_data": None}, "needs accuracy numbers"),
    ({"backends": [" "]}, "--backends is empty"),
    ({"peer_preset": "fast"}, "NNCF preset"),
    ({"paired_rounds": -1}, "--paired-rounds"),
])
def test_config_errors_are_one_line(kwargs: dict, match: str) -> None:
    with pytest.raises(ResNetDeployError, match=match) as exc:
        BenchConfig(**kwargs)
    assert "\n" not in str(exc.value) and exc.value.exit_code == 2

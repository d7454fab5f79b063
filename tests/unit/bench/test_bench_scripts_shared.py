"""The pieces benchmarks/*.py share live in resnet_deploy.bench: the machine line and the ONNX timer."""

from __future__ import annotations

from pathlib import Path

from tiny_onnx_artifact import SIZE, write_tiny_onnx

from resnet_deploy.bench.machine import cpu_flags, cpu_model, machine_line
from resnet_deploy.bench.onnx_latency import onnx_file_latency

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"


def test_machine_line_names_cpu_flags_and_load() -> None:
    line = machine_line()
    assert line.startswith(cpu_model())
    assert "logical CPUs" in line and "load average" in line
    assert all(f in line for f in cpu_flags())


def test_onnx_file_latency_counts_every_timed_run(tmp_path: Path) -> None:
    path = write_tiny_onnx(tmp_path / "tiny.onnx")
    s = onnx_file_latency(path, SIZE, threads=1, iters=7, warmup=1)
    assert s.n == 7
    assert 0 < s.min <= s.p50 <= s.p90 <= s.max


def test_scripts_do_not_copy_or_path_hack() -> None:
    for script in BENCHMARKS.glob("*.py"):
        text = script.read_text()
        assert "sys.path.insert" not in text, script.name
        assert "def latency_ms(path" not in text or "onnx_file_latency" in text, script.name
        assert "/proc/cpuinfo\").read_text" not in text, script.name

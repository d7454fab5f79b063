"""Fixtures for the bench unit tests: a tiny ONNX artifact (onnx.helper, no torch) and a synthetic report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tiny_onnx_artifact import write_tiny_manifest, write_tiny_onnx

from resnet_deploy.artifact import make_entry
from resnet_deploy.bench.report import BackendRow, BenchReport, peer_comparison
from resnet_deploy.bench.stats import BatchResult


@pytest.fixture
def tiny_artifact(tmp_path: Path) -> Path:
    """An artifact with only model.fp32.onnx (so torch backends are skipped: no model.pt2)."""
    root = tmp_path / "tiny"
    root.mkdir()
    write_tiny_onnx(root / "model.fp32.onnx")
    return write_tiny_manifest(root, [make_entry(root, "model.fp32.onnx", "onnx")])


def make_row(spec: str, p50: float, tput: float, drop: float | None, precision: str = "int8",
             peer: bool = False, status: str = "ok") -> BackendRow:
    """A row with a batch-1 and a batch-16 timing around the given numbers."""
    backend, _, key = spec.partition(":")
    row = BackendRow(spec=spec, backend=backend, key=key, status=status, precision=precision,
                     peer=peer, threads=2, file=f"model.{key}.onnx")
    if status != "ok":
        row.reason = "not installed here"
        return row
    rng = np.random.default_rng(abs(hash(spec)) % 1000)
    b1 = (p50 + rng.normal(0, p50 * 0.01, 200)) * 1e6
    b16 = np.full(50, 16 * 1e9 / tput)
    row.batches = [BatchResult.from_reps(1, [b1]), BatchResult.from_reps(16, [b16])]
    row.samples_ms = list(b1 / 1e6)
    if drop is not None:
        row.drift = {"agreement": 1 - drop / 100, "top1": 0.9 - drop / 100, "ref_top1": 0.9,
                     "drop_points": drop, "max_abs": 0.1, "cosine_mean": 0.999, "labelled": True}
    return row


@pytest.fixture
def synthetic_report() -> BenchReport:
    rows = [
        make_row("torch:fp32", 50.0, 40.0, 0.0, precision="fp32"),
        make_row("onnxruntime:int8-cpu", 9.0, 300.0, 0.5),
        make_row("openvino:int8-cpu", 8.0, 320.0, 2.5),
        make_row("tensorrt", 0.0, 0.0, None, status="skipped"),
        make_row("openvino-nncf:int8", 10.0, 280.0, 0.7, peer=True),
    ]
    report = BenchReport(
        artifact="/tmp/x", model={"arch": "resnet50"},
        machine={"cpu_model": "Test CPU", "cores_usable": 2, "cpu_flags": ["avx2"], "gpus": [],
                 "command": ["resnet-deploy", "bench", "x"], "libraries": {"numpy": "1"}},
        config={"threads": 2, "timing": "test", "repeats": 1, "eval_data": "sample", "eval_mode": "center",
                "server_bound_ms": 15.0},
        rows=rows, reference="torch:fp32", created_at="2026-01-01T00:00:00+00:00",
        harness={"null_runner_ms": {"mean": 0.0003}, "overhead_pct": 0.003},
    )
    report.peer_comparison = peer_comparison(rows)
    return report

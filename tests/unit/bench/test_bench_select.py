"""Selection within an accuracy budget, recorded in manifest.selection."""

from __future__ import annotations

from pathlib import Path

import pytest

from resnet_deploy.artifact import load_manifest
from resnet_deploy.bench.report import BenchReport
from resnet_deploy.bench.select import record_selection, select_backend
from resnet_deploy.errors import AccuracyBudgetError, ResNetDeployError


def test_min_latency_respects_the_budget_and_never_picks_the_peer(synthetic_report: BenchReport) -> None:
    s = select_backend(synthetic_report, "min-latency", max_drop=1.0)
    assert s["backend"] == "onnxruntime:int8-cpu"  # openvino is faster but drops 2.5 points
    assert "openvino:int8-cpu (drop 2.50 pts)" in s["reason"]
    assert s["metrics"]["drop_points"] == 0.5 and s["strategy"] == "min-latency"
    assert set(s) >= {"backend", "file", "strategy", "max_drop", "reason", "metrics", "created_at"}


def test_without_budget_the_fastest_wins(synthetic_report: BenchReport) -> None:
    assert select_backend(synthetic_report, "min-latency")["backend"] == "openvino:int8-cpu"
    s = select_backend(synthetic_report, "max-throughput")
    assert s["backend"] == "openvino:int8-cpu" and s["metrics"]["batch"] == 16


def test_zero_budget_keeps_only_exact_backends(synthetic_report: BenchReport) -> None:
    assert select_backend(synthetic_report, "max-throughput", max_drop=0.0)["backend"] == "torch:fp32"


def test_nothing_within_budget_is_a_work_failure(synthetic_report: BenchReport) -> None:
    synthetic_report.rows = [r for r in synthetic_report.rows if r.precision == "int8"]
    with pytest.raises(AccuracyBudgetError, match="no backend is within 0.1 top-1 points") as exc:
        select_backend(synthetic_report, "min-latency", max_drop=0.1)
    assert exc.value.exit_code == 1 and "\n" not in str(exc.value)


def test_bad_strategy_or_budget() -> None:
    report = BenchReport(artifact="", model={}, machine={}, config={})
    with pytest.raises(ResNetDeployError, match="unknown selection strategy"):
        select_backend(report, "fastest")
    with pytest.raises(ResNetDeployError, match="--max-drop"):
        select_backend(report, "min-latency", max_drop=-1)


def test_record_selection_writes_the_manifest(synthetic_report: BenchReport, tiny_artifact: Path) -> None:
    s = select_backend(synthetic_report, "min-latency", max_drop=1.0)
    record_selection(tiny_artifact, s)
    m = load_manifest(tiny_artifact)
    assert m.selection is not None
    assert m.selection.backend == "onnxruntime:int8-cpu" and m.selection.max_drop == 1.0

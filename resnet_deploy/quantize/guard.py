"""The accuracy guard: emit, measure, and keep the most sensitive nodes in float until within budget.

Every round re-emits from the SAME saved ranges (``qdq.emit_qdq`` cannot
calibrate); only ``nodes_to_exclude`` grows. The ranking comes from the per-layer
SQNR of the first, fully quantised model (``sensitivity.measure``). Exclusions grow
1, 2, 4, ... nodes, up to half of the rankable nodes (ResNet-50: 35 of 70, reached
within ``max_rounds`` = 8 re-emissions); the first set within budget is kept. A
model with more than half of its convs/adds in float is no longer an INT8 model
(size and speed are mostly FP32's), so the guard reports failure instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from resnet_deploy.data.evalset import EvalSet
from resnet_deploy.errors import AccuracyBudgetError
from resnet_deploy.metrics import Drift, drift_metrics
from resnet_deploy.quantize.calibrate import CalibrationRanges
from resnet_deploy.quantize.evaluate import run_logits
from resnet_deploy.quantize.qdq import emit_qdq
from resnet_deploy.quantize.sensitivity import LayerReport, measure


@dataclass
class GuardOutcome:
    """The model that was kept, how it compares with FP32, and how it got there."""

    path: Path
    drift: Drift
    report: LayerReport
    excluded: list[str] = field(default_factory=list)
    rounds: int = 1
    history: list[dict[str, Any]] = field(default_factory=list)


def exclusion_sizes(most: int, max_rounds: int) -> list[int]:
    """How many top-ranked nodes each retry keeps in float: 1, 2, 4, ..., then ``most``."""
    sizes: list[int] = []
    k = 1
    while len(sizes) < max_rounds and most > 0:
        k = min(k, most)
        sizes.append(k)
        if k == most:
            break
        k *= 2
    return sizes


def emit_within_budget(
    *,
    prepared: Path,
    ranges: CalibrationRanges,
    target: str,
    out_path: Path,
    cache_path: Path,
    work_dir: Path,
    eval_set: EvalSet,
    ref_logits: np.ndarray,
    report_x: np.ndarray,
    max_drop: float | None,
    max_rounds: int,
    batch_size: int,
    input_name: str,
    on_round: Callable[[str], None] | None = None,
) -> GuardOutcome:
    """Emit ``target``; with ``max_drop`` set, retry with exclusions or raise AccuracyBudgetError."""

    def attempt(excluded: list[str]) -> Drift:
        emit_qdq(prepared, ranges, target, out_path, cache_path=cache_path, exclude=excluded)
        logits = run_logits(out_path, eval_set.x, batch_size)
        return drift_metrics(ref_logits, logits, eval_set.labels)

    drift = attempt([])
    report = measure(prepared, out_path, report_x, work_dir, input_name=input_name)
    history: list[dict[str, Any]] = [{"excluded": 0, "drop": round(drift.drop_points, 4), "drift": drift}]
    if max_drop is None or drift.drop_points <= max_drop:
        return GuardOutcome(out_path, drift, report, [], 1, history)

    ranking = report.ranking()
    limit = max(1, len(ranking) // 2)
    best = (drift.drop_points, 0)
    for k in exclusion_sizes(min(limit, len(ranking)), max_rounds):
        excluded = ranking[:k]
        if on_round is not None:
            on_round(
                f"INT8 {target}: {drift.drop_label} {drift.drop_points:.2f} pt > {max_drop:g}; "
                f"re-emitting with the {k} most sensitive node(s) in float"
            )
        drift = attempt(excluded)
        drop = drift.drop_points
        history.append({"excluded": k, "drop": round(drop, 4), "drift": drift})
        if drop < best[0]:
            best = (drop, k)
        if drop <= max_drop:
            final = measure(prepared, out_path, report_x, work_dir, input_name=input_name)
            final.nodes = report.nodes  # keep the ranking that chose the exclusions
            return GuardOutcome(out_path, drift, final, excluded, len(history), history)
    raise AccuracyBudgetError(
        f"INT8 {target} could not reach a {drift.drop_label} of {max_drop:g} pt on {eval_set.n} "
        f"eval images; best was {best[0]:.2f} pt with {best[1]} node(s) excluded "
        f"(of {len(ranking)} ranked, at most {limit} may stay float; {len(history)} emissions from "
        "the same ranges); raise --max-drop, calibrate on more "
        "representative data (--calib-data), or try another --calib-method"
    )

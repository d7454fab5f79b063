"""Pick the best backend within an accuracy budget and record it for ``backend="auto"``.

Eligible rows: timed successfully, not the peer (the runtime cannot load it),
and -- when ``max_drop`` is given -- with a measured drift whose top-1 drop vs
the FP32 reference (agreement loss when the data has no labels) is at most
``max_drop`` percentage points. ``min-latency`` takes the lowest batch-1 p50,
``max-throughput`` the highest images/s at any measured batch size.
"""

from __future__ import annotations

import os
from typing import Any

from resnet_deploy.artifact import Manifest, Selection, now_iso, update_manifest
from resnet_deploy.bench.report import BackendRow, BenchReport
from resnet_deploy.checks import check_choice, check_number
from resnet_deploy.errors import AccuracyBudgetError
from resnet_deploy.host import cpu_signature

STRATEGIES = ("min-latency", "max-throughput")


def check_strategy(strategy: str | None, max_drop: float | None) -> None:
    """One-line errors for a bad ``--select`` / ``--max-drop`` before any work."""
    check_choice(strategy, "selection strategy (--select)", STRATEGIES, allow_none=True)
    check_number(max_drop, "--max-drop (top-1 percentage points)", minimum=0.0, maximum=100.0,
                 allow_none=True, hint="pass e.g. 1.0")


def _drop(row: BackendRow) -> float | None:
    return None if not row.drift else row.drift.get("drop_points")


def _metric(row: BackendRow, strategy: str) -> float | None:
    if strategy == "min-latency":
        return row.p50_ms
    best = row.best
    return best.throughput if best else None


def select_backend(report: BenchReport, strategy: str, max_drop: float | None = None) -> dict[str, Any]:
    """The selection record (see module docstring); AccuracyBudgetError if nothing qualifies."""
    check_strategy(strategy, max_drop)
    excluded: list[str] = []
    eligible: list[BackendRow] = []
    for row in report.rows:
        if not row.ok or row.peer:
            continue
        if _metric(row, strategy) is None:
            excluded.append(f"{row.spec} (no batch-1 timing)")
            continue
        if max_drop is not None:
            drop = _drop(row)
            if drop is None:
                excluded.append(f"{row.spec} (accuracy not measured)")
                continue
            if drop > max_drop + 1e-9:
                excluded.append(f"{row.spec} (drop {drop:.2f} pts)")
                continue
        eligible.append(row)
    budget = f"within {max_drop:g} top-1 points of {report.reference}" if max_drop is not None else "with no accuracy budget"
    if not eligible:
        raise AccuracyBudgetError(
            f"no backend is {budget} ({'; '.join(excluded) or 'nothing was timed'}); "
            "raise --max-drop or re-quantize"
        )
    if strategy == "min-latency":
        best = min(eligible, key=lambda r: r.p50_ms)  # type: ignore[arg-type,return-value]
        what = f"lowest batch-1 p50 ({best.p50_ms:.3f} ms)"
    else:
        best = max(eligible, key=lambda r: r.best.throughput)  # type: ignore[union-attr]
        what = f"highest throughput ({best.best.throughput:.1f} images/s at batch {best.best.batch})"  # type: ignore[union-attr]
    reason = f"{what} among {len(eligible)} backend(s) {budget}"
    if excluded:
        reason += f"; excluded: {', '.join(excluded)}"
    metrics: dict[str, Any] = {"p50_ms": best.p50_ms}
    if best.best is not None:
        metrics.update(throughput=best.best.throughput, batch=best.best.batch)
    if best.drift:
        metrics.update({k: best.drift.get(k) for k in ("top1", "agreement", "drop_points")})
    return Selection(
        backend=best.spec,
        file=best.file,
        strategy=strategy,
        max_drop=max_drop,
        reason=reason,
        metrics=metrics,
        threads=best.threads,
        created_at=now_iso(),
        host=cpu_signature(),  # the report's timings are this machine's: auto follows them on this CPU only
    ).to_dict()


def record_selection(artifact_dir: str | os.PathLike[str], selection: dict[str, Any]) -> Manifest:
    """Write ``manifest.selection`` atomically (what ``runtime.load(backend="auto")`` reads)."""

    record = Selection.from_dict(selection)

    def apply(m: Manifest) -> None:
        m.selection = record

    return update_manifest(artifact_dir, apply)

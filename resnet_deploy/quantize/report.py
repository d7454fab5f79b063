"""quant_report.json: per-layer SQNR for every emitted target, plus how the guard got there.

One file per artifact, one section per target; emitting a target again replaces
only its own section, so ``quantize --targets tensorrt`` after ``--targets cpu``
keeps the cpu numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from resnet_deploy.quantize.guard import GuardOutcome

REPORT_FILE = "quant_report.json"
FORMAT_VERSION = 1
WORST = 10


def target_section(outcome: GuardOutcome, calibration: dict[str, Any], max_drop: float | None) -> dict[str, Any]:
    """The report for one target: every activation/weight SQNR, node ranking, guard history."""
    rep = outcome.report
    return {
        "file": outcome.path.name,
        "images": rep.images,
        "worst": rep.worst(WORST),
        "activations": dict(sorted(rep.activations.items())),
        "weights": dict(sorted(rep.weights.items())),
        "node_ranking": rep.nodes,
        "excluded_nodes": list(outcome.excluded),
        "guard": {
            "max_drop": max_drop,
            "rounds": outcome.rounds,
            "history": [{"excluded": h["excluded"], "drop": h["drop"]} for h in outcome.history],
        },
        "calibration": {k: calibration.get(k) for k in ("method", "percentile", "count", "dataset_sha256")},
        "notes": (
            "sqnr_db: FP32 activation vs its own Q/DQ round trip with this target's scale "
            "(local noise); cumulative_sqnr_db: FP32 activation vs the INT8 model's (error "
            "accumulated up to here); weights: FP32 vs dequantised kernel. Higher is better."
        ),
    }


def merged_report(existing: Path | None, sections: dict[str, dict[str, Any]], drop: tuple[str, ...] = ()) -> str:
    """The new quant_report.json text: the old file's other targets (less ``drop``) plus ``sections``."""
    doc: dict[str, Any] = {"format_version": FORMAT_VERSION, "targets": {}}
    if existing is not None and existing.is_file():
        try:
            old = json.loads(existing.read_text())
            if isinstance(old, dict) and isinstance(old.get("targets"), dict):
                doc["targets"].update(old["targets"])
        except (OSError, ValueError):
            pass  # a broken old report is simply replaced
    for target in drop:
        doc["targets"].pop(target, None)
    doc["targets"].update(sections)
    return json.dumps(doc, indent=1) + "\n"

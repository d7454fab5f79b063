"""``compare_backends``: the drift between two backend specs on the same eval images.

B is compared against A (A plays the reference): top-1 agreement, max/mean abs
logit error, cosine similarity, and each side's top-1/top-5 when labelled.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from resnet_deploy.artifact import load_manifest
from resnet_deploy.bench.drift import EVAL_MODES, collect_outputs, drift_row, load_eval_set
from resnet_deploy.bench.machine import usable_cores
from resnet_deploy.checks import check_choice, check_int
from resnet_deploy.metrics import drift_metrics
from resnet_deploy.reporter import Reporter, as_reporter
from resnet_deploy.runtime.resolve import make_runner, resolve


def compare_backends(
    artifact_dir: str | os.PathLike[str],
    spec_a: str,
    spec_b: str,
    eval_data: str = "sample",
    eval_mode: str = "center",
    eval_size: int | None = None,
    threads: int | None = None,
    batch_size: int = 32,
    reporter: Reporter | Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run both specs on ``eval_data`` and return the drift of B vs A (JSON-ready)."""
    check_choice(eval_mode, "--eval-mode", EVAL_MODES)
    check_int(eval_size, "--eval-size", allow_none=True, hint="pass e.g. 500, or leave it out for all")
    check_int(threads, "--threads", allow_none=True, hint="pass e.g. 4, or leave it out")
    art = Path(artifact_dir)
    manifest = load_manifest(art)
    cand_a, cand_b = resolve(manifest, spec_a), resolve(manifest, spec_b)
    threads = threads or usable_cores()
    data = load_eval_set(eval_data, manifest, eval_mode, eval_size)
    rep = as_reporter(reporter)
    outs = []
    for cand in (cand_a, cand_b):
        rep.info(f"running {cand.spec} on {data.n} images ({data.mode})")
        with make_runner(art, manifest, cand, threads=threads) as runner:
            outs.append(collect_outputs(runner, data, batch_size))
    d = drift_row(drift_metrics(outs[0], outs[1], data.labels), cand_a.spec, data)
    return {"a": cand_a.spec, "b": cand_b.spec, "file_a": cand_a.entry.path if cand_a.entry else None,
            "file_b": cand_b.entry.path if cand_b.entry else None, "threads": threads, **d}

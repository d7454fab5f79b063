"""Record which CPU INT8 backend ``auto`` should use on this machine (``export --int8``, ``quantize``).

Each runnable CPU INT8 candidate (``runtime.auto.cpu_int8_candidates``) is timed
alone at batch 1 in a fresh spawned process (``bench.worker.in_fresh_process``:
no other runtime's threads in the timed process), with the probe's short plan
(``runtime.autoprobe.PROBE_PLAN``); the ranking lands in ``manifest.selection``
(strategy ``probe``) with this CPU's signature. ``load(backend="auto")`` follows
it on a CPU with the same signature and probes again elsewhere.

A selection made by ``bench --select`` is kept: it ranks every backend under an
accuracy budget, so a probe of the CPU INT8 candidates must not replace it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from resnet_deploy.artifact import Selection, load_manifest
from resnet_deploy.atomic import artifact_lock
from resnet_deploy.bench.select import record_selection
from resnet_deploy.bench.worker import WorkerCrashed, in_fresh_process
from resnet_deploy.reporter import Reporter, as_reporter
from resnet_deploy.runtime.auto import cpu_int8_candidates
from resnet_deploy.runtime.autoprobe import (
    PROBE_STRATEGY,
    ProbeFigure,
    describe_figures,
    probe_selection,
    time_candidate,
)


def _probe_child(art: str, spec: str, threads: int | None) -> ProbeFigure:
    """Child side: time one candidate alone and release it."""
    from resnet_deploy.runtime.resolve import candidates

    manifest = load_manifest(art, verify=False)  # the parent verified the artifact
    cand = next(c for c in candidates(manifest, [spec]) if c.spec == spec)
    fig, runner = time_candidate(art, manifest, cand, threads)
    if runner is not None:
        runner.deactivate()
    return fig


def probe_fresh(artifact_dir: str | os.PathLike[str], specs: list[str], threads: int | None = None) -> list[ProbeFigure]:
    """Time each spec at batch 1, one fresh process per spec, one after the other."""
    figures = []
    for spec in specs:
        try:
            figures.append(in_fresh_process(_probe_child, str(artifact_dir), spec, threads).value)
        except WorkerCrashed as exc:
            figures.append(ProbeFigure(spec, None, error=str(exc)))
    return figures


def record_auto_selection(
    artifact_dir: str | os.PathLike[str], reporter: Reporter | Callable[[str], None] | None = None,
    threads: int | None = None,
) -> Selection | None:
    """Probe the CPU INT8 candidates and record the ranking; None when nothing was recorded (and why is said)."""
    rep = as_reporter(reporter)
    art = Path(artifact_dir)
    manifest = load_manifest(art, verify=False)  # just written by export/quantize
    old = manifest.selection
    if old is not None and old.strategy != PROBE_STRATEGY:
        rep.note(f"kept the benchmark's selection '{old.backend}' for backend='auto' "
                 "(re-run bench --select to refresh it after re-quantizing)")
        return None
    cands = cpu_int8_candidates(manifest)
    if len(cands) < 2:
        only = f"only {cands[0].spec} can run here" if cands else "no CPU INT8 file that a CPU runtime here can run"
        rep.info(f"auto backend: {only}; nothing to probe")
        return None
    with rep.status(f"Timing {len(cands)} CPU INT8 backends at batch 1 for backend='auto'"):
        figures = probe_fresh(art, [c.spec for c in cands], threads)
    sel = probe_selection(figures, threads, "at export")
    if sel is None:
        rep.warn(f"auto backend: no CPU INT8 candidate could be timed ({describe_figures(figures)}); "
                 "load() will probe again")
        return None
    with artifact_lock(art, "record the auto selection", on_wait=rep.info):
        record_selection(art, sel.to_dict())
    rep.info(f"auto backend on this CPU: {sel.backend} ({describe_figures(figures)})")
    return sel

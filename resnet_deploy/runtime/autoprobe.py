"""The short timed probe behind ``backend="auto"``: which CPU INT8 candidate is fastest here.

No fixed order is right on every CPU (OpenVINO wins on AVX-512 VNNI hosts, ONNX
Runtime was faster on an AVX2-only one), so the candidates are timed at batch 1
with the benchmark's own loop (``runtime.timing``) for a fraction of a second
each. ``export --int8``/``quantize`` run this probe once per candidate in a fresh
process (``bench.autoselect``) and record the result with the CPU signature;
``load`` runs it in-process, one candidate after the other, only when nothing
recorded fits this CPU. In-process at load, not in spawned children: spawning
from a service re-imports its ``__main__`` (a script without a main guard would
load again, recursively) and is refused inside daemonic workers; and the spawned
probe cost about 0.3 s more per candidate here (2-core AVX2 host: 0.8-1.5 s per
candidate spawned vs 0.5-0.8 s in-process for ResNet-18 224 px), plus activating
the winner again in the parent.

Candidates are generic: every runnable (CPU runner, INT8 file) pair whose file
is not a TensorRT flavour, so files added later (``int8-openvino``, raw-pixel
variants) join without a code change. A file whose entry declares a different
input (``extra["input"] = {"dtype": ..., "shape": [...]}``) is fed that.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from resnet_deploy.artifact import FileEntry, Manifest, Selection, now_iso
from resnet_deploy.host import cpu_signature
from resnet_deploy.runtime.base import Runner, env_switch, first_line
from resnet_deploy.runtime.resolve import Candidate, make_runner
from resnet_deploy.runtime.timing import TimingPlan, make_input, time_calls

# About 0.1 s of warm-up and 0.3 s of timed calls per candidate: enough to tell a
# >5 % gap at batch 1 apart (tens of samples), short enough for load and export.
PROBE_PLAN = TimingPlan(warmup=5, time_budget=0.3, min_iterations=8)
PROBE_STRATEGY = "probe"  # Selection.strategy of a probe's record
ENV_PROBE = "RESNET_DEPLOY_AUTO_PROBE"


@dataclass
class ProbeFigure:
    """One candidate's probe result: batch-1 median in ms, or why it could not be timed."""

    spec: str
    file: str | None
    p50_ms: float | None = None
    samples: int = 0
    error: str | None = None


def probe_enabled(probe: bool | None) -> bool:
    """``load(probe=...)`` if given, else ``$RESNET_DEPLOY_AUTO_PROBE`` (on unless 0/false/no/off)."""
    if probe is not None:
        return bool(probe)
    return env_switch(ENV_PROBE)


def is_cpu_int8(entry: FileEntry | None) -> bool:
    """An INT8 file meant for CPUs: every INT8 flavour except the TensorRT ones (S8S8 is slow on CPU runtimes)."""
    return entry is not None and entry.precision == "int8" and not (entry.target or "").startswith("tensorrt")


def probe_input(manifest: Manifest, entry: FileEntry) -> np.ndarray:
    """A batch-1 input for ``entry``: the manifest's float NCHW shape unless the entry declares its own."""
    spec = entry.extra.get("input") if isinstance(entry.extra, dict) else None
    if isinstance(spec, dict) and isinstance(spec.get("shape"), list) and len(spec["shape"]) >= 2:
        shape = [1] + [int(d) for d in spec["shape"][1:]]
        dtype = np.dtype(str(spec.get("dtype", "float32")))
        if dtype.kind in "ui":
            return np.random.default_rng(0).integers(0, 256, size=shape).astype(dtype)
        return np.random.default_rng(0).standard_normal(shape).astype(dtype)
    return make_input(manifest.input.shape[1:], 1)


def time_candidate(
    root: str | os.PathLike[str], manifest: Manifest, cand: Candidate, threads: int | None = None,
    plan: TimingPlan = PROBE_PLAN, **options: Any,
) -> tuple[ProbeFigure, Runner | None]:
    """Activate, warm up and time one candidate at batch 1; returns the figure and the live runner.

    A candidate that fails to start or to run is reported in the figure (and its
    runner released), never raised: the probe simply leaves it out.
    """
    fig = ProbeFigure(cand.spec, cand.entry.path if cand.entry else None)
    runner = None
    try:
        runner = make_runner(root, manifest, cand, threads=threads, **options)
        runner.activate()
        ns = time_calls(runner, probe_input(manifest, cand.entry), plan)  # type: ignore[arg-type]
    except Exception as exc:  # backends raise their own types; any failure drops the candidate
        if runner is not None:
            runner.deactivate()
        fig.error = first_line(exc)
        return fig, None
    fig.p50_ms, fig.samples = float(np.median(ns)) / 1e6, int(ns.size)
    return fig, runner


def probe_in_process(
    root: str | os.PathLike[str], manifest: Manifest, cands: list[Candidate], threads: int | None = None,
    **options: Any,
) -> tuple[list[ProbeFigure], Candidate | None, Runner | None]:
    """Time the candidates one after the other in this process; keep only the fastest runner alive.

    Sequential on purpose: ONNX Runtime's (and OpenVINO's) worker threads spin
    for a while after each run, so two sessions timed alternately slow each
    other. Each candidate gets its own warm-up after the previous one's last
    call, and the only other session alive is the idle best-so-far, whose
    threads have gone to sleep during the next candidate's activation and warm-up.
    """
    figures: list[ProbeFigure] = []
    best: tuple[float, Candidate, Runner] | None = None
    for cand in cands:
        fig, runner = time_candidate(root, manifest, cand, threads, **options)
        figures.append(fig)
        if runner is None or fig.p50_ms is None:
            continue
        if best is None or fig.p50_ms < best[0]:
            if best is not None:
                best[2].deactivate()
            best = (fig.p50_ms, cand, runner)
        else:
            runner.deactivate()
    return figures, (best[1] if best else None), (best[2] if best else None)


def ranking(figures: list[ProbeFigure]) -> list[str]:
    """Specs that were timed, fastest first."""
    timed = [f for f in figures if f.p50_ms is not None]
    return [f.spec for f in sorted(timed, key=lambda f: f.p50_ms)]  # type: ignore[arg-type,return-value]


def describe_figures(figures: list[ProbeFigure]) -> str:
    """``spec 1.23 ms, spec failed (...)`` in probe order, for explanations and reports."""
    parts = []
    for f in figures:
        parts.append(f"{f.spec} {f.p50_ms:.3f} ms" if f.p50_ms is not None else f"{f.spec} failed ({f.error})")
    return ", ".join(parts) + " (batch-1 p50)"


def probe_selection(figures: list[ProbeFigure], threads: int | None, where: str) -> Selection | None:
    """The manifest record of a probe (None when nothing could be timed)."""
    order = ranking(figures)
    if not order:
        return None
    best = next(f for f in figures if f.spec == order[0])
    return Selection(
        backend=best.spec,
        strategy=PROBE_STRATEGY,
        file=best.file,
        reason=f"fastest CPU INT8 candidate in a probe {where}: {describe_figures(figures)}",
        metrics={f.spec: (round(f.p50_ms, 4) if f.p50_ms is not None else None) for f in figures},
        threads=threads,
        created_at=now_iso(),
        host=cpu_signature(),
    )


def figures_from(selection: Selection) -> list[ProbeFigure]:
    """A recorded probe's figures back (for explanations)."""
    return [ProbeFigure(spec, None, ms, error=None if ms is not None else "when recorded")
            for spec, ms in selection.metrics.items()]

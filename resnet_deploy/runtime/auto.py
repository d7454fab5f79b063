"""``backend="auto"``: which backend ``load`` starts, and the rule that picked it.

Order of rules:

1. A ``bench --select`` selection (strategy min-latency/max-throughput) comes
   first, as before, when it was measured on this CPU (same ``host`` signature)
   or carries no signature (artifacts from before signatures were recorded: it
   is followed as before, and the explanation says it may come from another CPU).
   One measured on another CPU is not followed.
2. Otherwise ``AUTO_ORDER``: GPU backends first; at the place of the CPU INT8
   entries, every runnable CPU INT8 candidate (see ``autoprobe.is_cpu_int8``) is
   ranked by, in turn: a probe recorded by ``export --int8``/``quantize`` on this
   CPU that covers every candidate here; a probe run now, in-process (unless
   ``load(probe=False)`` or ``RESNET_DEPLOY_AUTO_PROBE=0``); else the fixed order.
   Then CPU FP32 and PyTorch.

Every rule and the probe's figures end up in ``Predictor.explain()``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from resnet_deploy.artifact import Manifest
from resnet_deploy.errors import BackendUnavailableError, MissingDependencyError, ResNetDeployError
from resnet_deploy.host import cpu_signature, describe_signature, same_cpu
from resnet_deploy.runtime.autoprobe import (
    PROBE_STRATEGY,
    describe_figures,
    figures_from,
    is_cpu_int8,
    probe_enabled,
    probe_in_process,
)
from resnet_deploy.runtime.base import Runner
from resnet_deploy.runtime.registry import backend_names
from resnet_deploy.runtime.resolve import Candidate, candidates, make_runner, parse_spec

# The fixed preference of backend="auto": a TensorRT engine on a compatible GPU, ORT's GPU
# providers (their probes require a real GPU), then CPU INT8 (ranked by the probe when it
# is on: this order is only its fallback), CPU FP32, and PyTorch last.
AUTO_ORDER: tuple[str, ...] = (
    "tensorrt",
    "onnxruntime-tensorrt",
    "onnxruntime-cuda",
    "onnxruntime:int8-cpu",
    "openvino:int8-openvino",
    "openvino:int8-cpu",
    "openvino:int8-tensorrt",
    "onnxruntime:fp32",
    "openvino:fp32",
    "torchscript",
    "torch",
)
FIXED = "first runnable in the fixed preference order"


class _Walk:
    """State of one auto selection: the notes for explain() and the specs already tried."""

    def __init__(self, root: Path, manifest: Manifest, dev: str | None, threads: int | None,
                 options: dict[str, Any]) -> None:
        self.root, self.manifest, self.dev, self.threads, self.options = root, manifest, dev, threads, options
        self.notes: list[str] = []
        self.tried: set[str] = set()

    def start(self, cand: Candidate) -> Runner | None:
        """Activate one candidate, or note why it was skipped and return None."""
        self.tried.add(cand.spec)
        if cand.skip_reason:
            return None
        if self.dev is not None and cand.runner_cls.device != self.dev:
            self.notes.append(f"skipped {cand.spec}: runs on {cand.runner_cls.device}, device={self.dev} requested")
            return None
        try:
            runner = make_runner(self.root, self.manifest, cand, threads=self.threads, **self.options)
            runner.activate()
        except (BackendUnavailableError, MissingDependencyError) as exc:
            self.notes.append(f"skipped {cand.spec}: failed to start ({exc})")
            return None
        return runner

    def spec(self, spec: str) -> tuple[Candidate, Runner] | None:
        """The first candidate of ``spec`` that starts."""
        _, key = parse_spec(spec)
        for cand in candidates(self.manifest, [spec]):
            if cand.spec in self.tried or (key is not None and cand.key != key):
                continue
            if cand.skip_reason and (cand.entry is not None or key is None):  # "no file" only for whole backends
                self.notes.append(f"skipped {cand.spec}: {cand.skip_reason}")
            runner = self.start(cand)
            if runner is not None:
                return cand, runner
        return None


def select_auto(
    root: Path, manifest: Manifest, dev: str | None, threads: int | None, options: dict[str, Any],
    probe: bool | None = None,
) -> tuple[Candidate, Runner, list[str]]:
    """Apply the rules of the module docstring; return the first candidate that activates."""
    walk = _Walk(root, manifest, dev, threads, options)
    sel_spec, sel_reason = _bench_selection(manifest, walk.notes)
    if sel_spec:
        found = walk.spec(sel_spec)
        if found is not None:
            return found[0], found[1], [f"picked by auto: {sel_reason}", *walk.notes]
        walk.notes.insert(0, f"manifest selection '{sel_spec}' is not usable here")
    group_at = next(s for s in AUTO_ORDER if is_cpu_int8_spec(s))
    for spec in AUTO_ORDER:
        if spec == group_at and dev in (None, "cpu"):
            picked = _cpu_int8(walk, probe)
            if picked is not None:
                return picked
        found = walk.spec(spec)
        if found is not None:
            return found[0], found[1], [f"picked by auto: {FIXED}", *walk.notes]
    raise BackendUnavailableError(
        "no backend can run this artifact here (" + "; ".join(walk.notes[:6]) + "); install onnxruntime"
    )


def is_cpu_int8_spec(spec: str) -> bool:
    """Whether an AUTO_ORDER spec names a CPU INT8 file (the place where the probe's ranking goes)."""
    _, key = parse_spec(spec)
    return key is not None and key.startswith("int8") and not key.startswith("int8-tensorrt")


def cpu_int8_candidates(manifest: Manifest) -> list[Candidate]:
    """Runnable CPU INT8 (backend, file) pairs: AUTO_ORDER's first, then the others in registry order."""
    found = [c for c in candidates(manifest)
             if c.runnable and c.runner_cls.device == "cpu" and is_cpu_int8(c.entry) and _own_form(c)]
    rank = {spec: i for i, spec in enumerate(AUTO_ORDER)}
    return sorted(found, key=lambda c: rank.get(c.spec, len(rank)))


def _own_form(cand: Candidate) -> bool:
    """A file made for one runtime (its target names a backend, e.g. ``int8-openvino``) is probed only
    on that runtime: another runtime gains nothing from a form it does not fuse, and the probe stays short."""
    target = cand.entry.target if cand.entry is not None else None
    return target not in backend_names() or target == cand.backend


def _cpu_int8(walk: _Walk, probe: bool | None) -> tuple[Candidate, Runner, list[str]] | None:
    """Rank and start the CPU INT8 candidates (recorded probe, probe now, or fixed order)."""
    cands = [c for c in cpu_int8_candidates(walk.manifest) if c.spec not in walk.tried]
    if not cands:
        return None
    order, rule = _recorded_ranking(walk.manifest, cands, walk.notes) if len(cands) > 1 else (None, "")
    if order is None and len(cands) > 1 and probe_enabled(probe):
        figures, best, runner = probe_in_process(walk.root, walk.manifest, cands, walk.threads, **walk.options)
        for f in figures:
            walk.tried.add(f.spec)
            if f.error:
                walk.notes.append(f"skipped {f.spec}: failed in the probe ({f.error})")
        if best is not None and runner is not None:
            return best, runner, [f"picked by auto: fastest in a probe at load: {describe_figures(figures)}",
                                  *walk.notes]
        return None
    if order is None:
        why = "only one CPU INT8 candidate" if len(cands) == 1 else "the probe is off: probe=False or RESNET_DEPLOY_AUTO_PROBE=0"
        order, rule = cands, f"{FIXED} ({why})"
    for cand in order:
        runner = walk.start(cand)
        if runner is not None:
            return cand, runner, [f"picked by auto: {rule}", *walk.notes]
    return None


def _recorded_ranking(
    manifest: Manifest, cands: list[Candidate], notes: list[str]
) -> tuple[list[Candidate] | None, str]:
    """The candidates in the recorded probe's order, when that probe fits this CPU and covers them all."""
    sel = manifest.selection
    if sel is None or sel.strategy != PROBE_STRATEGY:
        notes.append("no probe recorded in the manifest for the CPU INT8 candidates")
        return None, ""
    if not same_cpu(sel.host):
        notes.append(f"the recorded probe was measured on {describe_signature(sel.host)}, this is "
                     f"{describe_signature(cpu_signature())}")
        return None, ""
    missing = [c.spec for c in cands if c.spec not in sel.metrics]
    if missing:
        notes.append(f"the recorded probe did not time {', '.join(missing)}")
        return None, ""
    timed = sorted((c for c in cands if sel.metrics.get(c.spec) is not None), key=lambda c: sel.metrics[c.spec])  # type: ignore[arg-type,return-value]
    when = f" at {sel.created_at}" if sel.created_at else ""
    return timed, f"the probe recorded on this CPU{when}: {describe_figures(figures_from(sel))}"


def _bench_selection(manifest: Manifest, notes: list[str]) -> tuple[str | None, str]:
    """A ``bench --select`` choice that may be followed here, with the reason to show."""
    sel = manifest.selection
    if sel is None or sel.strategy == PROBE_STRATEGY:
        return None, ""
    spec = selection_spec(manifest)
    if spec is None:
        return None, ""
    if sel.host is None:
        return spec, ("the benchmark's selection in the manifest (recorded without a CPU signature, so possibly "
                      "on another machine; re-run bench --select here to refresh it)")
    if not same_cpu(sel.host):
        notes.append(f"manifest selection '{spec}' was measured on {describe_signature(sel.host)}, not on this "
                     f"{describe_signature(cpu_signature())}; not followed")
        return None, ""
    return spec, "the benchmark's selection in the manifest (measured on this CPU)"


def selection_spec(manifest: Manifest) -> str | None:
    """The recorded choice as a spec, or None (absent or malformed)."""
    sel = manifest.selection
    if sel is None or not sel.backend:
        return None
    spec = sel.backend
    if ":" not in spec and sel.file:
        entry = next((e for e in manifest.files if e.path == sel.file), None)
        if entry is not None:
            spec = f"{spec}:{entry.key}"
    try:
        parse_spec(spec)
    except ResNetDeployError:
        return None
    return spec

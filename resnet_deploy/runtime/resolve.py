"""Backend specs -> runnable (backend, file) pairs of an artifact.

A backend spec is ``backend`` or ``backend:key`` (key = ``FileEntry.key``: fp32,
fp16, int8-cpu, int8-tensorrt, int8-openvino; raw-pixel twins add ``-raw``, e.g. int8-cpu-raw, and
are listed only when a spec names them, so ``bench``/``auto`` rows stay float-input). ``candidates`` lists every pair the artifact
could run, with the reason when one cannot run here (backend not installed, no
device, no matching file), so reports can show skipped rows
instead of silently dropping them. Only light imports happen here: probing a
backend imports its runner module, never the backend library's heavy parts
beyond what ``probe()`` needs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from resnet_deploy.artifact import FileEntry, Manifest
from resnet_deploy.errors import BackendUnavailableError, ResNetDeployError
from resnet_deploy.runtime.base import Runner
from resnet_deploy.runtime.registry import BACKENDS, runner_class

NO_FILE = "no matching file in the artifact"
RAW_SUFFIX = "-raw"  # keys of raw-pixel files (uint8 NHWC input): listed only when a spec names one
_GPU_KEY_ORDER = ("int8-tensorrt", "fp16", "fp32", "int8-cpu")


@dataclass(frozen=True)
class Candidate:
    """One (backend, file) pair; ``skip_reason`` says why it cannot run here (None = it can)."""

    spec: str
    backend: str
    runner_cls: type[Runner]
    entry: FileEntry | None
    skip_reason: str | None

    @property
    def runnable(self) -> bool:
        return self.skip_reason is None

    @property
    def key(self) -> str | None:
        return self.entry.key if self.entry is not None else None

    def describe(self) -> str:
        """``spec (path)`` or ``spec: skipped (reason)`` for explanations and reports."""
        where = f" ({self.entry.path})" if self.entry is not None else ""
        if self.skip_reason:
            return f"{self.spec}{where}: skipped ({self.skip_reason})"
        return f"{self.spec}{where}"


def parse_spec(spec: str) -> tuple[str, str | None]:
    """'onnxruntime:int8-cpu' -> ('onnxruntime', 'int8-cpu'); 'torch' -> ('torch', None)."""
    text = str(spec).strip()
    backend, _, key = text.partition(":")
    backend, key = backend.strip(), key.strip()
    if not backend:
        raise ResNetDeployError(
            f"backend spec '{spec}' is empty; use 'backend' or 'backend:key', e.g. onnxruntime:fp32"
        )
    if backend not in BACKENDS:
        raise ResNetDeployError(
            f"unknown backend '{backend}'; choose one of: {', '.join(BACKENDS)}"
        )
    return backend, (key or None)


def _probe(cls: type[Runner]) -> str | None:
    try:
        return cls.probe()
    except Exception as exc:  # a crashing probe means "cannot run here"
        return f"probe failed: {type(exc).__name__}: {exc}".splitlines()[0][:200]


def key_order(cls: type[Runner]) -> tuple[str, ...]:
    """The runner's file preference; GPU runners that do not say get the GPU default."""
    if cls.device != "cpu" and cls.preferred_keys is Runner.preferred_keys:
        return _GPU_KEY_ORDER
    return cls.preferred_keys


def _sorted_entries(cls: type[Runner], manifest: Manifest, raw: bool = False) -> list[FileEntry]:
    """Files ``cls`` can run, preferred first; raw-pixel files only with ``raw`` (asked for by key)."""
    order = key_order(cls)
    accepted = [e for e in manifest.files if cls.accepts(e) and (raw or not e.raw)]

    def rank(e: FileEntry) -> int:
        return order.index(e.key) if e.key in order else len(order)

    return sorted(accepted, key=rank)  # stable: equal keys keep manifest order


def _backend_candidates(manifest: Manifest, backend: str, raw: bool = False) -> list[Candidate]:
    cls = runner_class(backend)
    entries = _sorted_entries(cls, manifest, raw)
    if not entries:
        want = "/".join(cls.formats) or "?"
        return [Candidate(backend, backend, cls, None, f"{NO_FILE} (needs {want})")]
    probe_reason = _probe(cls)
    out = []
    for e in entries:
        reason = probe_reason
        if reason is None:
            try:
                reason = cls.entry_reason(manifest, e)
            except Exception as exc:  # a crashing file check means "cannot run here"
                reason = f"file check failed: {type(exc).__name__}: {exc}".splitlines()[0][:200]
        out.append(Candidate(f"{backend}:{e.key}", backend, cls, e, reason))
    return out


def candidates(manifest: Manifest, backends: list[str] | None = None) -> list[Candidate]:
    """Every (backend, file) pair of the artifact in registry order, skipped ones included.

    ``backends`` restricts the list to those names (or specs: a ``backend:key``
    keeps only that file); unknown names raise a one-line error.
    """
    wanted: dict[str, set[str | None]] = {}
    for spec in backends or list(BACKENDS):
        backend, key = parse_spec(spec)
        wanted.setdefault(backend, set()).add(key)
    out: list[Candidate] = []
    for backend in BACKENDS:
        if backend not in wanted:
            continue
        keys = wanted[backend]
        raw = any(k is not None and k.endswith(RAW_SUFFIX) for k in keys)
        for c in _backend_candidates(manifest, backend, raw):
            if None in keys or c.key in keys or c.entry is None:
                out.append(c)
    return out


def resolve(manifest: Manifest, spec: str) -> Candidate:
    """The runnable candidate for one spec; ``backend`` alone picks its preferred file.

    Raises a one-line ResNetDeployError for an unknown backend or a key the
    artifact lacks (listing what exists), and BackendUnavailableError when the
    pair exists but cannot run here.
    """
    if str(spec).strip() == "auto":
        raise ResNetDeployError(
            "backend 'auto' is chosen by resnet_deploy.runtime.load(); pass a backend or backend:key here"
        )
    backend, key = parse_spec(spec)
    found = _backend_candidates(manifest, backend, raw=key is not None and key.endswith(RAW_SUFFIX))
    if found[0].entry is None:
        raise ResNetDeployError(
            f"artifact has no file that backend '{backend}' can run ({found[0].skip_reason}); "
            f"it has: {_file_list(manifest)}"
        )
    if key is not None:
        found = [c for c in found if c.key == key]
        if not found:
            keys = sorted({c.key for c in _backend_candidates(manifest, backend, raw=True) if c.key})
            raise ResNetDeployError(
                f"artifact has no '{key}' file for backend '{backend}'; it has: {', '.join(keys)} "
                f"(use {backend}:<key>)"
            )
    for c in found:
        if c.runnable:
            return c
    c = found[0]
    raise BackendUnavailableError(
        f"{c.spec} cannot run here: {c.skip_reason}; runnable here: {_runnable_list(manifest)}"
    )


def make_runner(
    artifact_dir: str | os.PathLike[str],
    manifest: Manifest,
    candidate: Candidate,
    threads: int | None = None,
    **options: object,
) -> Runner:
    """A (not yet activated) runner for a runnable candidate."""
    if candidate.entry is None or not candidate.runnable:
        raise BackendUnavailableError(f"{candidate.describe()} cannot be run; choose another backend from the artifact")
    return candidate.runner_cls(artifact_dir, manifest, candidate.entry, threads=threads, **options)


def twin(manifest: Manifest, cand: Candidate, raw: bool) -> Candidate | None:
    """The same backend's candidate for the raw-pixel (``raw``) or float-input twin of ``cand``'s file."""
    key = cand.key or ""
    want = key + RAW_SUFFIX if raw else key.removesuffix(RAW_SUFFIX)
    if want == key:
        return None
    found = [c for c in _backend_candidates(manifest, cand.backend, raw=True) if c.key == want]
    return found[0] if found else None


def pair_raw(
    root: str | os.PathLike[str], manifest: Manifest, cand: Candidate, runner: Runner, raw: bool,
    threads: int | None, options: dict[str, Any],
) -> tuple[Candidate, Runner, Candidate | None, Runner | None]:
    """(float candidate, its runner, raw twin, its runner): the twin runs images, the float one batches.

    A raw spec asked for by name is the image runner; its float twin (if any) is made
    but not started. Otherwise the chosen float file's raw twin is started and the float
    runner is stopped until a float batch needs it (one model in memory for image-only services)."""
    if runner.entry.raw:
        flt = twin(manifest, cand, raw=False)
        if flt is None or not flt.runnable:
            return cand, runner, cand, runner
        return flt, make_runner(root, manifest, flt, threads=threads, **options), cand, runner
    raw_cand = twin(manifest, cand, raw=True) if raw else None
    if raw_cand is None or not raw_cand.runnable:
        return cand, runner, None, None
    raw_runner = make_runner(root, manifest, raw_cand, threads=threads, **options)
    raw_runner.activate()
    runner.deactivate()
    return cand, runner, raw_cand, raw_runner


def _file_list(manifest: Manifest) -> str:
    models = [f"{e.path} [{e.format}, {e.key}]" for e in manifest.files if e.format not in ("json", "labels")]
    return ", ".join(models) or "no model files"


def _runnable_list(manifest: Manifest) -> str:
    specs = [c.spec for c in candidates(manifest) if c.runnable]
    return ", ".join(specs) or "nothing (install onnxruntime)"

"""``load(artifact) -> Predictor``: images in, top-k labels out, on the best backend here.

``backend="auto"`` uses the benchmark's recorded choice (``manifest.selection``)
when it can run on this machine, otherwise the first runnable entry of
``AUTO_ORDER``; a backend that fails to start is noted and the next one tried.
``Predictor.explain()`` tells what was picked and why, skipped ones included.
One Predictor may be shared by many threads: runners that are not thread-safe
are called under a lock.
"""

from __future__ import annotations

import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from resnet_deploy.artifact import Manifest, Preprocessing, load_manifest
from resnet_deploy.checks import check_int
from resnet_deploy.errors import BackendUnavailableError, MissingDependencyError, ResNetDeployError
from resnet_deploy.metrics import softmax, topk_indices
from resnet_deploy.preprocess import max_pixels as preprocess_max_pixels
from resnet_deploy.runtime.base import Runner
from resnet_deploy.runtime.resolve import Candidate, candidates, make_runner, parse_spec, resolve
from resnet_deploy.runtime.validate import (
    as_items,
    check_batch,
    check_limit,
    check_top_k,
    describe,
    expand_image_paths,
    to_batch,
)

# The fixed preference of backend="auto" when the manifest has no usable selection:
# a TensorRT engine on a compatible GPU, ORT's GPU providers (their probes require
# a real GPU), then CPU INT8 (ORT U8S8, OpenVINO), CPU FP32, and PyTorch last.
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
DEFAULT_MAX_BATCH = 64
_DEVICES = {"cpu": "cpu", "cuda": "cuda", "gpu": "cuda"}


@dataclass
class Prediction:
    """Top-k result for one image; ``to_dict()`` is JSON-ready."""

    indices: list[int]
    probabilities: list[float]
    labels: list[str] | None = None
    source: str | None = None  # the file path when the input was one

    @property
    def top1(self) -> int:
        return self.indices[0]

    @property
    def label(self) -> str | None:
        return self.labels[0] if self.labels else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Predictor:
    """A loaded artifact on one activated runner. Use ``load()`` to make one."""

    def __init__(
        self,
        artifact_dir: Path,
        manifest: Manifest,
        runner: Runner,
        candidate: Candidate,
        why: list[str],
        max_batch: int | None = None,
        max_items: int | None = None,
        max_pixels: int | None = None,
    ) -> None:
        self.artifact_dir = artifact_dir
        self.manifest = manifest
        self.runner = runner
        self.candidate = candidate
        self.why = why
        limits = [v for v in (max_batch, runner.max_batch) if v]
        self.max_batch = min(limits) if limits else DEFAULT_MAX_BATCH
        self.max_items = max_items
        # Largest decoded image accepted (None: $RESNET_DEPLOY_MAX_PIXELS or preprocess.DEFAULT_MAX_PIXELS).
        self.max_pixels = None if max_pixels is None else preprocess_max_pixels(max_pixels)
        self._lock = None if runner.thread_safe else threading.Lock()
        self.labels = _read_labels(artifact_dir, manifest)

    # -- facts -------------------------------------------------------------
    @property
    def backend(self) -> str:
        """The spec that runs, e.g. ``onnxruntime:int8-cpu``."""
        return self.candidate.spec

    @property
    def model_file(self) -> str:
        return self.runner.entry.path

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.manifest.input.shape)

    @property
    def preprocessing(self) -> Preprocessing:
        return self.manifest.preprocessing

    @property
    def num_classes(self) -> int:
        return int(self.manifest.model.num_classes)

    def explain(self) -> str:
        """Multi-line: what runs, and why (including what was skipped and the reason)."""
        return "\n".join([f"backend: {self.backend} ({self.model_file})", *self.why])

    # -- inference -----------------------------------------------------------
    def infer(self, x: np.ndarray) -> np.ndarray:
        """Checked float32 NCHW batch -> logits [N, num_classes], in chunks of ``max_batch``."""
        check_batch(x, self.manifest.input)
        check_limit(len(x), self.max_items)
        outs = [self._run(x[i : i + self.max_batch]) for i in range(0, len(x), self.max_batch)]
        return outs[0] if len(outs) == 1 else np.concatenate(outs, axis=0)

    def predict_batch(self, x: np.ndarray, top_k: int = 5) -> list[Prediction]:
        """Preprocessed float32 NCHW batch -> one Prediction per row."""
        k = check_top_k(top_k, self.num_classes)
        return self._decode(self.infer(x), k, [None] * len(x))

    def predict(self, images: Any, top_k: int = 5) -> list[Prediction]:
        """Image(s) of any accepted kind (see ``runtime.validate``) -> one Prediction per image."""
        k = check_top_k(top_k, self.num_classes)
        items = as_items(images)
        check_limit(len(items), self.max_items)
        x = to_batch(items, self.manifest.input, self.preprocessing, self.max_pixels)
        sources: list[str | None] = []
        for item in items:
            n = len(item) if isinstance(item, np.ndarray) and item.ndim == 4 else 1
            sources += [describe(item)] * n
        return self._decode(self.infer(x), k, sources)

    def _run(self, chunk: np.ndarray) -> np.ndarray:
        chunk = np.ascontiguousarray(chunk)
        if self._lock is None:
            out = self.runner.infer(chunk)
        else:
            with self._lock:
                out = self.runner.infer(chunk)
        return np.asarray(out, dtype=np.float32)

    def _decode(self, logits: np.ndarray, k: int, sources: list[str | None]) -> list[Prediction]:
        probs = softmax(logits)
        top = topk_indices(probs, k)
        out = []
        for row, idx, src in zip(probs, top, sources, strict=True):
            labels = [self.labels[i] for i in idx] if self.labels else None
            out.append(Prediction([int(i) for i in idx], [float(row[i]) for i in idx], labels, src))
        return out

    # -- lifetime --------------------------------------------------------------
    def close(self) -> None:
        self.runner.deactivate()

    def __enter__(self) -> Predictor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Predictor {self.backend} {self.artifact_dir}>"


def load(
    artifact_dir: str | os.PathLike[str],
    backend: str = "auto",
    device: str | None = None,
    threads: int | None = None,
    max_batch: int | None = None,
    *,
    max_items: int | None = None,
    max_pixels: int | None = None,
    **options: Any,
) -> Predictor:
    """Verify the artifact (every sha256), pick and activate a backend, return a Predictor.

    ``backend``: "auto" or a spec ("onnxruntime", "openvino:int8-cpu", ...).
    ``device``: None (any), "cpu" or "cuda"/"gpu" restricts the choice.
    ``max_batch``: largest chunk sent to the backend at once; ``max_items``:
    refuse requests with more images than this; ``max_pixels``: refuse decoded
    images larger than this (default $RESNET_DEPLOY_MAX_PIXELS or 50 MP). Extra
    ``options`` go to the runner.
    """
    for name, value in (("threads", threads), ("max_batch", max_batch), ("max_items", max_items)):
        check_int(value, name, allow_none=True, hint="pass e.g. 4, or None for the default")
    dev = _device(device)
    root = Path(artifact_dir)
    manifest = load_manifest(root)
    if max_batch and "batch" not in options:
        # GPU runners build their shape profile from (MIN, OPT, MAX); CPU runners ignore it
        options["batch"] = (1, max_batch, max_batch)
    if str(backend).strip() == "auto":
        cand, runner, why = _select_auto(root, manifest, dev, threads, options)
    else:
        cand = resolve(manifest, backend)
        _check_device(cand, dev)
        runner = _start(root, manifest, cand, threads, options)
        why = [f"requested '{backend}'"]
    return Predictor(
        root, manifest, runner, cand, why, max_batch=max_batch, max_items=max_items, max_pixels=max_pixels
    )


def _device(device: str | None) -> str | None:
    if device is None:
        return None
    key = str(device).strip().lower().split(":")[0]
    if key not in _DEVICES:
        raise ResNetDeployError(f"unknown device '{device}'; use cpu or cuda (or leave it unset)")
    return _DEVICES[key]


def _check_device(cand: Candidate, dev: str | None) -> None:
    if dev is not None and cand.runner_cls is not None and cand.runner_cls.device != dev:
        raise ResNetDeployError(
            f"backend '{cand.backend}' runs on {cand.runner_cls.device}, not on the requested device {dev}; "
            "choose a backend for that device, or leave the device unset"
        )


def _start(root: Path, manifest: Manifest, cand: Candidate, threads: int | None, options: dict) -> Runner:
    runner = make_runner(root, manifest, cand, threads=threads, **options)
    runner.activate()
    return runner


def _select_auto(
    root: Path, manifest: Manifest, dev: str | None, threads: int | None, options: dict
) -> tuple[Candidate, Runner, list[str]]:
    """Try the manifest's selection, then AUTO_ORDER; return the first that activates."""
    notes: list[str] = []
    tried: set[str] = set()
    sel_spec = _selection_spec(manifest)
    plan: list[tuple[str, str]] = []
    if sel_spec:
        plan.append((sel_spec, "the benchmark's selection in the manifest"))
    plan += [(spec, "first runnable in the fixed preference order") for spec in AUTO_ORDER]
    for spec, reason in plan:
        backend, key = parse_spec(spec)
        for cand in candidates(manifest, [spec]):
            if cand.spec in tried or (key is not None and cand.key != key):
                continue
            tried.add(cand.spec)
            if cand.skip_reason:
                if cand.entry is not None or key is None:  # "no file" only matters for whole backends
                    notes.append(f"skipped {cand.spec}: {cand.skip_reason}")
                continue
            if dev is not None and cand.runner_cls is not None and cand.runner_cls.device != dev:
                notes.append(f"skipped {cand.spec}: runs on {cand.runner_cls.device}, device={dev} requested")
                continue
            try:
                runner = _start(root, manifest, cand, threads, options)
            except (BackendUnavailableError, MissingDependencyError) as exc:
                notes.append(f"skipped {cand.spec}: failed to start ({exc})")
                continue
            if sel_spec and spec != sel_spec:
                notes.insert(0, f"manifest selection '{sel_spec}' is not usable here")
            return cand, runner, [f"picked by auto: {reason}", *notes]
    raise BackendUnavailableError(
        "no backend can run this artifact here (" + "; ".join(notes[:6]) + "); install onnxruntime"
    )


def _selection_spec(manifest: Manifest) -> str | None:
    """The benchmark's recorded choice as a spec, or None (absent or malformed)."""
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


def _read_labels(root: Path, manifest: Manifest) -> list[str] | None:
    """Class names from the manifest, else from the artifact's labels file; None if absent/mismatched."""
    n = int(manifest.model.num_classes)
    labels = manifest.model.labels
    if not labels:
        entry = next((e for e in manifest.files if e.format == "labels"), None)
        if entry is not None:
            text = (root / entry.path).read_text(encoding="utf-8")
            labels = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return list(labels) if labels and len(labels) == n else None


@dataclass
class FilePredictions:
    """What ``predict_files`` returns: the backend used, why, and one Prediction per file."""

    backend: str
    why: list[str]
    predictions: list[Prediction]

    def to_list(self) -> list[dict[str, Any]]:
        rows = []
        for p in self.predictions:
            row = p.to_dict()
            rows.append({"file": row.pop("source"), "backend": self.backend, **row})
        return rows


def predict_files(
    artifact_dir: str | os.PathLike[str],
    paths: list[str | os.PathLike[str]],
    top_k: int = 5,
    backend: str = "auto",
    threads: int | None = None,
) -> FilePredictions:
    """Load the artifact and classify image files / folders (what ``resnet-deploy predict`` runs)."""
    files = expand_image_paths(paths)
    with load(artifact_dir, backend=backend, threads=threads) as pred:
        check_top_k(top_k, pred.num_classes)
        results: list[Prediction] = []
        for i in range(0, len(files), pred.max_batch):  # bounded memory for big folders
            results += pred.predict(files[i : i + pred.max_batch], top_k=top_k)
        return FilePredictions(pred.backend, pred.explain().splitlines(), results)

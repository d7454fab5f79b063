"""``load(artifact) -> Predictor``: images in, top-k labels out, on the best backend here.

``backend="auto"`` follows the rules of ``runtime.auto``: the benchmark's recorded
choice when it was measured on this CPU, GPU backends, then the fastest CPU INT8
candidate (a probe recorded at export on this CPU, else a short probe at load),
then the rest of ``AUTO_ORDER``; a backend that fails to start is noted and the
next one tried. ``Predictor.explain()`` tells what was picked, by which rule and
with which figures, skipped ones included.
One Predictor may be shared by many threads: runners that are not thread-safe
are called under a lock. ``predict`` on encoded images decodes JPEGs at a
reduced scale on a small thread pool, overlapped with inference
(``runtime.pipeline``); ``load(..., exact_decode=True)`` decodes every pixel.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from resnet_deploy.artifact import Manifest, Preprocessing, load_manifest
from resnet_deploy.checks import check_int
from resnet_deploy.errors import (
    ConfigError,
    InvalidInputError,
    ResNetDeployError,
)
from resnet_deploy.metrics import softmax, topk_indices
from resnet_deploy.preprocess import max_pixels as preprocess_max_pixels
from resnet_deploy.preprocess import normalize
from resnet_deploy.runtime.auto import AUTO_ORDER, select_auto
from resnet_deploy.runtime.base import Runner
from resnet_deploy.runtime.pipeline import Convert, DecodePool, run_pipeline
from resnet_deploy.runtime.pipeline import decode_threads as checked_decode_threads
from resnet_deploy.runtime.resolve import Candidate, make_runner, pair_raw, resolve
from resnet_deploy.runtime.validate import (
    as_items,
    check_batch,
    check_limit,
    check_pixels,
    check_top_k,
    describe,
    is_image_item,
    item_to_chw,
    item_to_pixels,
)

__all__ = ["AUTO_ORDER", "Prediction", "Predictor", "load"]

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
        raw_runner: Runner | None = None,
        raw_candidate: Candidate | None = None,
        exact_decode: bool = False,
        decode_threads: int | None = None,
    ) -> None:
        self.artifact_dir = artifact_dir
        self.manifest = manifest
        self.runner = runner
        self.candidate = candidate
        self.why = why
        # Images go to the raw-pixel twin (uint8 NHWC, preprocessing folded in) when there is one;
        # float NCHW batches to ``runner``, which may start lazily on its first call.
        self.raw_runner, self.raw_candidate = raw_runner, raw_candidate
        self._start_lock = threading.Lock()
        limits = [v for v in (max_batch, runner.max_batch, raw_runner.max_batch if raw_runner else None) if v]
        self.max_batch = min(limits) if limits else DEFAULT_MAX_BATCH
        self.max_items = max_items
        # Largest decoded image accepted (None: $RESNET_DEPLOY_MAX_PIXELS or preprocess.DEFAULT_MAX_PIXELS).
        self.max_pixels = None if max_pixels is None else preprocess_max_pixels(max_pixels)
        # False: JPEGs decoded at the smallest 1/2^k scale that keeps the resize size (fast, close);
        # True: every pixel decoded, bit-equal with calibration's preprocessing.
        self.exact_decode = exact_decode
        self._pool = DecodePool(decode_threads)
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
    def raw_backend(self) -> str | None:
        """The spec that runs images, e.g. ``onnxruntime:int8-cpu-raw``; None: images are normalised here."""
        return self.raw_candidate.spec if self.raw_candidate is not None else None

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
        lines = [f"backend: {self.backend} ({self.model_file})"]
        if self.raw_runner is not None:
            lines.append(f"images: {self.raw_backend} ({self.raw_runner.entry.path}, uint8 NHWC, preprocessing folded in)")
        return "\n".join([*lines, *self.why])

    # -- inference -----------------------------------------------------------
    def infer(self, x: np.ndarray) -> np.ndarray:
        """Checked float32 NCHW batch -> logits [N, num_classes], in chunks of ``max_batch``."""
        if self.runner.entry.raw:
            raise InvalidInputError(
                f"this predictor runs only the raw-pixel file {self.runner.entry.path}; pass images to predict(), "
                "or load a backend with a float-input file"
            )
        check_batch(x, self.manifest.input)
        check_limit(len(x), self.max_items)
        return self._chunked(self.runner, x)

    def infer_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 [N, S, S, 3] RGB centre crops -> logits, on the raw-pixel twin (normalised here without one)."""
        check_pixels(pixels, self.manifest.input)
        check_limit(len(pixels), self.max_items)
        if self.raw_runner is None:
            return self.infer(np.stack([normalize(p, self.preprocessing) for p in pixels]))
        return self._chunked(self.raw_runner, pixels)

    def predict_batch(self, x: np.ndarray, top_k: int = 5) -> list[Prediction]:
        """Preprocessed float32 NCHW batch -> one Prediction per row."""
        k = check_top_k(top_k, self.num_classes)
        return self._decode(self.infer(x), k, [None] * len(x))

    def predict(self, images: Any, top_k: int = 5) -> list[Prediction]:
        """Image(s) of any accepted kind (see ``runtime.validate``) -> one Prediction per image.

        Several images are decoded on the decode pool while the previous chunk of
        ``max_batch`` is inferred; results keep the input order.
        """
        k = check_top_k(top_k, self.num_classes)
        items = as_items(images)
        sources: list[str | None] = []
        for item in items:
            n = len(item) if isinstance(item, np.ndarray) and item.ndim == 4 else 1
            sources += [describe(item)] * n
        return self._decode(self._pipelined(items, len(sources)), k, sources)

    def infer_images(self, images: Any) -> np.ndarray:
        """Image(s) of any accepted kind -> logits [N, num_classes], through ``predict``'s pipeline."""
        items = as_items(images)
        rows = sum(len(i) if isinstance(i, np.ndarray) and i.ndim == 4 else 1 for i in items)
        return self._pipelined(items, rows)

    def _pipelined(self, items: list[Any], rows: int) -> np.ndarray:
        check_limit(len(items), self.max_items)
        check_limit(rows, self.max_items)
        raw = self.raw_runner is not None and all(is_image_item(i) for i in items)  # the one raw/float choice
        infer = functools.partial(self._chunked, self.raw_runner) if raw else self.infer
        return run_pipeline(items, self.item_converter(raw), infer, self.max_batch, self._pool)

    def item_converter(self, raw: bool = False) -> Convert:
        """The one per-item conversion ``predict`` uses: item -> model input rows [n, ...].

        ``raw``: uint8 NHWC centre crops for the raw-pixel twin; otherwise float32 NCHW.
        """
        convert = item_to_pixels if raw else item_to_chw
        return functools.partial(
            convert, spec=self.manifest.input, pre=self.preprocessing,
            max_pixels=self.max_pixels, fast=not self.exact_decode,
        )

    @property
    def decode_threads(self) -> int:
        """Threads that decode and preprocess images for ``predict`` (0: the calling thread)."""
        return self._pool.threads

    @property
    def decode_pool(self) -> DecodePool:
        """The decode pool (started on the first multi-image request, stopped by ``close``)."""
        return self._pool

    def _chunked(self, runner: Runner, x: np.ndarray) -> np.ndarray:
        outs = [self._run(runner, x[i : i + self.max_batch]) for i in range(0, len(x), self.max_batch)]
        return outs[0] if len(outs) == 1 else np.concatenate(outs, axis=0)

    def _run(self, runner: Runner, chunk: np.ndarray) -> np.ndarray:
        chunk = np.ascontiguousarray(chunk)
        if not runner.is_active:  # the float companion of a raw twin starts on first use
            with self._start_lock:
                runner.activate()
        if self._lock is None:
            out = runner.infer(chunk)
        else:
            with self._lock:
                out = runner.infer(chunk)
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
    def prepare(self, batch_sizes: Sequence[int] | None = None) -> None:
        """Build the started backends' per-batch-size state (OpenVINO's compiled forms) for these sizes,
        default 1..``max_batch``, now rather than on each size's first request: a service calls it
        before it reports ready."""
        sizes = list(range(1, self.max_batch + 1)) if batch_sizes is None else [int(b) for b in batch_sizes]
        for runner in (self.runner, self.raw_runner):
            if runner is not None and runner.is_active:
                runner.prepare(sizes)

    def close(self) -> None:
        """Stop the decode pool (queued decodes cancelled), then release the backend."""
        self._pool.close()
        self.runner.deactivate()
        if self.raw_runner is not None:
            self.raw_runner.deactivate()

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
    probe: bool | None = None,
    raw: bool = True,
    exact_decode: bool = False,
    decode_threads: int | None = None,
    **options: Any,
) -> Predictor:
    """Verify the artifact (every sha256), pick and activate a backend, return a Predictor.

    ``backend``: "auto" or a spec ("onnxruntime", "openvino:int8-cpu", ...).
    ``device``: None (any), "cpu" or "cuda"/"gpu" restricts the choice.
    ``max_batch``: largest chunk sent to the backend at once; ``max_items``:
    refuse requests with more images than this; ``max_pixels``: refuse decoded
    images larger than this (default $RESNET_DEPLOY_MAX_PIXELS or 50 MP).
    ``probe``: with ``backend="auto"``, may a short timed probe of the CPU INT8
    candidates run now when no recorded one fits this CPU (None: yes unless
    $RESNET_DEPLOY_AUTO_PROBE=0; False: the fixed order). ``raw``:
    send images to the chosen file's raw-pixel twin (``<key>-raw``: uint8 NHWC crops,
    preprocessing folded into the model) when the artifact has one; False always
    normalises here. ``exact_decode``: decode every JPEG pixel in ``predict`` (default:
    the reduced draft scale that still covers the resize size; top-1 agrees >= 99 %).
    ``decode_threads``: the decode pool's size (None: min(4, CPUs); 0: decode in
    the calling thread, no overlap). Extra ``options`` go to the runner.
    """
    for name, value in (("threads", threads), ("max_batch", max_batch), ("max_items", max_items)):
        check_int(value, name, allow_none=True, hint="pass e.g. 4, or None for the default")
    if probe is not None and not isinstance(probe, bool):
        raise ConfigError(f"probe must be True, False or None, got {probe!r}; pass probe=False to skip the probe")
    if not isinstance(exact_decode, bool):
        raise ConfigError(f"exact_decode must be True or False, got {exact_decode!r}; pass exact_decode=True or False")
    pool_threads = checked_decode_threads(decode_threads)  # refused before a backend starts
    dev = _device(device)
    root = Path(artifact_dir)
    manifest = load_manifest(root)
    if max_batch and "batch" not in options:
        # GPU runners build their shape profile from (MIN, OPT, MAX); CPU runners ignore it
        options["batch"] = (1, max_batch, max_batch)
    if str(backend).strip() == "auto":
        cand, runner, why = select_auto(root, manifest, dev, threads, options, probe)
    else:
        cand = resolve(manifest, backend)
        _check_device(cand, dev)
        runner = _start(root, manifest, cand, threads, options)
        why = [f"requested '{backend}'"]
    cand, runner, raw_cand, raw_runner = pair_raw(root, manifest, cand, runner, raw, threads, options)
    return Predictor(
        root, manifest, runner, cand, why, max_batch=max_batch, max_items=max_items, max_pixels=max_pixels,
        raw_runner=raw_runner, raw_candidate=raw_cand, exact_decode=exact_decode, decode_threads=pool_threads,
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

"""Decode + preprocess on a small thread pool, overlapped with inference of the previous chunk.

A service gets encoded images, and on a CPU host decoding a camera JPEG costs as
much as inferring it. Pillow releases the GIL while it decodes and resizes, so a
few threads decode in parallel, and while chunk i (``chunk_size`` items) is
inferred in the caller's thread, chunk i+1 is already being decoded. At most two
chunks are in flight, so memory stays bounded for long lists.

The per-item conversion is ONE callable (item -> array [n, ...]) and inference
another (batch -> logits), so the same pipeline feeds a float NCHW model or a
raw-pixel uint8 NHWC one: only the callables differ.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from resnet_deploy.checks import check_int
from resnet_deploy.errors import InvalidInputError, ResNetDeployError
from resnet_deploy.runtime.validate import convert_named

Convert = Callable[[Any], np.ndarray]  # one item -> [n, ...] (n > 1 only for batched arrays)
Infer = Callable[[np.ndarray], np.ndarray]  # a batch [N, ...] -> logits [N, classes]

MAX_DEFAULT_THREADS = 4


def decode_threads(threads: int | None) -> int:
    """A checked pool size: ``threads`` (0 = decode in the calling thread) or the default."""
    check_int(threads, "decode_threads", minimum=0, allow_none=True,
              hint="pass e.g. 4, 0 to decode in the calling thread, or None for min(4, CPUs)")
    return default_decode_threads() if threads is None else int(threads)


def default_decode_threads() -> int:
    """min(4, CPUs this process may use): more threads only fight the inference threads."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(MAX_DEFAULT_THREADS, cpus))


class DecodePool:
    """A lazily started thread pool for decoding; ``threads=0`` decodes in the caller's thread.

    Shared by every thread that calls the owning Predictor; ``close()`` cancels
    queued work, waits for running decodes and refuses new work.
    """

    def __init__(self, threads: int | None = None) -> None:
        self.threads = decode_threads(threads)
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def started(self) -> bool:
        """True once the worker threads exist (they start on the first multi-image request)."""
        return self._executor is not None

    def executor(self) -> ThreadPoolExecutor | None:
        """The pool (started on first use), or None when decoding runs in the caller's thread."""
        with self._lock:
            if self._closed:
                raise ResNetDeployError("this Predictor is closed; load() the artifact again to predict")
            if self.threads == 0:
                return None
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="resnet-deploy-decode")
            return self._executor

    def close(self) -> None:
        """Cancel queued decodes, wait for running ones, stop the threads (idempotent)."""
        with self._lock:
            self._closed = True
            ex, self._executor = self._executor, None
        if ex is not None:
            ex.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> DecodePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("started" if self._executor else "idle")
        return f"<DecodePool threads={self.threads} {state}>"


def run_pipeline(
    items: Sequence[Any], convert: Convert, infer: Infer, chunk_size: int, pool: DecodePool | None = None
) -> np.ndarray:
    """Convert and infer ``items`` in chunks; logits in input order, one row per converted row.

    With a pool, chunk i+1 is converted on the pool while chunk i is inferred
    here. A single item, or a pool of 0 threads, runs inline (no hand-off cost
    at batch 1). The first failing item (in input order) raises; queued
    conversions are then cancelled.
    """
    check_int(chunk_size, "chunk_size", hint="pass max_batch, e.g. 16")
    total = len(items)
    if total == 0:
        raise InvalidInputError("no images given; pass an image, a path, bytes or a list of them")
    executor = pool.executor() if pool is not None and total > 1 else None
    starts = range(0, total, chunk_size)
    if executor is None:
        outs = [infer(_gather_inline(items, s, min(s + chunk_size, total), convert)) for s in starts]
    else:
        outs = _run_overlapped(items, convert, infer, chunk_size, executor)
    return outs[0] if len(outs) == 1 else np.concatenate(outs, axis=0)


def _gather_inline(items: Sequence[Any], start: int, stop: int, convert: Convert) -> np.ndarray:
    parts = [convert_named(convert, items[i], i, len(items)) for i in range(start, stop)]
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)


def _run_overlapped(
    items: Sequence[Any], convert: Convert, infer: Infer, chunk_size: int, executor: ThreadPoolExecutor
) -> list[np.ndarray]:
    total = len(items)

    def submit(start: int) -> list[Future[np.ndarray]]:
        stop = min(start + chunk_size, total)
        try:
            return [executor.submit(convert_named, convert, items[i], i, total) for i in range(start, stop)]
        except RuntimeError:  # the pool was shut down by close() from another thread
            raise ResNetDeployError("this Predictor was closed while predicting; load() it again") from None

    outs: list[np.ndarray] = []
    pending = submit(0)
    ahead: list[Future[np.ndarray]] = []
    try:
        for start in range(0, total, chunk_size):
            ahead = submit(start + chunk_size) if start + chunk_size < total else []
            parts = [f.result() for f in pending]  # in input order: the first bad item raises first
            x = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)
            outs.append(infer(x))  # meanwhile the pool converts the next chunk
            pending = ahead
    except BaseException:
        for f in (*pending, *ahead):
            f.cancel()
        raise
    return outs

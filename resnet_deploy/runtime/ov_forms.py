"""The compiled forms one OpenVINO model runs in, chosen per batch size.

Why more than one: OpenVINO's CPU plugin runs a model compiled for a static
shape faster than the same model with a dynamic batch axis (ResNet-18/50 INT8 at
batch 1: 1-3 % on a 2-core AVX-512 VNNI host), and a batch that splits evenly runs
faster as n single-thread streams that each take 1/n of it than as one n-thread
request, because the threads no longer meet at a barrier after every layer
(ResNet-50 INT8, same host: 3-5 % at batch 2, 2-3 % at 4 to 16). So a model keeps:

- the dynamic-batch latency form: any batch, the fallback (compiled at start);
- static latency forms: batch 1 at start, other sizes only when one thread runs;
- streams forms (NUM_STREAMS = threads, one thread each, unpinned), static at the
  sub-batch, for a batch the streams split evenly; any other batch runs the
  dynamic latency form.

A form is compiled on its batch size's first call (0.2-0.7 s for ResNet-18/50;
each form shares the model's weights, a few MiB more) and kept, at most
``MAX_FORMS``; ``prepare(sizes)`` compiles them ahead so a service's first
requests do not wait. ``specialize=False`` keeps the single dynamic form.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_FORMS = 12  # static forms kept per model; further sizes run the dynamic form of their kind


@dataclass(frozen=True)
class FormKey:
    """One compiled form: streams or latency, at a static batch (None: dynamic)."""

    streams: bool
    batch: int | None


def with_batch(ov: Any, model: Any, batch: int | None) -> Any:
    """A copy of ``model`` whose first input has batch ``batch`` (None: dynamic)."""
    m = model.clone()
    port = m.inputs[0]
    shape = port.get_partial_shape()
    if shape.rank.is_static and len(shape) == 4:
        first = ov.Dimension(-1 if batch is None else int(batch))
        m.reshape({port.get_any_name(): ov.PartialShape([first] + [shape[i] for i in range(1, 4)])})
    return m


class Forms:
    """Compiles, keeps and runs the forms of one model (see the module docstring). Thread-safe."""

    def __init__(self, ov: Any, core: Any, model: Any, latency_config: dict[str, Any], specialize: bool) -> None:
        self._ov, self._core, self._model = ov, core, model
        self._latency_config = dict(latency_config)
        self.specialize = specialize
        self._lock = threading.Lock()
        self._compiled: dict[FormKey, Any] = {}
        self.dynamic = self._get(FormKey(False, None))
        self.threads = int(self.dynamic.get_property("INFERENCE_NUM_THREADS"))
        self._local = threading.local()
        if specialize:
            self._get(FormKey(False, 1))

    def config(self, key: FormKey) -> dict[str, Any]:
        """compile_model properties of a form: the runner's own, or n one-thread streams."""
        if not key.streams:
            return dict(self._latency_config)
        base = {k: v for k, v in self._latency_config.items() if k != "PERFORMANCE_HINT"}
        # unpinned: as fast here (ResNet-50 batch 2 and 16), and two processes that each pinned their
        # streams would pin them to the same first cores
        return {**base, "NUM_STREAMS": self.threads, "INFERENCE_NUM_THREADS": self.threads,
                "ENABLE_CPU_PINNING": False}

    def plan(self, batch: int) -> tuple[FormKey, int]:
        """(form, number of parts) for a batch of ``batch`` rows."""
        if not self.specialize:
            return FormKey(False, None), 1
        if self.threads >= 2 and batch % self.threads == 0:
            return FormKey(True, batch // self.threads), self.threads
        if self.threads >= 2 and batch > 1:
            # an uneven split leaves a stream idle while the larger part runs (serve, batches of
            # 1-8: 8-10 % fewer images/s than one request): the threads share it instead
            return FormKey(False, None), 1
        return FormKey(False, batch), 1

    def prepare(self, batch_sizes: list[int]) -> list[FormKey]:
        """Compile the forms these batch sizes use now, not on their first call; returns their keys."""
        keys = list(dict.fromkeys(self.plan(int(b))[0] for b in batch_sizes if int(b) >= 1))
        for key in keys:
            self._get(key)
        return keys

    def compiled_keys(self) -> list[FormKey]:
        with self._lock:
            return list(self._compiled)

    def _get(self, key: FormKey) -> Any:
        with self._lock:
            found = self._compiled.get(key)
            if found is not None:
                return found
            static = sum(1 for k in self._compiled if k.batch is not None)
            if key.batch is not None and static >= MAX_FORMS:
                key = FormKey(key.streams, None)
                found = self._compiled.get(key)
                if found is not None:
                    return found
            model = with_batch(self._ov, self._model, key.batch)
            compiled = self._compiled[key] = self._core.compile_model(model, "CPU", self.config(key))
            return compiled

    def _requests(self, key: FormKey, compiled: Any, n: int) -> list[Any]:
        """This thread's ``n`` infer requests on one form (created on first use, then reused)."""
        mine: dict[int, list[Any]] = getattr(self._local, "requests", None) or {}
        self._local.requests = mine
        reqs = mine.setdefault(id(compiled), [])
        while len(reqs) < n:
            reqs.append(compiled.create_infer_request())
        return reqs[:n]

    def infer(self, x: np.ndarray) -> np.ndarray:
        """Contiguous input batch -> float32 outputs (a copy: the requests' buffers are reused)."""
        key, parts = self.plan(len(x))
        compiled = self._get(key)
        reqs = self._requests(key, compiled, parts)
        if parts == 1:
            # zero-copy input: infer() is synchronous, so the array only has to live until it returns
            reqs[0].infer({0: x}, share_inputs=True)
            return np.array(reqs[0].get_output_tensor(0).data, dtype=np.float32, copy=True)
        chunks = np.array_split(x, parts)  # row views of a C-contiguous batch stay contiguous
        for req, chunk in zip(reqs, chunks, strict=True):
            req.start_async({0: chunk}, share_inputs=True)
        for req in reqs:
            req.wait()
        return np.concatenate([r.get_output_tensor(0).data for r in reqs]).astype(np.float32, copy=False)

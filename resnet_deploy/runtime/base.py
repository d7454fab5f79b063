"""The Runner protocol (after Polygraphy's BaseRunner): activate / infer / deactivate.

A runner executes one model file of an artifact on one backend. Heavy imports
(onnxruntime, openvino, torch, tensorrt) happen in ``activate()``, never at module
top, so listing or probing backends is cheap and a production service only pays
for the backend it uses.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from resnet_deploy.artifact import FileEntry, InputSpec, Manifest
from resnet_deploy.errors import ArtifactError


def first_line(exc: BaseException, limit: int = 160) -> str:
    """The most telling line of a backend's (often multi-line) exception message."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    pick = next((ln for ln in lines if "Check" in ln or "rror" in ln or "fail" in ln), None)
    text = pick or (lines[0] if lines else "")
    return f"{type(exc).__name__}: {text}"[:limit]


def env_switch(name: str, default: bool = True) -> bool:
    """An on/off environment switch: off for 0/false/no/off, on for anything else, ``default`` when unset."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() not in ("0", "false", "no", "off")


class Runner(ABC):
    """Runs one artifact file on one backend. Use as a context manager."""

    backend: ClassVar[str] = ""
    formats: ClassVar[tuple[str, ...]] = ()  # FileEntry.format values this backend can run
    device: ClassVar[str] = "cpu"
    # True when one activated runner may be called from many threads at once
    # (ONNX Runtime sessions); otherwise the Predictor serialises calls with a lock.
    thread_safe: ClassVar[bool] = False
    # File keys in the order this backend prefers them when a spec names no key:
    # CPU runtimes are fastest on U8S8 INT8; GPU runtimes on S8S8 INT8 / FP16.
    preferred_keys: ClassVar[tuple[str, ...]] = ("int8-cpu", "fp32", "int8-tensorrt", "fp16")

    def __init__(
        self,
        artifact_dir: str | os.PathLike[str],
        manifest: Manifest,
        entry: FileEntry,
        *,
        threads: int | None = None,
        **options: Any,
    ) -> None:
        self.artifact_dir = Path(artifact_dir)
        self.manifest = manifest
        self.entry = entry
        self.threads = threads
        self.options = options
        self.is_active = False

    @property
    def name(self) -> str:
        """Row name in reports, e.g. ``onnxruntime:int8-cpu``."""
        return f"{self.backend}:{self.entry.key}"

    @property
    def model_path(self) -> Path:
        return self.artifact_dir / self.entry.path

    @property
    def input_spec(self) -> InputSpec:
        """This file's input contract: its own (raw-pixel files) or the manifest's."""
        return self.entry.input or self.manifest.input

    @property
    def input_dtype(self) -> np.dtype:
        """What ``infer`` feeds: float32 NCHW, or uint8 NHWC for a raw-pixel file (fed as-is)."""
        return np.dtype(self.input_spec.dtype)

    def check_input(self, dtype: str, dims: list[int | None]) -> None:
        """Refuse a loaded file whose real input differs from the contract the manifest records for it.

        ``dims``: the file's input shape, None for dynamic axes. Checked for files
        with their own contract (raw-pixel files), where feeding the wrong layout would be silent."""
        if self.entry.input is None:
            return
        want = self.entry.input
        ok = np.dtype(dtype) == self.input_dtype and len(dims) == len(want.shape) and all(
            d is None or w < 0 or d == w for d, w in zip(dims, want.shape, strict=False)
        )
        if not ok:
            shown = [("N" if d is None else d) for d in dims]
            raise ArtifactError(
                f"artifact file '{self.entry.path}' takes {np.dtype(dtype)} {shown}, but the manifest records "
                f"{want.dtype} {want.layout} {want.shape} for it; re-export the artifact"
            )

    @classmethod
    def probe(cls) -> str | None:
        """Why this backend cannot run here (not installed, no device), or None if it can."""
        return None

    @classmethod
    def accepts(cls, entry: FileEntry) -> bool:
        """Whether this backend can run ``entry`` (by format; subclasses may narrow)."""
        return entry.format in cls.formats

    @classmethod
    def entry_reason(cls, manifest: Manifest, entry: FileEntry) -> str | None:
        """Why this particular file cannot run here (e.g. an engine built for another GPU)."""
        return None

    @property
    def max_batch(self) -> int | None:
        """Largest batch one ``infer`` call takes (an engine's profile max); None = any."""
        return None

    def activate(self) -> None:
        if not self.is_active:
            self._activate()
            self.is_active = True

    def deactivate(self) -> None:
        if self.is_active:
            self._deactivate()
            self.is_active = False

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """float32 NCHW batch (uint8 NHWC for a raw-pixel file) -> float32 logits [N, num_classes]."""
        if not self.is_active:
            self.activate()
        return self._infer(batch)

    def prepare(self, batch_sizes: Sequence[int]) -> None:
        """Build now whatever per-batch-size state the backend keeps (OpenVINO's compiled forms),
        so a service's first requests at those sizes do not pay for it. Default: nothing."""

    def synchronize(self) -> None:
        """Wait for queued device work (GPU runners override); timing calls this."""

    @abstractmethod
    def _activate(self) -> None: ...

    @abstractmethod
    def _infer(self, batch: np.ndarray) -> np.ndarray: ...

    def _deactivate(self) -> None:
        """Release sessions/contexts; default does nothing."""

    def __enter__(self) -> Runner:
        self.activate()
        return self

    def __exit__(self, *exc: object) -> None:
        self.deactivate()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.entry.path}>"

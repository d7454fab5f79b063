"""Time each backend alone: one fresh, spawned worker process per timed runner.

Why: a process that has loaded another runtime is not a clean place to time
one. ONNX Runtime's idle intra-op threads spin after each run and slow a
neighbouring session 3x on two cores; a process that ran export, calibration
or the NNCF peer's quantisation carries their threads and memory; and peak
memory is only a backend's own when the process holds nothing else. So the
parent only orchestrates: every timed unit (one backend's sweep, or one side
of one head-to-head round) runs in a child started with the *spawn* method
(never forked from a parent that has imported torch/ORT/OpenVINO), which
imports only what that runner needs, times it, reports and exits.

Each child also records which heavy runtimes were imported when its timing
began (``WorkerResult.modules``), so a report (and a test) can show that the
timed process held nothing else.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, TypeVar

from resnet_deploy.errors import ResNetDeployError

T = TypeVar("T")

# Top-level modules whose presence in a timed process we report.
HEAVY_MODULES = ("torch", "onnxruntime", "openvino", "nncf", "tensorrt", "tensorrt_rtx", "torch_tensorrt")


def heavy_modules_loaded() -> list[str]:
    """Which heavy runtimes this process has imported so far."""
    return [m for m in HEAVY_MODULES if m in sys.modules]


@dataclass
class WorkerResult:
    """What a child returns: its value plus the facts that prove it ran alone."""

    value: Any
    pid: int
    modules: list[str] = field(default_factory=list)  # heavy runtimes loaded in the child


class WorkerCrashed(ResNetDeployError):
    """The child died without answering (a segfault or an abort inside a runtime)."""

    exit_code = 1


def _child(fn: Callable[..., Any], args: tuple[Any, ...]) -> WorkerResult:
    value = fn(*args)
    return WorkerResult(value=value, pid=os.getpid(), modules=heavy_modules_loaded())


def in_fresh_process(fn: Callable[..., T], *args: Any) -> WorkerResult:
    """Run ``fn(*args)`` in a new spawned process and return its result (exceptions re-raised).

    ``fn`` must be importable by name (a module-level function) and its arguments
    and result picklable. A child that dies without answering raises ``WorkerCrashed``.
    """
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        try:
            return pool.submit(_child, fn, args).result()
        except BrokenProcessPool as exc:
            raise WorkerCrashed(
                f"the benchmark worker for {getattr(fn, '__name__', fn)} died without answering "
                "(a crash inside the runtime); run that backend alone with --backends to see its output"
            ) from exc

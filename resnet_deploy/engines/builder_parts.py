"""Small adapters around the TensorRT builder API, shared by TensorRT and TensorRT-RTX builds.

A logger that keeps errors for one-line messages, a progress monitor, the
strongly typed creation flag, readable parser errors, and the timing cache
(load if present, save atomically through ``atomic.write_bytes_atomic``),
a builder creation that fails in one line, the batch profile and the
workspace/optimisation-level knobs (``create_optimization_profile``,
``IOptimizationProfile.set_shape``, ``add_optimization_profile``,
``set_memory_pool_limit``, ``builder_optimization_level``). APIs: ``ILogger.log``,
``IProgressMonitor.phase_start/step_complete/phase_finish`` (NVIDIA/TensorRT
samples/python/simple_progress_monitor), ``NetworkDefinitionCreationFlag.
STRONGLY_TYPED``, ``OnnxParser.num_errors/get_error`` with ``ParserError.code/
desc/node/node_name/node_operator``, ``IBuilderConfig.create_timing_cache/
set_timing_cache/get_timing_cache`` and ``ITimingCache.serialize`` (TensorRT
Python API reference).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from resnet_deploy.atomic import write_bytes_atomic
from resnet_deploy.errors import BackendUnavailableError, ResNetDeployError
from resnet_deploy.runtime.trt_compat import null_object_message


def strongly_typed_flags(trt: ModuleType) -> int:
    """1 << STRONGLY_TYPED where the enum has it (10.x needs it; 11.x/RTX are always strongly typed)."""
    flag = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    return 0 if flag is None else 1 << int(flag)


def format_parser_errors(parser: Any, limit: int = 3) -> str:
    """Each parser error as 'node N (name, Op): CODE: desc', joined on one line."""
    out = []
    for i in range(int(parser.num_errors)):
        err = parser.get_error(i)
        where = _call(err, "node")
        name, op = _call(err, "node_name"), _call(err, "node_operator")
        code = str(_call(err, "code") or "").rsplit(".", 1)[-1]
        desc = " ".join(str(_call(err, "desc") or "").split())
        head = f"node {where}" if where not in (None, "", -1) else "graph"
        if name or op:
            head += f" ({', '.join(str(v) for v in (name, op) if v)})"
        out.append(f"{head}: {code}: {desc[:240]}")
    more = int(parser.num_errors) - limit
    text = "; ".join(out[:limit]) or "unknown parser error"
    return text + (f"; and {more} more" if more > 0 else "")


def _call(obj: Any, attr: str) -> Any:
    fn = getattr(obj, attr, None)
    try:
        return fn() if callable(fn) else fn
    except Exception:  # a missing accessor must not hide the real error
        return None


def parser_version(trt: ModuleType) -> str | None:
    fn = getattr(trt, "get_nv_onnx_parser_version", None)
    try:
        return str(fn()) if fn else None
    except Exception:  # a version string is informational only
        return None


def load_timing_cache(bconfig: Any, path: Path, notes: list[str]) -> Any:
    """Attach a timing cache to the builder config, seeded from ``path`` when it exists and matches."""
    data = path.read_bytes() if path.is_file() else b""
    cache = bconfig.create_timing_cache(data)
    if not bconfig.set_timing_cache(cache, False):
        notes.append(f"timing cache {path} does not match this GPU/TensorRT; starting a fresh one")
        cache = bconfig.create_timing_cache(b"")
        bconfig.set_timing_cache(cache, False)
    elif data:
        notes.append(f"reused timing cache {path} ({len(data)} bytes)")
    return cache


def save_timing_cache(bconfig: Any, cache: Any, path: Path, notes: list[str]) -> Path | None:
    """Write the (grown) timing cache back atomically: temp file in the same folder, then rename."""
    current = bconfig.get_timing_cache() or cache
    data = bytes(memoryview(current.serialize()))
    try:
        return write_bytes_atomic(path, data)
    except OSError as exc:
        notes.append(f"could not save timing cache {path} ({exc.strerror})")
        return None


def add_profile(builder: Any, bconfig: Any, logger: Any, name: str, shapes: dict[str, list[int]], label: str) -> None:
    """Add one optimisation profile (MIN/OPT/MAX shapes of input ``name``) or fail in one line."""
    profile = builder.create_optimization_profile()
    profile.set_shape(name, shapes["min"], shapes["opt"], shapes["max"])
    if bconfig.add_optimization_profile(profile) < 0:
        raise ResNetDeployError(
            f"{label} rejected the profile {shapes} ({logger.last_error()}); choose another batch profile MIN,OPT,MAX"
        )


def set_builder_knobs(trt: ModuleType, bconfig: Any, workspace_mib: int | None, opt_level: int | None) -> None:
    """Workspace limit (MiB) and builder optimisation level, when given (else TensorRT's defaults)."""
    if workspace_mib is not None:
        bconfig.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_mib) << 20)
    if opt_level is not None:
        bconfig.builder_optimization_level = int(opt_level)


def create_builder(trt: ModuleType, logger: Any, label: str) -> Any:
    """``trt.Builder(logger)``, with a failed creation (null builder) turned into one line.

    The binding wraps ``createInferBuilder`` with pybind11's ``py::init``, which raises
    TypeError ("factory function returned nullptr") rather than returning None, most
    often because the CUDA driver is missing or older than the library needs.
    """
    try:
        builder = trt.Builder(logger)
    except (TypeError, RuntimeError) as exc:
        raise BackendUnavailableError(null_object_message("builder", label, logger, exc)) from exc
    if builder is None:
        raise BackendUnavailableError(null_object_message("builder", label, logger, None))
    return builder


def make_logger(trt: ModuleType) -> Any:
    """An ILogger that keeps errors (for one-line messages) and drops the chatter."""

    class _Logger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.errors: list[str] = []

        def log(self, severity: Any, msg: str) -> None:
            if severity in (trt.ILogger.Severity.ERROR, trt.ILogger.Severity.INTERNAL_ERROR):
                self.errors.append(" ".join(str(msg).split()))

        def last_error(self) -> str:
            useful = [e for e in self.errors if "CUDA driver version is insufficient" not in e]
            return (useful or self.errors or ["no error was logged"])[-1][:300]

    return _Logger()


def make_monitor(trt: ModuleType, say: Callable[[str], None]) -> Any:
    """An IProgressMonitor reporting top-level builder phases through ``say`` (None if unsupported)."""
    base = getattr(trt, "IProgressMonitor", None)
    if base is None:
        return None

    class _Monitor(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            base.__init__(self)

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            if not parent_phase:
                say(f"  {phase_name}")

        def step_complete(self, phase_name: str, step: int) -> bool:
            return True  # never cancel the build

        def phase_finish(self, phase_name: str) -> None:
            return None

    return _Monitor()

"""Run an artifact's TensorRT or TensorRT-RTX engine (``engines/*.plan``) on the GPU.

Before a plan is deserialised, its build record in the manifest is checked
against the installed library and the GPU (``trt_compat``), and the file's
sha256 is verified: a mismatched or corrupt plan is refused with one line
instead of an obscure log message or a crash.

GPU memory and streams come from cuda-python's runtime bindings
(``cuda.bindings.runtime``; ``cuda.cudart`` on cuda-python < 12.6) -- the
mechanism NVIDIA's own TensorRT Python samples use (samples/python/
common_runtime.py: cudaMalloc, cudaMallocHost, cudaMemcpyAsync, cudaStream*).
It is a small wheel with no PyTorch, so a production service that runs engines
does not have to ship a multi-GB CUDA PyTorch just for buffers. Buffers are
allocated once for the profile's largest batch (device + pinned host), every
I/O tensor is bound by name once (``set_tensor_address``), and each call sets
the input shape (``set_input_shape``) and enqueues ``execute_async_v3`` on the
runner's own stream (TensorRT Python API: ICudaEngine.num_io_tensors /
get_tensor_name / get_tensor_mode / get_tensor_dtype / get_tensor_profile_shape;
IExecutionContext.set_input_shape / get_tensor_shape / set_tensor_address /
execute_async_v3; Runtime.deserialize_cuda_engine).

CUDA graphs (``cuda_graph=True``): with TensorRT the runner captures a graph
for the current input shape after a first normal run at that shape
(cudaStreamBeginCapture -> execute_async_v3 -> cudaStreamEndCapture ->
cudaGraphInstantiateWithFlags -> cudaGraphLaunch; TensorRT developer guide, "CUDA
Graphs"). A graph records the kernels and parameters the execution context chose
for one shape; ``set_input_shape`` changes the context, so the guide asks for a
re-capture after a shape change. The runner therefore keeps ONE graph, for the
shape the context is set to, and drops it when the batch size changes (8 -> 4 ->
8 re-captures; Torch-TensorRT's CUDA-graph wrapper does the same on a new shape). TensorRT-RTX does
it itself: ``IRuntimeConfig.cuda_graph_strategy = WHOLE_GRAPH_CAPTURE``
("Working with RTX CUDA Graphs"; manual capture there needs engines built with
REQUIRE_USER_ALLOCATION). TensorRT-RTX compiles kernels just in time; its
runtime cache (``IRuntimeConfig.create_runtime_cache``, ``IRuntimeCache.
serialize/deserialize``; "Working with Runtime Cache") is loaded from and saved
to ``<artifact>/trt_runtime_cache/`` (option ``runtime_cache``) so restarts skip
the compilation.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from resnet_deploy._optional import is_available, try_import
from resnet_deploy.artifact import EngineRecord, FileEntry, Manifest, verify_file
from resnet_deploy.atomic import write_bytes_atomic
from resnet_deploy.errors import (
    BackendUnavailableError,
    EngineCompatibilityError,
    InvalidInputError,
    MissingDependencyError,
)
from resnet_deploy.runtime.base import Runner
from resnet_deploy.runtime.gpu import gpu_info, no_gpu_reason
from resnet_deploy.runtime.trt_compat import (
    FAMILIES,
    check_batch_shape,
    check_engine_compat,
    engine_meta,
    family_label,
    family_module,
    null_object_message,
    profile_range,
)

_CUDART_MODULES = ("cuda.bindings.runtime", "cuda.cudart")


def installed_family(meta: EngineRecord | None) -> tuple[str, ModuleType | None, str | None]:
    """(family, module, version) to run ``meta``'s engine: its own family first, else any installed."""
    want = meta.family if meta is not None else None
    order = [want] + [f for f in FAMILIES if f != want] if want in FAMILIES else list(FAMILIES)
    for fam in order:
        mod = try_import(family_module(fam))
        if mod is not None:
            return fam, mod, str(getattr(mod, "__version__", "0"))
    return (want if want in FAMILIES else "tensorrt"), None, None


class _Cuda:
    """Checked calls into cuda-python's runtime API; each returns (cudaError_t, *values)."""

    def __init__(self) -> None:
        for name in _CUDART_MODULES:
            rt = try_import(name)
            if rt is not None:
                self.rt = rt
                return
        raise MissingDependencyError(
            "the tensorrt backend needs cuda-python for GPU buffers; pip install 'resnet-deploy[tensorrt]' "
            "(or pip install cuda-python)"
        )

    def __call__(self, result: Any, what: str) -> Any:
        err, *values = result if isinstance(result, tuple) else (result,)
        if err != self.rt.cudaError_t.cudaSuccess:
            raise BackendUnavailableError(
                f"CUDA {what} failed ({getattr(err, 'name', err)}); check the GPU's memory and driver with nvidia-smi"
            )
        return values[0] if len(values) == 1 else tuple(values)


@dataclass
class _Binding:
    """One I/O tensor: device buffer and pinned host mirror sized for the profile's max batch."""

    name: str
    is_input: bool
    dtype: np.dtype
    device: int
    host_ptr: int
    host: np.ndarray  # flat pinned array of max elements


class TensorRTRunner(Runner):
    """A TensorRT / TensorRT-RTX engine on one CUDA stream (options: cuda_graph, runtime_cache)."""

    backend = "tensorrt"
    formats = ("tensorrt-engine",)
    device = "cuda"
    preferred_keys = ("int8-tensorrt", "fp16", "fp32")

    @classmethod
    def probe(cls) -> str | None:
        # the missing GPU first: on a CPU-only machine it is the reason that matters
        reasons = [no_gpu_reason()] if gpu_info() is None else []
        if not any(is_available(family_module(f)) for f in FAMILIES):
            reasons.append("no TensorRT module (pip install 'resnet-deploy[tensorrt]' or 'resnet-deploy[tensorrt-rtx]')")
        elif not any(is_available(m) for m in _CUDART_MODULES):
            reasons.append("cuda-python is not installed (pip install 'resnet-deploy[tensorrt]')")
        return "; ".join(reasons) or None

    @classmethod
    def entry_reason(cls, manifest: Manifest, entry: FileEntry) -> str | None:
        meta = engine_meta(manifest, entry)
        family, _mod, version = installed_family(meta)
        try:
            check_engine_compat(meta, version, gpu_info(), family=family)
        except EngineCompatibilityError as exc:
            return str(exc)
        return None

    @property
    def max_batch(self) -> int | None:
        rng = profile_range(engine_meta(self.manifest, self.entry), self.manifest.input.name)
        return rng[2] if rng else None

    # -- lifecycle ------------------------------------------------------
    def _activate(self) -> None:
        meta = engine_meta(self.manifest, self.entry)
        family, trt, version = installed_family(meta)
        check_engine_compat(meta, version, gpu_info(), family=family)  # before touching the plan
        verify_file(self.artifact_dir, self.entry)
        assert trt is not None and meta is not None
        self.family, self.trt = family, trt
        self.cuda = _Cuda()
        self.stream: Any = None
        self._bindings: list[_Binding] = []
        self._graph: Any = None  # the CUDA graph for batch size self._n (TensorRT path), see module doc
        self._warm = False  # one plain run at the current shape happened (TensorRT's lazy setup)
        self.cuda_graph = bool(self.options.get("cuda_graph", False))
        self.graphs_captured = 0  # CUDA graphs instantiated (TensorRT path); re-captures count too
        self.captures_replayed = 0
        self._manual_graphs = self.cuda_graph and family == "tensorrt"
        self.notes: list[str] = []
        try:
            self._load(meta)
        except BaseException:
            self._deactivate()  # free whatever was allocated before the failure
            raise

    def _load(self, meta: EngineRecord) -> None:
        trt, family = self.trt, self.family
        self.stream = self.cuda(self.cuda.rt.cudaStreamCreate(), "stream creation")  # creates the context too
        plan = self.model_path.read_bytes()
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = _create_runtime(trt, self._logger, family)
        if meta.version_compatible and hasattr(self._runtime, "engine_host_code_allowed"):
            self._runtime.engine_host_code_allowed = True  # version-compatible plans embed a lean runtime
        self._check_validity(plan)
        self.engine = self._runtime.deserialize_cuda_engine(plan)
        if self.engine is None:
            raise EngineCompatibilityError(
                f"{family} could not deserialise {self.entry.path}; rebuild it with 'resnet-deploy build-engine'"
            )
        self.context = self._create_context()
        self._bind()

    def _check_validity(self, plan: bytes) -> None:
        """TensorRT-RTX can say from the header whether a plan fits this system (Runtime.get_engine_validity)."""
        fn = getattr(self._runtime, "get_engine_validity", None)
        if fn is None:
            return
        validity, diagnostics = fn(plan)
        if str(validity).rsplit(".", 1)[-1] == "INVALID":
            flags = invalidity_flags(self.trt)
            why = [name.lower().replace("_", " ") for name, flag in flags.items() if int(diagnostics) & int(flag)]
            raise EngineCompatibilityError(
                f"{self.entry.path} is not valid on this system ({', '.join(why) or 'no GPU context'}); "
                "rebuild it with 'resnet-deploy build-engine'"
            )

    def _create_context(self) -> Any:
        if self.family != "tensorrt-rtx" or not hasattr(self.engine, "create_runtime_config"):
            ctx = self.engine.create_execution_context()
        else:
            rc = self.engine.create_runtime_config()
            if self.cuda_graph and hasattr(self.trt, "CudaGraphStrategy"):
                rc.cuda_graph_strategy = self.trt.CudaGraphStrategy.WHOLE_GRAPH_CAPTURE
            self._runtime_cache = rc.create_runtime_cache()
            path = self._runtime_cache_path()
            if path is not None and path.is_file() and not self._runtime_cache.deserialize(path.read_bytes()):
                self.notes.append(f"runtime cache {path} is stale for this GPU/driver; recompiling")
            rc.set_runtime_cache(self._runtime_cache)
            self._runtime_config = rc
            ctx = self.engine.create_execution_context(rc)
        if ctx is None:
            raise BackendUnavailableError(
                f"TensorRT could not create an execution context for {self.entry.path}; "
                "see the TensorRT log above (often too little free GPU memory: check nvidia-smi)"
            )
        return ctx

    def _runtime_cache_path(self) -> Path | None:
        opt = self.options.get("runtime_cache", "default")
        if opt in (None, False, ""):
            return None
        if opt == "default":
            return self.artifact_dir / "trt_runtime_cache" / (Path(self.entry.path).stem + ".rtxcache")
        return Path(str(opt))

    def _bind(self) -> None:
        trt, eng, rt = self.trt, self.engine, self.cuda.rt
        names = [eng.get_tensor_name(i) for i in range(eng.num_io_tensors)]
        inputs = [n for n in names if eng.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        if len(inputs) != 1:
            raise EngineCompatibilityError(f"{self.entry.path} has inputs {inputs}; expected exactly one")
        self.input_name = inputs[0]
        mn, _opt, mx = (tuple(int(d) for d in s) for s in eng.get_tensor_profile_shape(self.input_name, 0))
        self.min_n, self.max_n, self.chw = mn[0], mx[0], mx[1:]
        self.context.set_input_shape(self.input_name, mx)  # size every buffer for the largest batch
        self._n = mx[0]
        for name in names:
            shape = tuple(int(d) for d in self.context.get_tensor_shape(name))
            dtype = np.dtype(trt.nptype(eng.get_tensor_dtype(name)))
            nbytes = max(1, int(np.prod(shape)) * dtype.itemsize)
            device = self.cuda(rt.cudaMalloc(nbytes), "cudaMalloc")
            host_ptr = self.cuda(rt.cudaMallocHost(nbytes), "cudaMallocHost")
            host = np.frombuffer((ctypes.c_byte * nbytes).from_address(int(host_ptr)), dtype=np.uint8).view(dtype)
            self._bindings.append(_Binding(name, name == self.input_name, dtype, int(device), int(host_ptr), host))
            if not self.context.set_tensor_address(name, int(device)):
                raise BackendUnavailableError(
                    f"TensorRT refused the buffer for tensor '{name}'; see the TensorRT log above"
                )
        outs = [b for b in self._bindings if not b.is_input]
        want = self.manifest.input.output_name
        self._out = next((b for b in outs if b.name == want), outs[0])

    # -- inference ------------------------------------------------------
    def _infer(self, batch: np.ndarray) -> np.ndarray:
        x = np.asarray(batch)
        check_batch_shape(x.shape, self.chw, self.min_n, self.max_n, what=f"engine {self.entry.path}")
        n, rt, inp = int(x.shape[0]), self.cuda.rt, self._bindings_in()
        if n != self._n:
            if not self.context.set_input_shape(self.input_name, tuple(int(s) for s in x.shape)):
                raise InvalidInputError(
                    f"TensorRT rejected input shape {list(x.shape)} for {self.entry.path}; "
                    f"send batches of {self.min_n}..{self.max_n} images of shape {list(self.chw)}"
                )
            self._n = n
            self._drop_graph()  # captured for the old shape: re-capture at this one
        flat = np.ascontiguousarray(x, dtype=inp.dtype).reshape(-1)
        inp.host[: flat.size] = flat
        h2d, d2h = rt.cudaMemcpyKind.cudaMemcpyHostToDevice, rt.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self.cuda(rt.cudaMemcpyAsync(inp.device, inp.host_ptr, flat.nbytes, h2d, self.stream), "copy to GPU")
        self._execute(n)
        shape = tuple(int(d) for d in self.context.get_tensor_shape(self._out.name))
        count = int(np.prod(shape))
        nbytes = count * self._out.dtype.itemsize
        self.cuda(rt.cudaMemcpyAsync(self._out.host_ptr, self._out.device, nbytes, d2h, self.stream), "copy to host")
        self.synchronize()
        return self._out.host[:count].reshape(shape).astype(np.float32, copy=True)

    def _bindings_in(self) -> _Binding:
        return next(b for b in self._bindings if b.is_input)

    def _execute(self, n: int) -> None:
        rt = self.cuda.rt
        if self._manual_graphs:
            if self._graph is None and self._warm:  # first run at a shape does TensorRT's lazy setup
                self._graph = self._capture()
            if self._graph is not None:
                self.cuda(rt.cudaGraphLaunch(self._graph, self.stream), "CUDA graph launch")
                self.captures_replayed += 1
                return
            self._warm = True
        if not self.context.execute_async_v3(int(self.stream)):
            raise BackendUnavailableError(
                f"TensorRT execution of {self.entry.path} failed; see the TensorRT log above and check the GPU with nvidia-smi"
            )

    def _drop_graph(self) -> None:
        self._warm = False
        if getattr(self, "_graph", None) is not None:
            self.cuda.rt.cudaGraphExecDestroy(self._graph)
            self._graph = None

    def _capture(self) -> Any:
        """Capture one execute_async_v3 into a CUDA graph; on failure fall back to plain enqueues."""
        rt = self.cuda.rt
        mode = rt.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        try:
            self.cuda(rt.cudaStreamBeginCapture(self.stream, mode), "begin capture")
            ok = self.context.execute_async_v3(int(self.stream))
            graph = self.cuda(rt.cudaStreamEndCapture(self.stream), "end capture")
            if not ok:
                raise BackendUnavailableError("execute_async_v3 failed during capture")
            exe = self.cuda(rt.cudaGraphInstantiateWithFlags(graph, 0), "graph instantiation")
            rt.cudaGraphDestroy(graph)
            self.graphs_captured += 1
            return exe
        except BackendUnavailableError as exc:
            rt.cudaStreamEndCapture(self.stream)  # leave capture mode if still in it; errors ignored
            self._manual_graphs = False
            self.notes.append(f"CUDA graph capture failed ({exc}); running without graphs")
            return None

    def synchronize(self) -> None:
        if getattr(self, "stream", None) is not None:
            self.cuda(self.cuda.rt.cudaStreamSynchronize(self.stream), "stream synchronize")

    @property
    def cuda_graph_mode(self) -> str:
        """'off', 'captured per batch size' (TensorRT) or 'TensorRT-RTX built-in' (WHOLE_GRAPH_CAPTURE)."""
        if not getattr(self, "cuda_graph", False):
            return "off"
        if self.family == "tensorrt-rtx":
            return "TensorRT-RTX built-in"
        return "re-captured on each batch-size change" if self._manual_graphs else "off (capture failed)"

    def _deactivate(self) -> None:
        rt = self.cuda.rt
        if getattr(self, "context", None) is not None:
            self._save_runtime_cache()
        self._drop_graph()
        self.context = None  # context before engine before runtime (TensorRT object lifetimes)
        self._runtime_config = None
        self._runtime_cache = None
        self.engine = None
        self._runtime = None
        for b in self._bindings:
            rt.cudaFree(b.device)
            rt.cudaFreeHost(b.host_ptr)
        self._bindings = []
        if self.stream is not None:
            rt.cudaStreamDestroy(self.stream)
            self.stream = None

    def _save_runtime_cache(self) -> None:
        cache, path = getattr(self, "_runtime_cache", None), None
        if cache is not None:
            path = self._runtime_cache_path()
        if cache is None or path is None:
            return
        try:
            write_bytes_atomic(path, bytes(memoryview(cache.serialize())))
        except OSError as exc:  # a read-only artifact just means no cache next time
            self.notes.append(f"could not save runtime cache {path} ({exc.strerror})")


def invalidity_flags(trt: ModuleType) -> dict[str, Any]:
    """The members of TensorRT-RTX's invalidity-diagnostics flag enum (Python name checked both ways).

    tensorrt_rtx 1.7's module exposes ``EngineInvalidityDiagnostics`` (members
    VERSION_MISMATCH, UNSUPPORTED_CC, OLD_CUDA_DRIVER, OLD_CUDA_RUNTIME,
    INSUFFICIENT_GPU_MEMORY, MALFORMED_ENGINE, CUDA_ERROR); the C++ docs name the
    type ``EngineInvalidityDiagnostic``. Either is accepted.
    """
    for name in ("EngineInvalidityDiagnostics", "EngineInvalidityDiagnostic"):
        members = getattr(getattr(trt, name, None), "__members__", None)
        if members:
            return dict(members)
    return {}


def _create_runtime(trt: ModuleType, logger: Any, family: str) -> Any:
    """``trt.Runtime(logger)``; a null runtime (pybind11 raises TypeError) becomes one line."""
    try:
        runtime = trt.Runtime(logger)
    except (TypeError, RuntimeError) as exc:
        raise BackendUnavailableError(null_object_message("runtime", family_label(family), logger, exc)) from exc
    if runtime is None:
        raise BackendUnavailableError(null_object_message("runtime", family_label(family), logger, None))
    return runtime

"""ONNX Runtime on NVIDIA GPUs: the CUDA and TensorRT execution providers.

The trap this module exists for: onnxruntime-gpu installed on a host without a
usable GPU (or without matching CUDA/TensorRT libraries) still lists
``CUDAExecutionProvider``/``TensorrtExecutionProvider`` in
``get_available_providers()``, and a session asked for them quietly runs on
the CPU. A benchmark would then report CPU numbers under a GPU name. So:
``probe()`` also requires a real GPU (``runtime/gpu.py``), and after the session
is created ``session.get_providers()[0]`` must be the provider we asked for,
otherwise BackendUnavailableError.

Provider options follow onnxruntime.ai/docs/execution-providers/
TensorRT-ExecutionProvider.html and CUDA-ExecutionProvider.html:
``trt_engine_cache_enable``/``trt_engine_cache_path`` and
``trt_timing_cache_enable``/``trt_timing_cache_path`` point inside the artifact
(``<artifact>/ort_trt_cache/``, option ``cache_dir``) so the first session's
engine build is paid once; ``trt_profile_{min,opt,max}_shapes`` give the batch
range so a new batch size does not trigger a rebuild. ``trt_fp16_enable`` and
``trt_int8_enable`` are left off on purpose: our files already carry their
precision (FP16 casts, S8S8 Q/DQ), and with both flags off the TensorRT EP
builds a strongly typed network that obeys the graph (microsoft/onnxruntime
PR #18707); turning them on would ask TensorRT 10 for weak typing, which
TensorRT 11 no longer has. U8S8 files (``int8-cpu``) are not offered to the
TensorRT EP: TensorRT needs symmetric int8 activations.

When CUDA and cuDNN come from pip wheels (``nvidia-cuda-runtime-cu12``,
``nvidia-cudnn-cu12``: the ``nvidia.*`` packages) rather than a system install,
the loader does not find them unless torch was imported first; onnxruntime-gpu
1.21+ provides ``onnxruntime.preload_dlls(cuda=True, cudnn=True, msvc=True,
directory=None)`` for exactly that, and the GPU runners call it once before their
first session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from resnet_deploy._optional import is_available, try_import
from resnet_deploy.artifact import FileEntry
from resnet_deploy.errors import BackendUnavailableError
from resnet_deploy.runtime.gpu import gpu_info
from resnet_deploy.runtime.ort import OrtCpuRunner

DEFAULT_PROFILE = (1, 8, 32)  # TensorRT EP batch profile (min, opt, max) unless option ``batch`` says otherwise


_preloaded: list[str] = []  # what preload_cuda_wheels did, once per process


def preload_cuda_wheels(ort: Any) -> str | None:
    """``ort.preload_dlls()`` when CUDA/cuDNN come from pip wheels; returns what happened (None: nothing to do)."""
    if _preloaded:
        return _preloaded[0]
    if not hasattr(ort, "preload_dlls") or not (is_available("nvidia.cuda_runtime") or is_available("nvidia.cudnn")):
        return None
    try:
        ort.preload_dlls()
        _preloaded.append("preloaded the CUDA/cuDNN libraries of the nvidia-* pip wheels")
    except Exception as exc:  # any failure here: the session error that follows says more
        _preloaded.append(f"onnxruntime.preload_dlls() failed ({type(exc).__name__}: {exc})"[:200])
    return _preloaded[0]


def no_gpu_message(provider: str) -> str:
    return f"onnxruntime lists {provider} but there is no GPU (it would silently run on CPU)"


def check_active_provider(active: list[str], requested: str, model: str) -> None:
    """Raise BackendUnavailableError unless ONNX Runtime really put ``requested`` first."""
    if not active or active[0] != requested:
        raise BackendUnavailableError(
            f"onnxruntime did not enable {requested} for {model} (active: {', '.join(active) or 'none'}), "
            "so it would silently run on CPU; install onnxruntime-gpu with matching CUDA/TensorRT "
            "libraries on a GPU host"
        )


def gpu_provider_reason(provider: str, available: list[str], has_gpu: bool) -> str | None:
    """Why ``provider`` cannot be used: not in this onnxruntime build, or no GPU behind it."""
    if provider not in available:
        return (
            f"onnxruntime has no {provider} (this is the CPU build; pip uninstall onnxruntime "
            "and pip install 'resnet-deploy[gpu]' on a GPU host)"
        )
    if not has_gpu:
        return no_gpu_message(provider)
    return None


class OrtCudaRunner(OrtCpuRunner):
    """onnxruntime with CUDAExecutionProvider (any ONNX file of the artifact)."""

    backend = "onnxruntime-cuda"
    device = "cuda"
    requested: ClassVar[str] = "CUDAExecutionProvider"
    preferred_keys = ("fp16", "fp32", "int8-tensorrt")

    @classmethod
    def probe(cls) -> str | None:
        reason = super().probe()
        if reason:
            return reason
        ort = try_import("onnxruntime")
        return gpu_provider_reason(cls.requested, list(ort.get_available_providers()), gpu_info() is not None)

    @property
    def providers(self) -> tuple[Any, ...]:  # type: ignore[override]
        return ((self.requested, self.provider_options()), "CPUExecutionProvider")

    def provider_options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"device_id": int(self.options.get("device_id", 0))}
        opts.update(self.options.get("provider_options") or {})
        return opts

    def _activate(self) -> None:
        preload_cuda_wheels(try_import("onnxruntime"))
        super()._activate()
        try:
            check_active_provider(list(self.session.get_providers()), self.requested, self.entry.path)
            if gpu_info() is None:
                raise BackendUnavailableError(
                    f"{no_gpu_message(self.requested)}; run on a GPU host or use the onnxruntime (CPU) backend"
                )
        except BackendUnavailableError:
            self.session = None
            raise


class OrtTensorRTRunner(OrtCudaRunner):
    """onnxruntime with TensorrtExecutionProvider (CUDA, then CPU, for nodes TensorRT declines)."""

    backend = "onnxruntime-tensorrt"
    requested: ClassVar[str] = "TensorrtExecutionProvider"
    preferred_keys = ("int8-tensorrt", "fp16", "fp32")

    @classmethod
    def accepts(cls, entry: FileEntry) -> bool:
        return super().accepts(entry) and not (entry.precision == "int8" and entry.target == "cpu")

    @property
    def cache_dir(self) -> Path:
        return Path(self.options.get("cache_dir") or self.artifact_dir / "ort_trt_cache")

    @property
    def providers(self) -> tuple[Any, ...]:  # type: ignore[override]
        cuda = ("CUDAExecutionProvider", {"device_id": int(self.options.get("device_id", 0))})
        return ((self.requested, self.provider_options()), cuda, "CPUExecutionProvider")

    def provider_options(self) -> dict[str, Any]:
        cache = self.cache_dir
        name = self.manifest.input.name
        c, h, w = (int(v) for v in self.manifest.input.shape[1:])
        lo, opt, hi = self.options.get("batch") or DEFAULT_PROFILE
        opts: dict[str, Any] = {
            "device_id": int(self.options.get("device_id", 0)),
            "trt_engine_cache_enable": True,
            "trt_engine_cache_path": str(cache),
            "trt_timing_cache_enable": True,
            "trt_timing_cache_path": str(cache),
            "trt_fp16_enable": False,  # precision comes from the file (strongly typed), see module doc
            "trt_int8_enable": False,
            "trt_profile_min_shapes": f"{name}:{lo}x{c}x{h}x{w}",
            "trt_profile_opt_shapes": f"{name}:{opt}x{c}x{h}x{w}",
            "trt_profile_max_shapes": f"{name}:{hi}x{c}x{h}x{w}",
        }
        if self.options.get("workspace_mib"):
            opts["trt_max_workspace_size"] = int(self.options["workspace_mib"]) << 20
        opts.update(self.options.get("provider_options") or {})
        return opts

    def _activate(self) -> None:
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendUnavailableError(
                f"cannot create the TensorRT EP cache folder {self.cache_dir} ({exc.strerror}); "
                "pass cache_dir=... to a writable place"
            ) from exc
        super()._activate()

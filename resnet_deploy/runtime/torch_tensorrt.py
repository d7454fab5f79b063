"""Torch-TensorRT: the artifact's ExportedProgram (model.pt2) compiled by TensorRT inside PyTorch.

Follows docs.pytorch.org/TensorRT: ``torch_tensorrt.compile(module, ir="dynamo",
inputs=[torch_tensorrt.Input(min_shape, opt_shape, max_shape, dtype)],
enabled_precisions={torch.float32 | torch.float16})`` ("Dynamic shapes with
Torch-TensorRT"), then ``torch_tensorrt.save(gm, path,
output_format="exported_program", arg_inputs=...)`` and ``torch.export.load(path)
.module()`` to reload ("Saving models compiled with Torch-TensorRT"), so the
compilation is paid once per (model, precision, profile, versions, GPU): the
result is cached under ``<artifact>/torch_trt_cache/`` (option ``cache_dir``).

Newer Torch-TensorRT deprecates ``enabled_precisions`` in favour of explicit
typing plus rule-based autocast (``use_explicit_typing=True,
enable_autocast=True``, "Autocast and Precision Management"): for fp16 those
settings are used when ``torch_tensorrt.dynamo.compile`` accepts them, and then
``enabled_precisions`` stays {fp32}: 2.10-2.12 assert that explicit typing sees
only fp32/fp4 there (dynamo/_compiler.py), 2.13 dropped the argument.

The cache key holds the torch, torch_tensorrt and tensorrt versions and the GPU.
``torch_tensorrt.save`` accepts ``Input`` specs (dynamic shapes) only from 2.11;
2.5-2.10 raise ValueError ("Please provide torch.tensors"), so there the module
is not cached and a note says why. A cached file that no longer loads is
removed and the module recompiled, with a note.

torch_tensorrt's import can fail with OSError/RuntimeError (missing CUDA or
TensorRT libraries), not only ImportError, hence ``_optional.try_import``. It
needs a CUDA build of PyTorch and a GPU; ``probe()`` checks both cheaply.
"""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path
from typing import Any

import numpy as np

from resnet_deploy._optional import missing_reason, require, try_import, why_missing
from resnet_deploy.atomic import replacing
from resnet_deploy.errors import BackendUnavailableError, ResNetDeployError
from resnet_deploy.runtime.base import Runner
from resnet_deploy.runtime.gpu import gpu_info, no_gpu_reason
from resnet_deploy.runtime.torch_eager import load_exported_module
from resnet_deploy.runtime.trt_compat import check_batch_shape

DEFAULT_PROFILE = (1, 8, 32)
PRECISIONS = ("fp32", "fp16")


class TorchTensorRTRunner(Runner):
    """model.pt2 compiled with torch_tensorrt (options: precision fp32|fp16, batch (min,opt,max), cache_dir)."""

    backend = "torch-tensorrt"
    formats = ("exported-program",)
    device = "cuda"
    preferred_keys = ("fp32",)

    @classmethod
    def probe(cls) -> str | None:
        reason = missing_reason("torch") or missing_reason("torch_tensorrt", "torch-tensorrt")
        if reason:
            return reason
        if gpu_info() is None:
            return no_gpu_reason()
        return None

    @property
    def precision(self) -> str:
        p = str(self.options.get("precision", "fp32"))
        if p not in PRECISIONS:
            raise ResNetDeployError(f"torch-tensorrt precision must be fp32 or fp16, got '{p}'; pass precision='fp32' or 'fp16'")
        return p

    @property
    def name(self) -> str:
        return f"{self.backend}:{self.precision}"

    @property
    def profile(self) -> tuple[int, int, int]:
        lo, opt, hi = (int(v) for v in (self.options.get("batch") or DEFAULT_PROFILE))
        if not (1 <= lo <= opt <= hi):
            raise ResNetDeployError(
                f"torch-tensorrt batch profile must satisfy 1 <= MIN <= OPT <= MAX, got {lo},{opt},{hi}; "
                "pass e.g. batch=(1, 8, 32)"
            )
        return lo, opt, hi

    @property
    def max_batch(self) -> int | None:
        return self.profile[2]

    def _activate(self) -> None:
        torch = require("torch", purpose="the torch-tensorrt backend")
        tt = try_import("torch_tensorrt")
        if tt is None:
            raise BackendUnavailableError(
                f"torch_tensorrt cannot be imported ({why_missing('torch_tensorrt')}); "
                "install the torch-tensorrt release built for this torch"
            )
        if not torch.cuda.is_available():
            raise BackendUnavailableError("this PyTorch has no CUDA (CPU build or no GPU); install a CUDA build of torch")
        self._torch, self._tt = torch, tt
        self.chw = tuple(int(v) for v in self.manifest.input.shape[1:])
        cache = self.cache_path()
        self.notes: list[str] = []
        if cache.is_file():
            try:
                self.module = load_exported_module(str(cache))
                self.notes.append(f"loaded compiled module from {cache}")
                return
            except Exception as exc:  # a stale or foreign cache must not stop the runner
                self.notes.append(f"cached module {cache.name} does not load ({type(exc).__name__}); recompiling")
                cache.unlink(missing_ok=True)
        self.module = self._compile()
        self._save(cache)

    def cache_path(self) -> Path:
        """One file per model, precision, profile, library versions and GPU."""
        torch, tt = self._torch, self._tt
        gpu = gpu_info()
        trt = try_import("tensorrt")
        tag = "|".join([
            self.entry.sha256, self.precision, ",".join(map(str, self.profile)), str(torch.__version__),
            str(getattr(tt, "__version__", "?")), str(getattr(trt, "__version__", "?")),
            gpu.name if gpu else "", gpu.compute_capability if gpu else "",
        ])
        digest = hashlib.sha256(tag.encode()).hexdigest()[:16]
        folder = Path(self.options.get("cache_dir") or self.artifact_dir / "torch_trt_cache")
        return folder / f"model.{self.precision}.{digest}.ep"

    def _inputs(self) -> list[Any]:
        lo, opt, hi = self.profile
        return [self._tt.Input(
            min_shape=(lo, *self.chw), opt_shape=(opt, *self.chw), max_shape=(hi, *self.chw),
            dtype=self._torch.float32,
        )]

    def _compile(self) -> Any:
        torch, tt = self._torch, self._tt
        module = load_exported_module(str(self.model_path)).to("cuda")
        settings = set(inspect.signature(tt.dynamo.compile).parameters)
        kwargs = compile_kwargs(torch, self.precision, settings)
        kwargs.update(ir="dynamo", inputs=self._inputs(), min_block_size=1)
        try:
            return tt.compile(module, **kwargs)
        except Exception as exc:  # compiler errors come in many types
            raise BackendUnavailableError(
                f"torch_tensorrt could not compile {self.entry.path}: {type(exc).__name__}: "
                f"{' '.join(str(exc).split())[:200]}; use the tensorrt backend (an engine from resnet-deploy build-engine) instead"
            ) from exc

    def _save(self, cache: Path) -> None:
        """Cache the compiled program (temp file, then rename); a failure only costs the next start."""
        params = set(inspect.signature(self._tt.save).parameters)
        key = "arg_inputs" if "arg_inputs" in params else "inputs"
        try:
            with replacing(cache) as tmp:
                self._tt.save(self.module, str(tmp), output_format="exported_program", **{key: self._inputs()})
        except ValueError as exc:
            version = getattr(self._tt, "__version__", "?")
            self.notes.append(f"torch_tensorrt {version} cannot save a dynamic-shape module ({exc}); not cached "
                              "(needs torch_tensorrt >= 2.11), so each start recompiles"[:300])
        except Exception as exc:  # caching is best-effort; the compiled module is used anyway
            self.notes.append(f"could not cache the compiled module ({type(exc).__name__}: {exc})"[:200])

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        lo, _opt, hi = self.profile
        check_batch_shape(np.shape(batch), self.chw, lo, hi, what="torch-tensorrt profile")
        torch = self._torch
        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to("cuda", non_blocking=True)
        with torch.inference_mode():
            y = self.module(x)
        if isinstance(y, (tuple, list)):
            y = y[0]
        return y.float().cpu().numpy()

    def synchronize(self) -> None:
        if getattr(self, "_torch", None) is not None:
            self._torch.cuda.synchronize()

    def _deactivate(self) -> None:
        self.module = None
        if getattr(self, "_torch", None) is not None:
            self._torch.cuda.empty_cache()


def compile_kwargs(torch: Any, precision: str, settings: set[str]) -> dict[str, Any]:
    """Precision arguments for ``torch_tensorrt.compile`` given the parameters its ``dynamo.compile`` has.

    fp16 with autocast (2.10+): ``use_explicit_typing`` + ``enable_autocast`` + the low-precision
    type, and ``enabled_precisions`` only as {fp32} (2.10-2.12 assert that; 2.13 has no such
    parameter). Older releases: ``enabled_precisions={fp16}`` with weak typing.
    """
    kwargs: dict[str, Any] = {}
    has_precisions = "enabled_precisions" in settings
    if precision == "fp16" and "enable_autocast" in settings:
        kwargs["enable_autocast"] = True
        if "use_explicit_typing" in settings:  # 2.10-2.12; 2.13 is always explicitly typed
            kwargs["use_explicit_typing"] = True
        for name in ("low_precision_type", "autocast_low_precision_type"):
            if name in settings:
                kwargs[name] = torch.float16
        if has_precisions:
            kwargs["enabled_precisions"] = {torch.float32}
        return kwargs
    low = torch.float16 if precision == "fp16" else torch.float32
    if has_precisions or not settings:
        kwargs["enabled_precisions"] = {low}
    if precision == "fp16" and "use_explicit_typing" in settings:
        kwargs["use_explicit_typing"] = False  # pre-autocast releases: fp16 via TensorRT 10 weak typing
    return kwargs

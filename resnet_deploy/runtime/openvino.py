"""OpenVINO on the CPU, reading the artifact's ONNX files directly (no IR conversion step).

API (openvino 2026): ``Core().read_model(onnx)``, ``Model.reshape`` with a
``PartialShape`` for a dynamic batch, ``Core.compile_model(model, "CPU", config)``
and ``CompiledModel.create_infer_request()``. On CPUs with bf16 support the CPU
plugin's default ``INFERENCE_PRECISION_HINT`` is bf16 (about 1.6x slower without
AMX, and less accurate), so f32 is always requested explicitly; INT8 Q/DQ models
still run their quantized layers in int8.

Each batch size runs in the compiled form that is fastest for it (a static
batch-1 model; one-thread streams for a batch that splits evenly over the
threads): ``runtime.ov_forms``.

File preference: ``int8-openvino`` first, the INT8 form made for OpenVINO from the
same calibration ranges (float biases, the head's Q/DQ on the pooled tensor, so the
compiled graph has the kernels NNCF's model has; ``quantize/targets.py``), then
ONNX Runtime's ``int8-cpu`` form for artifacts made before it existed. A spec
names a file, so ``openvino:int8-cpu`` still runs ``model.int8-cpu.onnx``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from resnet_deploy._optional import missing_reason, require
from resnet_deploy.errors import ArtifactError, BackendUnavailableError
from resnet_deploy.runtime.base import Runner, env_switch, first_line
from resnet_deploy.runtime.ov_forms import Forms

ENV_FORMS = "RESNET_DEPLOY_OV_FORMS"


def cpu_compile_config(threads: int | None) -> dict[str, Any]:
    """compile_model properties: f32 math, latency mode, and the thread count if given.

    The OpenVINO+NNCF peer is compiled with these too, as one dynamic-batch model (what a
    user of NNCF's quantised model gets); this runner adds its per-batch forms (``ov_forms``).
    """
    cfg: dict[str, Any] = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"}
    if threads:
        cfg["INFERENCE_NUM_THREADS"] = int(threads)
    return cfg


class OpenVINORunner(Runner):
    """OpenVINO CPU plugin; per-thread infer requests, so calls can overlap.

    Option ``specialize`` (default True, or ``$RESNET_DEPLOY_OV_FORMS``): run each batch size
    in its fastest compiled form (a static batch-1 model; a batch that splits evenly over the
    threads runs on one-thread streams; see ``runtime.ov_forms``). False keeps one dynamic-batch model for every call.
    """

    backend = "openvino"
    formats = ("onnx",)
    thread_safe = True
    preferred_keys = ("int8-openvino", "int8-cpu", "int8-tensorrt", "fp32", "fp16")
    forms: Forms | None = None  # set while active

    @classmethod
    def probe(cls) -> str | None:
        return missing_reason("openvino")

    def config(self) -> dict[str, Any]:
        return cpu_compile_config(self.threads)

    @property
    def compiled(self) -> Any:
        """The dynamic-batch compiled model (every form shares its properties but the streams)."""
        return self.forms.dynamic if self.forms is not None else None

    @property
    def specialize(self) -> bool:
        """The ``specialize`` option, else ``$RESNET_DEPLOY_OV_FORMS`` (on unless 0/false/no/off)."""
        if "specialize" in self.options:
            return bool(self.options["specialize"])
        return env_switch(ENV_FORMS)

    def _activate(self) -> None:
        ov = require("openvino", purpose="the openvino backend")
        core = ov.Core()
        try:
            model = core.read_model(str(self.model_path))
            self._check_contract(model)
            self.forms = Forms(ov, core, model, self.config(), self.specialize)
        except ArtifactError:
            raise
        except Exception as exc:  # OpenVINO raises plain RuntimeErrors
            raise BackendUnavailableError(
                f"OpenVINO cannot compile {self.entry.path} ({first_line(exc)}); "
                "use another backend, e.g. onnxruntime"
            ) from exc

    def prepare(self, batch_sizes: Sequence[int]) -> None:
        if not self.is_active:
            self.activate()
        assert self.forms is not None
        self.forms.prepare(list(batch_sizes))

    def _check_contract(self, model: Any) -> None:
        port = model.inputs[0]
        shape = port.get_partial_shape()
        dims = [d.get_length() if d.is_static else None for d in shape] if shape.rank.is_static else []
        self.check_input(port.get_element_type().to_dtype().name, dims)

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        assert self.forms is not None  # infer() activates first
        return self.forms.infer(np.ascontiguousarray(batch, dtype=self.input_dtype))

    def _deactivate(self) -> None:
        self.forms = None

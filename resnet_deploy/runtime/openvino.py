"""OpenVINO on the CPU, reading the artifact's ONNX files directly (no IR conversion step).

API (openvino 2026): ``Core().read_model(onnx)``, ``Model.reshape`` with a
``PartialShape`` for a dynamic batch, ``Core.compile_model(model, "CPU", config)``
and ``CompiledModel.create_infer_request()``. On CPUs with bf16 support the CPU
plugin's default ``INFERENCE_PRECISION_HINT`` is bf16 (about 1.6x slower without
AMX, and less accurate), so f32 is always requested explicitly; INT8 Q/DQ models
still run their quantized layers in int8.

File preference: ``int8-openvino`` first, the INT8 form made for OpenVINO from the
same calibration ranges (float biases, the head's Q/DQ on the pooled tensor, so the
compiled graph has the kernels NNCF's model has; ``quantize/targets.py``), then
ONNX Runtime's ``int8-cpu`` form for artifacts made before it existed. A spec
names a file, so ``openvino:int8-cpu`` still runs ``model.int8-cpu.onnx``.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from resnet_deploy._optional import missing_reason, require
from resnet_deploy.errors import ArtifactError, BackendUnavailableError
from resnet_deploy.runtime.base import Runner, first_line


def cpu_compile_config(threads: int | None) -> dict[str, Any]:
    """compile_model properties: f32 math, latency mode, and the thread count if given.

    Shared with the OpenVINO+NNCF peer, so both are compiled exactly alike.
    """
    cfg: dict[str, Any] = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"}
    if threads:
        cfg["INFERENCE_NUM_THREADS"] = int(threads)
    return cfg


def make_batch_dynamic(ov: Any, model: Any) -> None:
    """Give an OpenVINO model's first input a dynamic batch axis if the file fixed it."""
    port = model.inputs[0]
    shape = port.get_partial_shape()
    if shape.rank.is_static and len(shape) == 4 and shape[0].is_static:
        dims = [ov.Dimension(-1)] + [shape[i] for i in range(1, 4)]
        model.reshape({port.get_any_name(): ov.PartialShape(dims)})


class OpenVINORunner(Runner):
    """OpenVINO CPU plugin; one infer request per calling thread, so calls can overlap."""

    backend = "openvino"
    formats = ("onnx",)
    thread_safe = True
    preferred_keys = ("int8-openvino", "int8-cpu", "int8-tensorrt", "fp32", "fp16")

    @classmethod
    def probe(cls) -> str | None:
        return missing_reason("openvino")

    def config(self) -> dict[str, Any]:
        return cpu_compile_config(self.threads)

    def _activate(self) -> None:
        ov = require("openvino", purpose="the openvino backend")
        core = ov.Core()
        try:
            model = core.read_model(str(self.model_path))
            self._check_contract(model)
            make_batch_dynamic(ov, model)
            self.compiled = core.compile_model(model, "CPU", self.config())
        except ArtifactError:
            raise
        except Exception as exc:  # OpenVINO raises plain RuntimeErrors
            raise BackendUnavailableError(
                f"OpenVINO cannot compile {self.entry.path} ({first_line(exc)}); "
                "use another backend, e.g. onnxruntime"
            ) from exc
        self._local = threading.local()

    def _check_contract(self, model: Any) -> None:
        port = model.inputs[0]
        shape = port.get_partial_shape()
        dims = [d.get_length() if d.is_static else None for d in shape] if shape.rank.is_static else []
        self.check_input(port.get_element_type().to_dtype().name, dims)

    def _request(self) -> Any:
        req = getattr(self._local, "request", None)
        if req is None:
            req = self._local.request = self.compiled.create_infer_request()
        return req

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        req = self._request()
        # zero-copy input: infer() is synchronous, so the array only has to live until it returns
        req.infer({0: np.ascontiguousarray(batch, dtype=self.input_dtype)}, share_inputs=True)
        # the output tensor's memory belongs to the request and is reused by the next call
        return np.array(req.get_output_tensor(0).data, dtype=np.float32, copy=True)

    def _deactivate(self) -> None:
        self._local = threading.local()
        self.compiled = None

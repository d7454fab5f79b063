"""ONNX Runtime on the CPU execution provider (FP32, INT8 Q/DQ, FP16 ONNX files).

API: onnxruntime.InferenceSession / SessionOptions (intra_op_num_threads,
graph_optimization_level) as documented at onnxruntime.ai/docs/api/python.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from resnet_deploy._optional import require, try_import, why_missing
from resnet_deploy.errors import BackendUnavailableError
from resnet_deploy.runtime.base import Runner, first_line


class OrtCpuRunner(Runner):
    """onnxruntime InferenceSession pinned to CPUExecutionProvider."""

    backend = "onnxruntime"
    formats = ("onnx",)
    thread_safe = True  # InferenceSession.run is documented as thread-safe
    providers: tuple[str, ...] = ("CPUExecutionProvider",)

    @classmethod
    def probe(cls) -> str | None:
        ort = try_import("onnxruntime")
        if ort is None:
            return f"onnxruntime is not installed ({why_missing('onnxruntime')})"
        return None

    def session_options(self) -> Any:
        ort = require("onnxruntime", purpose="the onnxruntime backend")
        so = ort.SessionOptions()
        if self.threads:
            so.intra_op_num_threads = int(self.threads)
            so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return so

    def _activate(self) -> None:
        ort = require("onnxruntime", purpose="the onnxruntime backend")
        try:
            self.session = ort.InferenceSession(
                str(self.model_path), sess_options=self.session_options(), providers=list(self.providers)
            )
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph types
            raise BackendUnavailableError(
                f"onnxruntime cannot load {self.entry.path} ({first_line(exc)}); re-export the artifact"
            ) from exc
        first = self.session.get_inputs()[0]
        self.input_name = first.name
        dtype = {"tensor(uint8)": "uint8", "tensor(float)": "float32"}.get(first.type, first.type)
        try:
            self.check_input(dtype, [d if isinstance(d, int) else None for d in first.shape])
        except Exception:
            self.session = None
            raise
        self.output_name = self.session.get_outputs()[0].name

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run([self.output_name], {self.input_name: batch})[0]

    def _deactivate(self) -> None:
        self.session = None

"""Logits of an ONNX model on eval data, for FP32-vs-quantised drift (``metrics.drift_metrics``).

All models run in ONNX Runtime on the CPU provider, so the ``tensorrt`` Q/DQ
model is judged by the same numbers as the ``cpu`` one (TensorRT itself is
checked by the engines stage on a GPU).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def run_logits(model_path: str | Path, x: np.ndarray, batch_size: int = 32, threads: int | None = None,
               optimise: bool = True) -> np.ndarray:
    """Logits of an ONNX model on ``x`` with ONNX Runtime (CPU provider, full optimisation).

    ``optimise=False`` runs every node as written: a Q/DQ model's quantisation noise
    simulated in float, with no int8 kernel (``benchmarks/int8_agreement.py``).
    """
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimise
                                   else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = int(threads)
    sess = ort.InferenceSession(str(model_path), sess_options=so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    out = [sess.run(None, {name: x[i : i + batch_size]})[0] for i in range(0, x.shape[0], batch_size)]
    return np.concatenate(out).astype(np.float32, copy=False)

"""FP32-vs-quantised drift on eval data: top-1/top-5, agreement, logit error, cosine.

All models run in ONNX Runtime on the CPU provider, so the ``tensorrt`` Q/DQ
model is judged by the same numbers as the ``cpu`` one (TensorRT itself is
checked by the engines stage on a GPU).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class EvalSet:
    """Preprocessed eval images held in memory, with labels when the source has them."""

    x: np.ndarray
    labels: np.ndarray | None
    name: str

    @property
    def n(self) -> int:
        return int(self.x.shape[0])


def run_logits(model_path: str | Path, x: np.ndarray, batch_size: int = 32, threads: int | None = None) -> np.ndarray:
    """Logits of an ONNX model on ``x`` with ONNX Runtime (CPU provider, full optimisation)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = int(threads)
    sess = ort.InferenceSession(str(model_path), sess_options=so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    out = [sess.run(None, {name: x[i : i + batch_size]})[0] for i in range(0, x.shape[0], batch_size)]
    return np.concatenate(out).astype(np.float32, copy=False)


def topk_accuracy(logits: np.ndarray, labels: np.ndarray, k: int) -> float:
    k = min(k, logits.shape[1])
    top = np.argpartition(-logits, k - 1, axis=1)[:, :k]
    return float(np.mean(np.any(top == labels[:, None], axis=1)))


def drift_metrics(ref: np.ndarray, test: np.ndarray, labels: np.ndarray | None) -> dict[str, Any]:
    """The contract's drift dict: top-1/top-5 for both (when labelled), agreement, max_abs, cosine, n."""
    ref = ref.astype(np.float64)
    test = test.astype(np.float64)
    num = np.sum(ref * test, axis=1)
    den = np.linalg.norm(ref, axis=1) * np.linalg.norm(test, axis=1)
    cosine = np.where(den > 0, num / np.maximum(den, 1e-30), 1.0)
    out: dict[str, Any] = {
        "agreement": float(np.mean(ref.argmax(1) == test.argmax(1))),
        "max_abs": float(np.max(np.abs(ref - test))),
        "cosine": float(np.mean(cosine)),
        "cosine_min": float(np.min(cosine)),
        "n": int(ref.shape[0]),
        "labelled": labels is not None,
    }
    if labels is not None:
        out.update(
            top1_fp32=topk_accuracy(ref, labels, 1),
            top1=topk_accuracy(test, labels, 1),
            top5_fp32=topk_accuracy(ref, labels, 5),
            top5=topk_accuracy(test, labels, 5),
        )
    return out


def accuracy_drop(drift: dict[str, Any]) -> float:
    """The guarded number, in percentage points: top-1 drop with labels, else disagreement."""
    if drift.get("labelled"):
        return 100.0 * (drift["top1_fp32"] - drift["top1"])
    return 100.0 * (1.0 - drift["agreement"])


def drop_label(drift: dict[str, Any]) -> str:
    return "top-1 drop" if drift.get("labelled") else "top-1 disagreement with FP32"

"""Batch-1 latency of a bare ONNX file in ONNX Runtime's CPU provider.

The benchmark scripts time ONNX files that are not (yet) in an artifact (an
export variant, a Q/DQ model being compared), so they cannot go through
``runtime.load``. This is their one timer; the statistics are ``LatencyStats``
(interpolated percentiles, as every bench report).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from resnet_deploy.bench.stats import LatencyStats


def onnx_file_latency(
    path: str | os.PathLike[str], size: int, *, threads: int, iters: int, warmup: int, seed: int = 1
) -> LatencyStats:
    """Time ``iters`` batch-1 runs after ``warmup`` (ORT_ENABLE_ALL, ``threads`` intra-op, 1 inter-op)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(Path(path)), sess_options=so, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(seed).standard_normal((1, 3, size, size)).astype(np.float32)
    name = sess.get_inputs()[0].name
    for _ in range(warmup):
        sess.run(None, {name: x})
    times = np.empty(iters, dtype=np.int64)
    for i in range(iters):
        t0 = time.perf_counter_ns()
        sess.run(None, {name: x})
        times[i] = time.perf_counter_ns() - t0
    return LatencyStats.from_ns(times)

"""The PyTorch CUDA rows of scripts/gpu_check.py: the artifact's model.pt2 on the GPU, no TensorRT needed.

Eager FP32, eager FP16, channels-last FP16, torch.compile and CUDA-graph replay
across batch 8 -> 4 -> 8 (``torch.cuda.CUDAGraph`` captured once per batch size
after a warm-up on a side stream, as the PyTorch CUDA-graphs notes describe),
each compared with the CPU reference (ONNX Runtime on model.fp32.onnx, or the
same model.pt2 on the CPU when onnxruntime is absent).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from gpu_check import PARITY_BATCHES, PROFILE, Report, Skip, compare, ort_cpu, parity_at_batches

from resnet_deploy._optional import try_import

TOLERANCE = {"fp32": 1e-3, "fp16": 2e-2}
# GPU_CHECK_TORCH_DEVICE=cpu runs the eager/compile rows on the CPU: how the unit test exercises this
# module's plumbing (load, reference, parity) on a host without a GPU. CUDA graphs still need CUDA.
DEVICE = os.environ.get("GPU_CHECK_TORCH_DEVICE", "cuda")


def cuda_torch(graphs: bool = False) -> Any:
    torch = try_import("torch")
    if torch is None:
        raise Skip("torch is not installed")
    if DEVICE == "cpu" and not graphs:
        return torch
    if not torch.cuda.is_available():
        raise Skip(f"torch {torch.__version__} sees no CUDA device (CPU build or no GPU)")
    return torch


def load_pt2(art: Path) -> Any:
    from resnet_deploy.artifact import read_manifest

    m = read_manifest(art)
    entry = next((f for f in m.files if f.format == "exported-program"), None)
    if entry is None:
        raise Skip("the artifact has no model.pt2 (export with --formats onnx,exported-program)")
    torch = cuda_torch()
    return torch.export.load(str(art / entry.path)).module()


def reference(art: Path, x: np.ndarray) -> np.ndarray:
    try:
        return ort_cpu(art, "model.fp32.onnx", x)
    except Skip:
        torch = try_import("torch")
        with torch.no_grad():
            return load_pt2(art)(torch.from_numpy(x)).numpy()


def on_gpu(module: Any, dtype: str, channels_last: bool) -> Callable[[np.ndarray], np.ndarray]:
    torch = cuda_torch()
    tdtype = torch.float16 if dtype == "fp16" else torch.float32
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    module = module.to(DEVICE).to(tdtype).to(memory_format=fmt)

    def infer(x: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(x).to(DEVICE).to(tdtype).contiguous(memory_format=fmt)
        with torch.no_grad():
            y = module(t)
        return y.float().cpu().numpy()

    return infer


def eager_row(art: Path, x: np.ndarray, dtype: str, channels_last: bool = False) -> tuple[str, dict]:
    infer = on_gpu(load_pt2(art), dtype, channels_last)
    return parity_at_batches(infer, reference(art, x[: PROFILE[2]]), x, TOLERANCE[dtype])


def compile_row(art: Path, x: np.ndarray) -> tuple[str, dict]:
    torch = cuda_torch()
    module = torch.compile(load_pt2(art).to(DEVICE), dynamic=True)
    infer = on_gpu(module, "fp32", False)
    return parity_at_batches(infer, reference(art, x[: PROFILE[2]]), x, TOLERANCE["fp32"])


def graph_replay_row(art: Path, x: np.ndarray) -> tuple[str, dict[str, Any]]:
    """Capture one graph per batch size (8 and 4), replay 8 -> 4 -> 8 with new data each time."""
    torch = cuda_torch(graphs=True)
    module = load_pt2(art).to("cuda")
    ref = reference(art, x[: PROFILE[2]])
    chw = x.shape[1:]
    graphs = {}
    with torch.no_grad():
        for n in (8, 4):
            static_in = torch.zeros((n, *chw), device="cuda")
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):
                    module(static_in)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                static_out = module(static_in)
            graphs[n] = (graph, static_in, static_out)
    metrics = {}
    for step, (n, start) in enumerate(((8, 0), (4, 8), (8, 4))):
        graph, static_in, static_out = graphs[n]
        static_in.copy_(torch.from_numpy(x[start:start + n]))
        graph.replay()
        torch.cuda.synchronize()
        metrics[f"replay{step}_batch{n}"] = compare(static_out.cpu().numpy(), ref[start:start + n],
                                                    TOLERANCE["fp32"], f"replay {step} (batch {n})")
    return "8 -> 4 -> 8 replays match the CPU reference", metrics


def torch_rows(report: Report, art: Path, x: np.ndarray) -> None:
    report.run("torch cuda eager fp32", lambda: eager_row(art, x, "fp32"))
    report.run("torch cuda eager fp16", lambda: eager_row(art, x, "fp16"))
    report.run("torch cuda channels-last fp16", lambda: eager_row(art, x, "fp16", channels_last=True))
    report.run("torch.compile fp32", lambda: compile_row(art, x))
    report.run("torch CUDA graph 8 -> 4 -> 8", lambda: graph_replay_row(art, x))


__all__ = ["PARITY_BATCHES", "torch_rows"]

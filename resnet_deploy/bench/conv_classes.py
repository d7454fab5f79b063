"""Convolution multiply-adds by kernel class ("3x3@14": kernel, output width) of an OpenVINO model.

Two benchmarks need them: ``layer_rates.py`` sets each class's MACs against its time in
OpenVINO's per-node profile, and ``int8_ceiling.py --artifact`` asks how fast the model
could be if each class ran at the rate its own kernel size reached in the INT8 chains of
the same round: when even that bound misses a share of the ceiling, the kernels, not the
model's graph, are what miss it.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np


def conv_macs(model: Any) -> dict[str, tuple[int, str]]:
    """Friendly name -> (multiply-adds, "KxK@W" with W the output width) of every convolution of a statically
    shaped OpenVINO model, and of every MatMul on ``[N, H*W, C]`` rows (a 1x1 convolution in GEMM form)."""
    out = {}
    for op in model.get_ordered_ops():
        if op.get_type_name() == "MatMul" and len(op.get_output_shape(0)) == 3:
            o = [int(d) for d in op.get_output_shape(0)]  # N, H*W, Cout
            k = int(op.input(1).get_shape()[0])  # Cin
            out[op.get_friendly_name()] = (int(np.prod(o)) * k, f"1x1@{int(round(o[1] ** 0.5))}")
            continue
        if op.get_type_name() not in ("Convolution", "GroupConvolution"):
            continue
        o = [int(d) for d in op.get_output_shape(0)]  # N, Cout, H, W
        w = [int(d) for d in op.input(1).get_shape()]  # Cout, Cin, kh, kw (GroupConvolution: G, Cout/G, Cin/G, kh, kw)
        per_out = int(np.prod(w[-3:]))
        out[op.get_friendly_name()] = (int(np.prod(o)) * per_out, f"{w[-2]}x{w[-1]}@{o[-1]}")
    return out


def read_static(path: Path, batch: int = 1) -> Any:
    """An ONNX file read by OpenVINO with its input fixed to ``batch`` (so every shape is static)."""
    import openvino as ov

    model = ov.Core().read_model(str(path))
    port = model.inputs[0]
    shape = port.get_partial_shape()
    model.reshape({port.get_any_name(): ov.PartialShape([batch] + [shape[i].get_length() for i in range(1, 4)])})
    return model


def macs_by_class(macs: Mapping[str, tuple[int, str]]) -> dict[str, int]:
    """Per-layer (MACs, class) -> total MACs per class."""
    out: dict[str, int] = collections.defaultdict(int)
    for m, cls in macs.values():
        out[cls] += m
    return dict(out)


def class_rate(cls: str, rates: Mapping[str, float]) -> float:
    """The rate (GMAC/s) a class is allowed: its own class's, else the best of its kernel size, else the best.

    ``rates`` maps chain classes ("3x3@14", "1x1@56") to GMAC/s; a class with no chain
    of its own (ResNet's 1x1 at 28 or 7, the 7x7 stem) gets the most favourable rate
    available, so the bound errs towards the model.
    """
    if cls in rates:
        return rates[cls]
    size = cls.split("@")[0]
    same = [r for c, r in rates.items() if c.split("@")[0] == size]
    return max(same) if same else max(rates.values())


def bound_ms(classes: Mapping[str, int], rates: Mapping[str, float]) -> float:
    """Milliseconds the convolutions would take with each class at ``class_rate`` and nothing else running."""
    return sum(m / (class_rate(cls, rates) * 1e9) * 1e3 for cls, m in classes.items())

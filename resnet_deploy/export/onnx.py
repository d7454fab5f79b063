"""PyTorch -> one self-contained ONNX file with a dynamic batch axis.

The torch.export-based ("dynamo") exporter is used: in torch 2.13 it is the
default, it runs onnxscript's optimizer (constant folding, Conv+BN fusion,
dead-code removal) and it can target opsets beyond the legacy exporter's 20.
See benchmarks/results/export.md for the measured comparison with the legacy
TorchScript-based exporter, kept here (``exporter="legacy"``) for that benchmark.

API facts (torch 2.13 ``help(torch.onnx.export)``): ``dynamic_shapes`` with a
``torch.export.Dim`` for dynamo, ``dynamic_axes`` for legacy; opsets below 18
are silently left at 18 by the dynamo exporter, so we refuse them up front.
"""

from __future__ import annotations

import contextlib
import logging
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from resnet_deploy.checks import is_int
from resnet_deploy.errors import ResNetDeployError

INPUT_NAME = "input"
OUTPUT_NAME = "logits"
BATCH_AXIS = "batch"
MIN_DYNAMO_OPSET = 18  # torchlib's own opset; lower requests are not honoured
LEGACY_MAX_OPSET = 20
EXAMPLE_BATCH = 2  # batch 1 would let torch.export specialise the batch dim to a constant


def supported_opsets(exporter: str = "dynamo") -> range:
    """Opsets the exporter really writes (the onnx package's newest is the upper bound)."""
    import onnx

    top = int(onnx.defs.onnx_opset_version())
    if exporter == "legacy":
        return range(7, min(LEGACY_MAX_OPSET, top) + 1)
    return range(MIN_DYNAMO_OPSET, top + 1)


def check_opset(opset: int | None, exporter: str = "dynamo") -> int | None:
    """None (exporter default) or an opset the exporter supports; a one-line error otherwise."""
    if opset is None:
        return None
    ok = supported_opsets(exporter)
    if not is_int(opset) or opset not in ok:
        raise ResNetDeployError(
            f"ONNX opset {opset} is not supported by the {exporter} exporter; "
            f"choose {ok.start}..{ok.stop - 1} or leave --opset out for the default"
        )
    return opset


@contextlib.contextmanager
def quiet_torch_export() -> Iterator[None]:
    """Silence the exporters' deprecation/future warnings and info logging, for this call only.

    torch.onnx logs one warning per missing torchvision op and torch.jit warns that
    it is deprecated; neither is actionable for our users.
    """
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._export", "onnxscript")]
    levels = [lg.level for lg in loggers]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            warnings.filterwarnings("ignore", module=r"torch\.(jit|onnx|export)")
            for lg in loggers:
                lg.setLevel(logging.ERROR)
            yield
    finally:
        for lg, lvl in zip(loggers, levels, strict=True):
            lg.setLevel(lvl)


def export_onnx(
    model: Any,
    path: str | Path,
    input_size: int,
    *,
    opset: int | None = None,
    exporter: str = "dynamo",
    in_chans: int = 3,
) -> dict[str, Any]:
    """Write ``model`` (eval mode, BN already folded) to one .onnx file; returns facts about it.

    The file has input ``input`` [batch, C, S, S] (batch dynamic, named "batch"),
    output ``logits`` [batch, classes], all weights inside (no external data), and
    passes ``onnx.checker.check_model(full_check=True)``.
    """
    import torch

    check_opset(opset, exporter)
    path = Path(path)
    example = torch.randn(EXAMPLE_BATCH, in_chans, input_size, input_size)
    t0 = time.perf_counter()
    with quiet_torch_export(), torch.no_grad():
        if exporter == "dynamo":
            batch = torch.export.Dim(BATCH_AXIS, min=1)
            program = torch.onnx.export(
                model, (example,), dynamo=True, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                dynamic_shapes=({0: batch},), opset_version=opset, optimize=True, verbose=False,
            )
            program.save(path, external_data=False)
        elif exporter == "legacy":
            torch.onnx.export(
                model, (example,), str(path), dynamo=False, input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME], opset_version=opset or LEGACY_MAX_OPSET,
                dynamic_axes={INPUT_NAME: {0: BATCH_AXIS}, OUTPUT_NAME: {0: BATCH_AXIS}},
                do_constant_folding=True,
            )
        else:
            raise ValueError(f"unknown exporter {exporter!r}")
    seconds = time.perf_counter() - t0
    info = inspect_onnx(path)
    if opset is not None and info["opset"] != opset:
        raise ResNetDeployError(
            f"the {exporter} exporter wrote opset {info['opset']} instead of {opset}; "
            "choose another --opset or leave it out"
        )
    return {**info, "exporter": exporter, "seconds": seconds}


def inspect_onnx(path: str | Path) -> dict[str, Any]:
    """Validate a saved .onnx file and describe it: opset, node count, I/O, self-contained."""
    import onnx
    from onnx.external_data_helper import uses_external_data

    path = Path(path)
    onnx.checker.check_model(str(path), full_check=True)
    model = onnx.load(str(path), load_external_data=False)
    external = [t.name for t in model.graph.initializer if uses_external_data(t)]
    if external:
        raise ResNetDeployError(
            f"'{path.name}' keeps {len(external)} weights in external files; "
            "it must be one self-contained file (re-export)"
        )
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    op_types: dict[str, int] = {}
    for node in model.graph.node:
        op_types[node.op_type] = op_types.get(node.op_type, 0) + 1
    return {
        "opset": opset,
        "nodes": len(model.graph.node),
        "op_types": dict(sorted(op_types.items())),
        "inputs": [_value_shape(v) for v in model.graph.input],
        "outputs": [_value_shape(v) for v in model.graph.output],
        "size": path.stat().st_size,
    }


def _value_shape(v: Any) -> dict[str, Any]:
    dims = [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
    return {"name": v.name, "shape": dims}


def slim_onnx(src: str | Path, dst: str | Path) -> dict[str, Any]:
    """Run onnxslim on a saved model (used by the exporter benchmark to judge it)."""
    import onnx
    import onnxslim

    t0 = time.perf_counter()
    with quiet_torch_export():
        slimmed = onnxslim.slim(onnx.load(str(src)))
    onnx.save(slimmed, str(dst), save_as_external_data=False)
    return {**inspect_onnx(dst), "seconds": time.perf_counter() - t0}

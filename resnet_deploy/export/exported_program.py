"""PyTorch -> a torch.export ExportedProgram file (model.pt2) with a dynamic batch.

The run side's torch backends load it with ``torch.export.load(path).module()``,
so they need neither ``resnet_deploy.models`` nor the checkpoint. The batch
dimension is a ``torch.export.Dim`` (min 1, unbounded), spatial size is fixed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from resnet_deploy.export.onnx import BATCH_AXIS, EXAMPLE_BATCH, quiet_torch_export


def export_program(model: Any, path: str | Path, input_size: int, *, in_chans: int = 3) -> dict[str, Any]:
    """torch.export.export with a dynamic batch dim, then torch.export.save; returns facts."""
    import torch

    example = torch.randn(EXAMPLE_BATCH, in_chans, input_size, input_size)
    batch = torch.export.Dim(BATCH_AXIS, min=1)
    t0 = time.perf_counter()
    with quiet_torch_export(), torch.no_grad():
        program = torch.export.export(model.eval(), (example,), dynamic_shapes=({0: batch},))
        torch.export.save(program, str(path))
    return {"dynamic_batch": True, "seconds": time.perf_counter() - t0}


def load_program(path: str | Path) -> Any:
    """The saved program as a callable module (what the runtime's torch backends do)."""
    import torch

    with quiet_torch_export():
        return torch.export.load(str(path)).module()

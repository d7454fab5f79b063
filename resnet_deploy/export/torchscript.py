"""PyTorch -> a traced, frozen TorchScript file (model.torchscript.pt).

Tracing is enough for ResNet (no data-dependent control flow) and the traced
graph keeps the batch dimension symbolic (``flatten(x, 1)``), so any batch size
runs. ``torch.jit.freeze`` inlines the weights as constants and lets the JIT fold
them. TorchScript is deprecated in torch 2.x; its warnings are silenced for
these calls only (see ``quiet_torch_export``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from resnet_deploy.export.onnx import EXAMPLE_BATCH, quiet_torch_export


def export_torchscript(model: Any, path: str | Path, input_size: int, *, in_chans: int = 3) -> dict[str, Any]:
    """Trace ``model`` (eval mode) at a small example batch, freeze, save; returns facts."""
    import torch

    example = torch.randn(EXAMPLE_BATCH, in_chans, input_size, input_size)
    t0 = time.perf_counter()
    with quiet_torch_export(), torch.no_grad():
        traced = torch.jit.trace(model.eval(), example, check_trace=False)
        frozen = torch.jit.freeze(traced)
        frozen.save(str(path))
    return {"traced": True, "frozen": True, "seconds": time.perf_counter() - t0}


def load_torchscript(path: str | Path) -> Any:
    """Load a saved TorchScript module on CPU (warnings silenced)."""
    import torch

    with quiet_torch_export():
        return torch.jit.load(str(path), map_location="cpu").eval()

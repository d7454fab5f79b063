"""TorchScript (model.torchscript.pt) via ``torch.jit.load``, frozen for inference.

``torch.jit.optimize_for_inference`` freezes the module and folds Conv+BN and
similar patterns; on resnet20 it is numerically equivalent (max abs diff ~1e-5)
and is used unless it fails on a particular graph, in which case the plain
scripted module runs (``optimized`` says which).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from resnet_deploy.runtime.base import Runner
from resnet_deploy.runtime.torch_eager import import_torch, probe_torch, set_threads


class TorchScriptRunner(Runner):
    """Runs a traced/scripted module under ``torch.inference_mode``."""

    backend = "torchscript"
    formats = ("torchscript",)

    @classmethod
    def probe(cls) -> str | None:
        return probe_torch()

    def _activate(self) -> None:
        torch = import_torch()
        set_threads(torch, self.threads)
        self._torch = torch
        module = torch.jit.load(str(self.model_path), map_location="cpu").eval()
        self.optimized = False
        if self.options.get("optimize", True):
            try:
                module = torch.jit.optimize_for_inference(module)
                self.optimized = True
            except Exception:  # optimisation is best-effort; the plain module is correct
                pass
        self.module: Any = module

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        x = self._torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))
        with self._torch.inference_mode():
            out = self.module(x)
        if isinstance(out, (tuple, list)):
            out = out[0]
        return out.float().numpy()

    def _deactivate(self) -> None:
        self.module = None

"""PyTorch eager on the artifact's ExportedProgram (model.pt2), optionally channels-last.

``torch.export.load(path).module()`` rebuilds the model from the artifact alone,
so the run side needs neither ``resnet_deploy.models`` nor the checkpoint. torch
is imported in ``activate()`` only.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from resnet_deploy._optional import missing_reason, require
from resnet_deploy.runtime.base import Runner


def probe_torch() -> str | None:
    """Why torch cannot be used here, or None (checked without importing torch)."""
    return missing_reason("torch")


def import_torch() -> Any:
    return require("torch", purpose="the PyTorch backends")


def set_threads(torch: Any, threads: int | None) -> None:
    """torch's intra-op pool is process-wide; set it only when asked."""
    if threads:
        torch.set_num_threads(int(threads))


def load_exported_module(path: str) -> Any:
    """The ExportedProgram's nn.Module, switched to inference behaviour where supported."""
    torch = import_torch()
    module = torch.export.load(path).module()
    # Exported modules refuse .eval()/.train() in some torch versions; the graph
    # was captured in eval mode by the exporter, so a refusal is harmless.
    with contextlib.suppress(NotImplementedError, RuntimeError):
        module.eval()
    return module


class TorchRunner(Runner):
    """Runs model.pt2 in eager PyTorch under ``torch.inference_mode``."""

    backend = "torch"
    formats = ("exported-program",)
    channels_last = False

    @classmethod
    def probe(cls) -> str | None:
        return probe_torch()

    def _activate(self) -> None:
        torch = import_torch()
        set_threads(torch, self.threads)
        self._torch = torch
        module = load_exported_module(str(self.model_path))
        if self.channels_last:
            module = module.to(memory_format=torch.channels_last)
        self.module = module

    def _to_tensor(self, batch: np.ndarray) -> Any:
        x = self._torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))
        if self.channels_last:
            x = x.contiguous(memory_format=self._torch.channels_last)
        return x

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        with self._torch.inference_mode():
            out = self.module(self._to_tensor(batch))
        if isinstance(out, (tuple, list)):
            out = out[0]
        return out.float().numpy()

    def _deactivate(self) -> None:
        self.module = None


class TorchChannelsLastRunner(TorchRunner):
    """Same as ``torch`` with NHWC (channels_last) memory format on input and weights."""

    backend = "torch-channels-last"
    channels_last = True

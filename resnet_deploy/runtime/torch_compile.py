"""``torch.compile`` (Inductor, default mode) on the artifact's ExportedProgram module.

Inductor generates C++ for the CPU, so a C++ compiler must be on PATH (probe
says so when it is not). Compilation is slow (tens of seconds on 2 cores), so it
happens in ``activate()`` with a warm-up call at the batch size the caller will
use (``batch=`` option, default 1); another batch size triggers a recompile on
first use.
"""

from __future__ import annotations

import os
import shutil

import numpy as np

from resnet_deploy.errors import BackendUnavailableError
from resnet_deploy.runtime.base import first_line
from resnet_deploy.runtime.torch_eager import TorchRunner, import_torch, probe_torch


def find_cxx() -> str | None:
    """The C++ compiler Inductor would use ($CXX, then c++/g++/clang++), or None."""
    names = [os.environ["CXX"]] if os.environ.get("CXX") else []
    for name in [*names, "c++", "g++", "clang++"]:
        if shutil.which(name):
            return name
    return None


class TorchCompileRunner(TorchRunner):
    """Inductor-compiled model.pt2; compile + warm-up in activate()."""

    backend = "torch-compile"

    @classmethod
    def probe(cls) -> str | None:
        reason = probe_torch()
        if reason:
            return reason
        if find_cxx() is None:
            return "no C++ compiler on PATH (torch.compile's Inductor needs g++ or clang++; set CXX)"
        return None

    def _activate(self) -> None:
        super()._activate()  # loads model.pt2 and sets threads
        torch = import_torch()
        batch = max(1, int(self.options.get("batch", 1) or 1))
        shape = (batch, *(int(d) for d in self.manifest.input.shape[1:]))
        self.eager = self.module
        self.module = torch.compile(self.eager, mode=self.options.get("mode"))
        try:
            self._infer(np.zeros(shape, dtype=np.float32))
        except Exception as exc:  # Inductor failures are long; keep one line
            self.module = None
            raise BackendUnavailableError(
                f"torch.compile failed on {self.entry.path} ({first_line(exc)}); use backend 'torch'"
            ) from exc

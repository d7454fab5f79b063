"""EvalSet: eval images held in memory once, fed to every model identically.

Quantize (FP32-vs-INT8 drift under the accuracy guard) and bench (drift of every
backend) both measure on one of these; it lives in ``data`` so both may import
it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class EvalSet:
    """Preprocessed eval inputs with their labels (None when unknown or of another label space)."""

    x: np.ndarray  # [N,3,S,S] (center) or [N,10,3,S,S] (ten-crop)
    labels: np.ndarray | None
    name: str
    mode: str = "center"  # "center" or "ten-crop" (bench.drift.EVAL_MODES)
    sha256: str = ""

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

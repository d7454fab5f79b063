"""Export: a ResNet (+ checkpoint) -> ONNX / TorchScript / ExportedProgram files with a parity gate.

``export_artifact(ExportConfig(...))`` writes a complete artifact directory
(manifest.json + model files) atomically; ``compare_logits`` is the parity
metric shared with the FP16/INT8 stages. Importing this package does not import
torch; the functions do.
"""

from __future__ import annotations

from resnet_deploy.export.config import (
    DEFAULT_FORMATS,
    EXPORT_FORMATS,
    ExportConfig,
    ExportPlan,
    ExportResult,
)
from resnet_deploy.export.parity import compare_logits
from resnet_deploy.export.pipeline import export_artifact

__all__ = [
    "DEFAULT_FORMATS",
    "EXPORT_FORMATS",
    "ExportConfig",
    "ExportPlan",
    "ExportResult",
    "compare_logits",
    "export_artifact",
]

"""What production services import: load an artifact and run it.

Must import without torch, tensorrt or onnxruntime-gpu; runners import their
backend inside ``activate()``.
"""

from __future__ import annotations

from resnet_deploy.runtime.base import Runner
from resnet_deploy.runtime.registry import BACKENDS, backend_names, runner_class

__all__ = ["BACKENDS", "Runner", "backend_names", "runner_class"]

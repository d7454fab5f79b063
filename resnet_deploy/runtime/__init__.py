"""What production services import: load an artifact and run it.

Must import without torch, tensorrt or onnxruntime-gpu; runners import their
backend inside ``activate()``, and probes check for modules without importing them.

    from resnet_deploy.runtime import load
    with load("artifacts/resnet50") as p:
        print(p.backend, p.predict("cat.jpg", top_k=5)[0].to_dict())
"""

from __future__ import annotations

from resnet_deploy.runtime.base import Runner
from resnet_deploy.runtime.predictor import AUTO_ORDER, Prediction, Predictor, load
from resnet_deploy.runtime.registry import BACKENDS, backend_names, runner_class
from resnet_deploy.runtime.resolve import Candidate, candidates, make_runner, resolve

__all__ = [
    "AUTO_ORDER",
    "BACKENDS",
    "Candidate",
    "Prediction",
    "Predictor",
    "Runner",
    "backend_names",
    "candidates",
    "load",
    "make_runner",
    "resolve",
    "runner_class",
]

"""resnet-deploy: take a ResNet from PyTorch to production.

Only light, public names live here; heavy modules (torch, onnxruntime,
tensorrt) are imported by the sub-packages that need them, so that
``import resnet_deploy.runtime`` stays cheap for production services.
"""

from __future__ import annotations

from resnet_deploy.errors import ResNetDeployError

__version__ = "0.1.0"

__all__ = ["ResNetDeployError", "__version__"]

"""The ResNet family: blocks, architecture table (ArchSpec rows), registry, weight loading, BN folding."""

from __future__ import annotations

from resnet_deploy.models.archs import ARCHS, ArchSpec
from resnet_deploy.models.registry import create_model, get_arch, list_models

__all__ = ["ARCHS", "ArchSpec", "create_model", "get_arch", "list_models"]

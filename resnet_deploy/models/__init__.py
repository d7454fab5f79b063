"""The ResNet family: blocks, variants table, registry, weight loading, BN folding."""

from __future__ import annotations

from resnet_deploy.models.registry import create_model, get_variant, list_models
from resnet_deploy.models.variants import VARIANTS, Variant

__all__ = ["VARIANTS", "Variant", "create_model", "get_variant", "list_models"]

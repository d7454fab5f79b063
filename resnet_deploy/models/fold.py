"""Fold inference-mode BatchNorm into the preceding convolution.

In eval mode BN is a per-channel affine map, so ``bn(conv(x))`` equals one conv
with rescaled weights and a bias. Folding removes a memory pass per conv for
eager PyTorch and gives exporters/quantizers a graph whose conv weights already
carry the BN scale (per-channel INT8 ranges then match what runs).
"""

from __future__ import annotations

import copy
import re

import torch
from torch import nn

_CONV_NAME = re.compile(r"^conv(\d+)$")


def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """Rewrite ``conv`` in place so that it computes ``bn(conv(x))`` with BN's running stats."""
    if bn.num_features != conv.out_channels:
        raise ValueError(f"BatchNorm has {bn.num_features} channels, conv gives {conv.out_channels}")
    w = conv.weight.detach().double()
    mean = bn.running_mean.detach().double()
    var = bn.running_var.detach().double()
    gamma = bn.weight.detach().double() if bn.weight is not None else torch.ones_like(mean)
    beta = bn.bias.detach().double() if bn.bias is not None else torch.zeros_like(mean)
    bias = conv.bias.detach().double() if conv.bias is not None else torch.zeros_like(mean)
    scale = gamma / torch.sqrt(var + bn.eps)
    dtype = conv.weight.dtype
    conv.weight = nn.Parameter((w * scale.reshape(-1, 1, 1, 1)).to(dtype))
    conv.bias = nn.Parameter(((bias - mean) * scale + beta).to(dtype))


def _foldable(conv: nn.Module, bn: nn.Module) -> bool:
    return (
        isinstance(conv, nn.Conv2d)
        and isinstance(bn, nn.BatchNorm2d)
        and bn.running_mean is not None
        and bn.running_var is not None
    )


def _pairs(parent: nn.Module) -> list[tuple[str, str]]:
    """(conv, bn) child names inside one module: convN/bnN, or neighbours in a Sequential."""
    children = dict(parent.named_children())
    pairs = []
    for name, child in children.items():
        m = _CONV_NAME.match(name)
        if m and _foldable(child, children.get(f"bn{m.group(1)}")):
            pairs.append((name, f"bn{m.group(1)}"))
    if isinstance(parent, nn.Sequential):
        names = list(children)
        for a, b in zip(names, names[1:], strict=False):
            if _foldable(children[a], children[b]):
                pairs.append((a, b))
    return pairs


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An eval-mode deep copy with every conv->BatchNorm pair folded and the BN made Identity.

    The original model is untouched. ResNet's pairs are ``convN``/``bnN`` in the
    stem and blocks and ``downsample.0``/``downsample.1``; grouped convs fold the
    same way (BN is per output channel); BN-free architectures come back unchanged
    apart from being a copy.
    """
    folded = copy.deepcopy(model).eval()
    with torch.no_grad():
        for parent in list(folded.modules()):
            for conv_name, bn_name in _pairs(parent):
                fold_conv_bn(getattr(parent, conv_name), getattr(parent, bn_name))
                setattr(parent, bn_name, nn.Identity())
    return folded


def count_batchnorm(model: nn.Module) -> int:
    """How many BatchNorm2d layers remain (0 after folding a ResNet)."""
    return sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())

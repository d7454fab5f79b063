"""Residual blocks with torchvision's attribute names (conv1/bn1/.../downsample).

Keeping the names exactly lets real torchvision and timm checkpoints load with
``strict=True``. ``norm=False`` gives the BN-free architectures (convs carry a bias,
no BatchNorm), ``stride_in_1x1`` the original-paper (v1) bottleneck.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv3x3(cin: int, cout: int, stride: int = 1, groups: int = 1, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, groups=groups, bias=bias)


def conv1x1(cin: int, cout: int, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 1, stride=stride, bias=bias)


def norm_or_identity(channels: int, norm: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if norm else nn.Identity()


class ShortcutA(nn.Module):
    """Option-A shortcut of the CIFAR ResNets: stride-2 subsample, zero-pad channels (no weights)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.pad = cout - cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        half = self.pad // 2
        return F.pad(x, (0, 0, 0, 0, half, self.pad - half))


class BasicBlock(nn.Module):
    """Two 3x3 convs (ResNet-18/34, CIFAR ResNets)."""

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        stride_in_1x1: bool = False,
        norm: bool = True,
    ) -> None:
        super().__init__()
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock supports only groups=1 and base_width=64")
        bias = not norm
        self.conv1 = conv3x3(inplanes, planes, stride, bias=bias)
        self.bn1 = norm_or_identity(planes, norm)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes, bias=bias)
        self.bn2 = norm_or_identity(planes, norm)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (grouped for ResNeXt) -> 1x1 with 4x expansion (ResNet-50 and deeper)."""

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        stride_in_1x1: bool = False,
        norm: bool = True,
    ) -> None:
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        bias = not norm
        s1, s3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1 = conv1x1(inplanes, width, stride=s1, bias=bias)
        self.bn1 = norm_or_identity(width, norm)
        self.conv2 = conv3x3(width, width, stride=s3, groups=groups, bias=bias)
        self.bn2 = norm_or_identity(width, norm)
        self.conv3 = conv1x1(width, planes * self.expansion, bias=bias)
        self.bn3 = norm_or_identity(planes * self.expansion, norm)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


BLOCKS: dict[str, type[nn.Module]] = {"basic": BasicBlock, "bottleneck": Bottleneck}

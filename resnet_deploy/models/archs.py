"""The architecture table: one ArchSpec row per architecture drives the whole family (timm style).

(Not to be confused with the *variant* v1.5/v1, which is where bottlenecks put
their stride: a ``create_model`` argument, not a table row.)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ArchSpec:
    """One architecture. ``stem='cifar'`` is the paper's 3-stage 16/32/64 CIFAR net."""

    name: str
    block: str  # "basic" | "bottleneck"
    layers: tuple[int, ...]
    groups: int = 1
    width_per_group: int = 64
    stem: str = "imagenet"  # "imagenet": 7x7/2 + maxpool; "cifar": 3x3/1
    widths: tuple[int, ...] = (64, 128, 256, 512)
    shortcut: str = "B"  # "B": 1x1 conv projection; "A": subsample + zero-pad
    norm: bool = True
    default_input_size: int = 224
    family: str = "resnet"
    description: str = ""


def _cifar(depth: int) -> ArchSpec:
    n = (depth - 2) // 6
    return ArchSpec(
        name=f"resnet{depth}",
        block="basic",
        layers=(n, n, n),
        stem="cifar",
        widths=(16, 32, 64),
        shortcut="A",
        default_input_size=32,
        family="cifar-resnet",
        description=f"CIFAR ResNet-{depth} (He et al. 2015, option-A shortcut)",
    )


ARCHS: dict[str, ArchSpec] = {
    v.name: v
    for v in [
        ArchSpec("resnet18", "basic", (2, 2, 2, 2), description="ResNet-18"),
        ArchSpec("resnet34", "basic", (3, 4, 6, 3), description="ResNet-34"),
        ArchSpec("resnet50", "bottleneck", (3, 4, 6, 3), description="ResNet-50"),
        ArchSpec("resnet101", "bottleneck", (3, 4, 23, 3), description="ResNet-101"),
        ArchSpec("resnet152", "bottleneck", (3, 8, 36, 3), description="ResNet-152"),
        ArchSpec("wide_resnet50_2", "bottleneck", (3, 4, 6, 3), width_per_group=128,
                family="wide-resnet", description="Wide ResNet-50-2"),
        ArchSpec("wide_resnet101_2", "bottleneck", (3, 4, 23, 3), width_per_group=128,
                family="wide-resnet", description="Wide ResNet-101-2"),
        ArchSpec("resnext50_32x4d", "bottleneck", (3, 4, 6, 3), groups=32, width_per_group=4,
                family="resnext", description="ResNeXt-50 32x4d"),
        ArchSpec("resnext101_32x8d", "bottleneck", (3, 4, 23, 3), groups=32, width_per_group=8,
                family="resnext", description="ResNeXt-101 32x8d"),
        ArchSpec("resnext101_64x4d", "bottleneck", (3, 4, 23, 3), groups=64, width_per_group=4,
                family="resnext", description="ResNeXt-101 64x4d"),
        _cifar(20),
        _cifar(32),
        _cifar(44),
        _cifar(56),
        _cifar(110),
        ArchSpec("resnet18_nobn", "basic", (2, 2, 2, 2), norm=False, family="resnet-nobn",
                description="ResNet-18, BN-free BasicBlock (conv bias, no BatchNorm)"),
        ArchSpec("resnet34_nobn", "basic", (3, 4, 6, 3), norm=False, family="resnet-nobn",
                description="ResNet-34, BN-free BasicBlock (conv bias, no BatchNorm)"),
    ]
}

# Accepted spellings: the seeds' ResNet_18 ... ResNet_152, and dashes.
ALIASES: dict[str, str] = {f"resnet_{d}": f"resnet{d}" for d in (18, 34, 50, 101, 152)}

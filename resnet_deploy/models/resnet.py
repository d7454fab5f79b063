"""The ResNet network built from an ArchSpec row."""

from __future__ import annotations

import torch
from torch import nn

from resnet_deploy.models.archs import ArchSpec
from resnet_deploy.models.blocks import BLOCKS, ShortcutA, conv1x1, norm_or_identity


class ResNet(nn.Module):
    """ImageNet-style (4 stages) or CIFAR-style (3 stages) ResNet with torchvision key names."""

    def __init__(
        self,
        spec: ArchSpec,
        num_classes: int = 1000,
        in_chans: int = 3,
        stride_in_1x1: bool = False,
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__()
        self.arch_spec = spec
        self.num_classes = num_classes
        self.in_chans = in_chans
        block = BLOCKS[spec.block]
        self._block = block
        self._stride_in_1x1 = stride_in_1x1
        norm = spec.norm
        self.inplanes = spec.widths[0]
        if spec.stem == "cifar":
            self.conv1 = nn.Conv2d(in_chans, self.inplanes, 3, 1, 1, bias=not norm)
            self.bn1 = norm_or_identity(self.inplanes, norm)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.Identity()
        else:
            self.conv1 = nn.Conv2d(in_chans, self.inplanes, 7, 2, 3, bias=not norm)
            self.bn1 = norm_or_identity(self.inplanes, norm)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        for i, (width, n) in enumerate(zip(spec.widths, spec.layers, strict=True)):
            stride = 1 if i == 0 else 2
            setattr(self, f"layer{i + 1}", self._make_layer(width, n, stride))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(spec.widths[-1] * block.expansion, num_classes)
        self._init_weights(zero_init_residual)

    def _make_layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        v = self.arch_spec
        block = self._block
        out_ch = planes * block.expansion
        downsample: nn.Module | None = None
        if stride != 1 or self.inplanes != out_ch:
            if v.shortcut == "A":
                downsample = ShortcutA(self.inplanes, out_ch, stride)
            else:
                downsample = nn.Sequential(
                    conv1x1(self.inplanes, out_ch, stride, bias=not v.norm),
                    norm_or_identity(out_ch, v.norm),
                )
        kw = dict(groups=v.groups, base_width=v.width_per_group,
                  stride_in_1x1=self._stride_in_1x1, norm=v.norm)
        layers = [block(self.inplanes, planes, stride, downsample, **kw)]
        self.inplanes = out_ch
        layers += [block(self.inplanes, planes, **kw) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def _init_weights(self, zero_init_residual: bool) -> None:
        if self.conv1.weight.is_meta:  # shape-only model (MAC counting): nothing to draw, and
            return  # torch's meta normal_ imports torch._dynamo (seconds) on first use
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                last = getattr(m, "bn3", None) or getattr(m, "bn2", None)
                if isinstance(last, nn.BatchNorm2d):
                    nn.init.zeros_(last.weight)

    @property
    def stages(self) -> list[nn.Sequential]:
        return [getattr(self, f"layer{i + 1}") for i in range(len(self.arch_spec.layers))]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for stage in self.stages:
            x = stage(x)
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.forward_features(x))

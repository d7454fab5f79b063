"""Shared fixtures for the model-zoo tests: one tiny trained-looking resnet20 and its files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

from resnet_deploy.models import create_model
from resnet_deploy.models.weights import save_weights


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny models gain nothing from intra-op threads, and OpenMP spin-waits make them
    100x slower when the CPU is shared; restore the setting for other test folders."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def randomise_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BatchNorm non-trivial running stats and affine params (as after training)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(n, generator=g) * 0.5 + 0.5)
                m.bias.copy_(torch.rand(n, generator=g) * 0.4 - 0.2)
    return model


@pytest.fixture(scope="session")
def tiny_model() -> nn.Module:
    """resnet20 (CIFAR, 10 classes) with randomised BN stats, in eval mode."""
    torch.manual_seed(0)
    return randomise_bn(create_model("resnet20", num_classes=10)).eval()


@pytest.fixture(scope="session")
def tiny_input() -> torch.Tensor:
    return torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="session")
def weights_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model: nn.Module) -> Path:
    """The tiny model saved as .pth and .safetensors (others derive bad files from these)."""
    d = tmp_path_factory.mktemp("weights")
    save_weights(tiny_model, d / "r20.pth")
    save_weights(tiny_model, d / "r20.safetensors")
    return d

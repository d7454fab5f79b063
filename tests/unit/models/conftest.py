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


from models_helpers import randomise_bn  # noqa: E402


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

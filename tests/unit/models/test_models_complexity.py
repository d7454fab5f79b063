"""MAC and parameter counts measured by hooks; the published numbers as the yardstick."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from resnet_deploy.errors import ModelError
from resnet_deploy.models import create_model
from resnet_deploy.models.complexity import count_macs, model_summary


def test_resnet50_macs_match_the_published_4_09_gmacs() -> None:
    macs = model_summary("resnet50")["macs"]
    assert abs(macs - 4.09e9) / 4.09e9 < 0.01


def test_resnet18_macs_match_the_published_1_82_gmacs() -> None:
    macs = model_summary("resnet18")["macs"]
    assert abs(macs - 1.82e9) / 1.82e9 < 0.01


def test_v1_is_cheaper_than_v15() -> None:
    # v1 strides the 1x1, so the 3x3 of each first bottleneck runs at a quarter of the pixels.
    assert model_summary("resnet50", variant="v1")["macs"] < model_summary("resnet50")["macs"]


def test_grouped_conv_and_linear_counted_exactly() -> None:
    net = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1, groups=4), nn.Flatten(), nn.Linear(16 * 25, 10))
    # conv: 16 out ch * 5*5 px * (8/4 in ch * 3*3); linear: 400 * 10
    assert count_macs(net, 5, in_chans=8) == 16 * 25 * 2 * 9 + 400 * 10


def test_real_model_count_equals_meta_count_and_restores_mode() -> None:
    model = create_model("resnet20", num_classes=10).train()
    macs = count_macs(model, 32)
    assert macs == model_summary("resnet20")["macs"]
    assert model.training
    assert not any(m._forward_hooks for m in model.modules())


def test_macs_grow_with_the_input() -> None:
    model = create_model("resnet20", num_classes=10)
    assert count_macs(model, (64, 32)) > count_macs(model, 32)


def test_summary_fields_and_cifar_default_size() -> None:
    s = model_summary("resnet20")
    assert s["input_size"] == s["default_input_size"] == 32
    assert s["num_classes"] == 10 and s["params"] == 269_722
    assert s["block"] == "basic" and s["layers"] == [3, 3, 3] and s["family"] == "cifar-resnet"
    s = model_summary("resnext50_32x4d", 112)
    assert s["input_size"] == 112 and s["default_input_size"] == 224 and s["params"] == 25_028_904
    full = model_summary("resnext50_32x4d")["macs"]
    assert 0.25 < s["macs"] / full < 0.30  # a quarter of the pixels, plus odd-size rounding


@pytest.mark.parametrize("size", [0, -4, "big", (1, 2, 3)])
def test_bad_input_size_is_a_one_line_error(size) -> None:
    with pytest.raises(ModelError):
        count_macs(create_model("resnet20"), size)


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_wrong_channel_count_is_a_one_line_error(device: str) -> None:
    with torch.device(device):
        model = create_model("resnet20")
    with pytest.raises(ModelError, match="cannot run at 32x32 with 4 channels"):
        count_macs(model, 32, in_chans=4)

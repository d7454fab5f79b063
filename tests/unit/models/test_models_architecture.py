"""The zoo matches torchvision: key names, parameter counts, shapes, v1 vs v1.5 stride."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from resnet_deploy.errors import ModelError
from resnet_deploy.models import create_model, get_arch, list_models


def meta_model(name: str, **kw) -> nn.Module:
    """Shapes only, no memory or init cost: enough for keys, counts and output shapes."""
    with torch.device("meta"):
        return create_model(name, **kw)


def test_torchvision_key_names() -> None:
    for name in ("resnet18", "resnet50"):
        keys = set(meta_model(name).state_dict())
        for k in ("conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                  "bn1.num_batches_tracked", "layer1.0.conv1.weight", "layer2.0.downsample.0.weight",
                  "layer2.0.downsample.1.weight", "layer2.0.downsample.1.running_var",
                  "layer4.1.bn2.weight", "fc.weight", "fc.bias"):
            assert k in keys, f"{name} lacks {k}"
        assert not any(k.startswith(("stem.", "head.", "blocks.")) for k in keys)
    assert "layer1.0.conv3.weight" in set(meta_model("resnet50").state_dict())


def test_resnet18_first_block_keys_exactly() -> None:
    bn = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    expected = (["layer1.0.conv1.weight"] + [f"layer1.0.bn1.{s}" for s in bn]
                + ["layer1.0.conv2.weight"] + [f"layer1.0.bn2.{s}" for s in bn])
    keys = [k for k in meta_model("resnet18").state_dict() if k.startswith("layer1.0.")]
    assert keys == expected


def test_resnet18_key_count_matches_torchvision() -> None:
    # torchvision resnet18().state_dict() has 122 entries, resnet50 320.
    assert len(meta_model("resnet18").state_dict()) == 122
    assert len(meta_model("resnet50").state_dict()) == 320


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("resnet18", 11_689_512),
        ("resnet34", 21_797_672),
        ("resnet50", 25_557_032),
        ("resnet101", 44_549_160),
        ("resnet152", 60_192_808),
        ("wide_resnet50_2", 68_883_240),
        ("resnext50_32x4d", 25_028_904),
        ("resnext101_32x8d", 88_791_336),
    ],
)
def test_parameter_counts_match_torchvision(name: str, params: int) -> None:
    assert sum(p.numel() for p in meta_model(name).parameters()) == params


def test_cifar_resnet20_has_paper_size() -> None:
    n = sum(p.numel() for p in meta_model("resnet20", num_classes=10).parameters())
    assert n == 269_722  # the paper's "0.27M"


def _variants(name: str) -> list[str]:
    # BasicBlock has no 1x1 conv, so v1 and v1.5 are the same network there.
    return ["v1.5", "v1"] if get_arch(name).block == "bottleneck" else ["v1.5"]


@pytest.mark.parametrize(
    ("name", "variant"), [(n, v) for n in list_models() for v in _variants(n)]
)
def test_every_arch_forward_shape(name: str, variant: str) -> None:
    """A real forward through the module graph on the meta device (shape semantics only)."""
    model = meta_model(name, num_classes=7, variant=variant).eval()
    with torch.no_grad():
        out = model(torch.empty(2, 3, 32, 32, device="meta"))
    assert tuple(out.shape) == (2, 7)


@pytest.mark.parametrize(("name", "variant"), [("resnet18", "v1.5"), ("resnet20", "v1.5"),
                                               ("resnet50", "v1"), ("resnet18_nobn", "v1.5")])
def test_small_archs_compute_finite_logits(name: str, variant: str) -> None:
    torch.manual_seed(0)
    model = create_model(name, num_classes=7, variant=variant).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 7) and torch.isfinite(out).all()


def test_v1_and_v15_put_the_stride_in_different_convs() -> None:
    v15 = meta_model("resnet50", variant="v1.5")
    v1 = meta_model("resnet50", variant="v1")
    block15, block1 = v15.layer2[0], v1.layer2[0]
    assert block15.conv1.stride == (1, 1) and block15.conv2.stride == (2, 2)
    assert block1.conv1.stride == (2, 2) and block1.conv2.stride == (1, 1)
    # the same tensors, so a checkpoint loads into either
    assert {k: v.shape for k, v in v15.state_dict().items()} == {
        k: v.shape for k, v in v1.state_dict().items()}


def test_resnext_uses_grouped_convs() -> None:
    conv = meta_model("resnext50_32x4d").layer1[0].conv2
    assert conv.groups == 32 and conv.in_channels == 128


def test_cifar_arch_uses_option_a_shortcut_without_weights() -> None:
    model = meta_model("resnet20", num_classes=10)
    assert len(model.stages) == 3
    assert not any("downsample" in k for k in model.state_dict())


def test_nobn_arch_has_no_batchnorm_and_conv_bias() -> None:
    model = meta_model("resnet18_nobn")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert model.conv1.bias is not None


@pytest.mark.parametrize("kw", [{"num_classes": 0}, {"num_classes": -3}, {"num_classes": "abc"},
                                {"variant": "v2"}, {"in_chans": 0}])
def test_create_model_rejects_nonsense_in_one_line(kw: dict) -> None:
    with pytest.raises(ModelError) as info:
        create_model("resnet18", **kw)
    assert "\n" not in str(info.value)


def test_unknown_arch_lists_choices() -> None:
    with pytest.raises(ModelError, match="unknown architecture 'resnet999'.*resnet50"):
        create_model("resnet999")


def test_seed_spellings_are_accepted() -> None:
    assert get_arch("ResNet_50").name == "resnet50"
    assert get_arch("resnet-18").name == "resnet18"

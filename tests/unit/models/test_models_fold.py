"""BatchNorm folding: same outputs as the eval-mode model, no BN left, original untouched."""

from __future__ import annotations

import pytest
import torch
from models_helpers import randomise_bn
from torch import nn

from resnet_deploy.models import create_model
from resnet_deploy.models.fold import count_batchnorm, fold_batchnorm


def _parity(name: str, variant: str = "v1.5", size: int = 32) -> tuple[float, float]:
    torch.manual_seed(0)
    model = randomise_bn(create_model(name, num_classes=7, variant=variant), seed=3).eval()
    folded = fold_batchnorm(model)
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        ref, got = model(x), folded(x)
    return (ref - got).abs().max().item(), ref.abs().max().item()


@pytest.mark.parametrize(
    ("name", "variant"),
    [("resnet18", "v1.5"), ("resnet20", "v1.5"), ("resnet50", "v1"),
     ("resnext50_32x4d", "v1.5"), ("resnet18_nobn", "v1.5")],
)
def test_folded_model_matches_eval_model(name: str, variant: str) -> None:
    diff, scale = _parity(name, variant)
    assert scale > 1e-3, "outputs are trivially zero; the check would prove nothing"
    assert diff < 1e-4, f"{name} {variant}: max abs diff {diff:.3g} (output scale {scale:.3g})"


def test_every_bn_is_gone_and_convs_carry_bias() -> None:
    model = randomise_bn(create_model("resnet50", num_classes=7))
    assert count_batchnorm(model) == 53
    folded = fold_batchnorm(model)
    assert count_batchnorm(folded) == 0
    convs = [m for m in folded.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 53 and all(c.bias is not None for c in convs)
    assert isinstance(folded.layer2[0].downsample[1], nn.Identity)
    assert not folded.training


def test_original_model_is_untouched(tiny_model) -> None:
    before = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    tiny_model.train()
    try:
        fold_batchnorm(tiny_model)
        assert tiny_model.training and count_batchnorm(tiny_model) == 19
        assert all(torch.equal(v, tiny_model.state_dict()[k]) for k, v in before.items())
    finally:
        tiny_model.eval()


def test_folding_uses_running_stats_not_batch_stats() -> None:
    """A train-mode BN would normalise by the batch; the folded conv must not."""
    conv, bn = nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4)
    with torch.no_grad():
        bn.running_mean.fill_(2.0)
        bn.running_var.fill_(4.0)
    seq = nn.Sequential(conv, bn)
    folded = fold_batchnorm(seq)
    x = torch.randn(3, 3, 8, 8)
    with torch.no_grad():
        expected = (conv(x) - 2.0) / torch.sqrt(torch.tensor(4.0 + bn.eps))
        assert torch.allclose(folded(x), expected, atol=1e-5)

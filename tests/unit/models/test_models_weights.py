"""Weight files: round trips, wrappers, transfer learning, and every bad file as one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from resnet_deploy.errors import CheckpointError
from resnet_deploy.models import create_model
from resnet_deploy.models.weights import (
    freeze_backbone,
    load_weights,
    read_state_dict,
    save_weights,
)


def fresh(name: str = "resnet20", num_classes: int = 10) -> nn.Module:
    torch.manual_seed(123)  # different from the saved model's seed
    return create_model(name, num_classes=num_classes)


def logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(x)


def one_line_error(model: nn.Module, path: Path, **kw) -> str:
    with pytest.raises(CheckpointError) as info:
        load_weights(model, path, **kw)
    msg = str(info.value)
    assert "\n" not in msg and len(msg) < 400, msg
    return msg


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_round_trip_gives_identical_logits(weights_dir, tiny_model, tiny_input, suffix) -> None:
    model = fresh()
    assert not torch.equal(logits(model, tiny_input), logits(tiny_model, tiny_input))
    report = load_weights(model, weights_dir / f"r20{suffix}")
    assert report.exact and not report.reinitialised_head
    assert report.tensors == len(tiny_model.state_dict())
    assert len(report.sha256) == 64
    assert torch.equal(logits(model, tiny_input), logits(tiny_model, tiny_input))


@pytest.mark.parametrize("wrapper", ["state_dict", "model", "model_state"])
def test_nested_checkpoints_with_ddp_and_compile_prefixes(tmp_path, tiny_model, tiny_input, wrapper):
    sd = {f"module._orig_mod.{k}": v for k, v in tiny_model.state_dict().items()}
    path = tmp_path / "ckpt.pt"
    torch.save({wrapper: sd, "epoch": 7, "optimizer": {"lr": 0.1}}, path)
    model = fresh()
    load_weights(model, path)
    assert torch.equal(logits(model, tiny_input), logits(tiny_model, tiny_input))
    assert set(read_state_dict(path)) == set(tiny_model.state_dict())


def test_legacy_pickle_format_and_missing_num_batches_tracked(tmp_path, tiny_model, tiny_input):
    sd = {k: v for k, v in tiny_model.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "old.pth"
    torch.save(sd, path, _use_new_zipfile_serialization=False)
    model = fresh()
    assert load_weights(model, path).exact
    assert torch.equal(logits(model, tiny_input), logits(tiny_model, tiny_input))


def test_safetensors_without_suffix_is_recognised(tmp_path, weights_dir):
    path = tmp_path / "weights.data"
    path.write_bytes((weights_dir / "r20.safetensors").read_bytes())
    assert len(read_state_dict(path)) == len(fresh().state_dict())


def test_save_is_atomic_and_refuses_unknown_suffix(tmp_path, tiny_model):
    with pytest.raises(CheckpointError, match=r"\.pth.*\.safetensors"):
        save_weights(tiny_model, tmp_path / "w.json")
    out = save_weights(tiny_model, tmp_path / "sub" / "w.safetensors")
    assert out.exists() and [p.name for p in out.parent.iterdir()] == ["w.safetensors"]


def test_new_head_keeps_fresh_classifier_and_loads_the_rest(weights_dir, tiny_model, tiny_input):
    model = fresh(num_classes=3)
    fc_before = model.fc.weight.detach().clone()
    report = load_weights(model, weights_dir / "r20.pth", new_head=True)
    assert report.reinitialised_head
    assert [k for k, _, _ in report.shape_mismatch] == ["fc.weight", "fc.bias"]
    assert torch.equal(model.fc.weight, fc_before)
    for k, v in tiny_model.state_dict().items():
        if not k.startswith("fc."):
            assert torch.equal(model.state_dict()[k], v), k
    assert logits(model, tiny_input).shape == (2, 3)


def test_new_head_with_a_matching_head_loads_it(weights_dir, tiny_model, tiny_input):
    model = fresh()
    report = load_weights(model, weights_dir / "r20.pth", new_head=True)
    assert not report.reinitialised_head
    assert torch.equal(logits(model, tiny_input), logits(tiny_model, tiny_input))


def test_new_head_does_not_hide_a_wrong_backbone(weights_dir):
    msg = one_line_error(fresh("resnet32", num_classes=3), weights_dir / "r20.pth", new_head=True)
    assert "resnet32" in msg and "missing" in msg


def test_head_mismatch_without_new_head_suggests_the_fix(weights_dir):
    msg = one_line_error(fresh(num_classes=3), weights_dir / "r20.pth")
    assert "2 wrong shape" in msg
    assert "fc.weight: file [10,64] vs model [3,64]" in msg
    assert "--num-classes 10" in msg and "--new-head" in msg


def test_wrong_architecture_counts_the_diff_and_guesses_the_arch(weights_dir):
    msg = one_line_error(fresh("resnet32"), weights_dir / "r20.pth")
    assert msg.startswith("weights in 'r20.pth' do not match resnet32: 60 missing (")
    assert "the file looks like resnet20, 10 classes" in msg


def test_unexpected_keys_are_reported(tmp_path, tiny_model):
    sd = dict(tiny_model.state_dict())
    sd["extra.weight"] = torch.zeros(3)
    torch.save(sd, tmp_path / "x.pth")
    msg = one_line_error(fresh(), tmp_path / "x.pth")
    assert "1 unexpected (extra.weight)" in msg
    report = load_weights(fresh(), tmp_path / "x.pth", strict=False)
    assert report.unexpected == ["extra.weight"]


def _bad_files(d: Path, weights_dir: Path) -> dict[str, Path]:
    good = (weights_dir / "r20.pth").read_bytes()
    st = (weights_dir / "r20.safetensors").read_bytes()
    files = {
        "missing": d / "nope.pth",
        "directory": d,
        "empty": d / "empty.pth",
        "truncated": d / "cut.pth",
        "truncated-safetensors": d / "cut.safetensors",
        "json": d / "config.pth",
        "tensor-list": d / "list.pth",
        "scalar-dict": d / "meta.pth",
        "pickled-module": d / "whole.pth",
        "garbage": d / "noise.pt",
    }
    files["empty"].write_bytes(b"")
    files["truncated"].write_bytes(good[: len(good) // 2])
    files["truncated-safetensors"].write_bytes(st[: len(st) // 3])
    files["json"].write_text(json.dumps({"arch": "resnet20"}))
    torch.save([torch.zeros(3), torch.ones(2)], files["tensor-list"])
    torch.save({"epoch": 3, "lr": 0.1}, files["scalar-dict"])
    torch.save(nn.Linear(2, 2), files["pickled-module"])
    files["garbage"].write_bytes(bytes(range(256)) * 4)
    return files


@pytest.mark.parametrize(
    ("kind", "expect"),
    [
        ("missing", "does not exist"),
        ("directory", "is a directory"),
        ("empty", "is empty"),
        ("truncated", "corrupt or truncated"),
        ("truncated-safetensors", "corrupt or truncated"),
        ("json", "not a PyTorch checkpoint"),
        ("tensor-list", "contains a list, not a state_dict"),
        ("scalar-dict", "without a state_dict"),
        ("pickled-module", "pickled Python object (Linear)"),
        ("garbage", "not a PyTorch checkpoint"),
    ],
)
def test_bad_files_give_one_line(tmp_path, weights_dir, kind, expect) -> None:
    path = _bad_files(tmp_path, weights_dir)[kind]
    assert expect in one_line_error(fresh(), path)


def test_freeze_backbone_leaves_only_the_head_trainable(tiny_model):
    model = freeze_backbone(fresh())
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == ["fc.weight", "fc.bias"]
    loss = model(torch.randn(2, 3, 32, 32)).sum()
    loss.backward()
    assert model.conv1.weight.grad is None and model.fc.weight.grad is not None

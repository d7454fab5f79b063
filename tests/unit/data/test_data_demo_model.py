"""The built-in trained model: accuracy, strict checkpoint loading, cache integrity."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from resnet_deploy.data import open_source
from resnet_deploy.demo_model import PRESETS, _read_cache, cache_root, ensure_demo_model
from resnet_deploy.errors import ResNetDeployError
from resnet_deploy.models import create_model

# measured 93.8 % held-out top-1 for the tiny preset; the bound leaves room for
# thread-count / platform differences in float reductions
TINY_MIN_ACCURACY = 0.85


def test_tiny_accuracy_and_strict_load(tiny_demo_model):
    sm = tiny_demo_model
    assert sm.arch == "resnet20" and sm.num_classes == 10 and sm.input_size == 32
    assert sm.labels == [str(i) for i in range(10)]
    assert sm.accuracy >= TINY_MIN_ACCURACY, sm.accuracy
    model = create_model("resnet20", num_classes=10)
    state = torch.load(sm.checkpoint, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    model.eval()
    # independent check on the calib split (never trained on): the weights are real
    x, y = open_source("sample", sm.preprocessing, split="calib").arrays()
    with torch.inference_mode():
        pred = model(torch.from_numpy(x)).argmax(1).numpy()
    assert (pred == y).mean() >= TINY_MIN_ACCURACY - 0.05


def test_meta_json_describes_the_checkpoint(tiny_demo_model):
    meta = json.loads((tiny_demo_model.directory / "meta.json").read_text())
    for key in ("arch", "num_classes", "input_size", "preprocessing", "labels", "accuracy",
                "seed", "train_seconds", "sha256"):
        assert key in meta
    assert meta["preprocessing"]["crop"] == 32 and meta["preprocessing"]["resize"] == 36


def test_second_call_uses_the_cache(tiny_demo_model):
    again = ensure_demo_model("tiny", cache_dir=tiny_demo_model.directory.parent)
    assert again.cached and again.sha256 == tiny_demo_model.sha256
    assert again.checkpoint == tiny_demo_model.checkpoint


def test_corrupt_cache_is_detected(tiny_demo_model, tmp_path):
    copy = tmp_path / tiny_demo_model.directory.name
    shutil.copytree(tiny_demo_model.directory, copy)
    assert _read_cache(copy, PRESETS["tiny"]) is not None
    data = bytearray((copy / "checkpoint.pth").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / "checkpoint.pth").write_bytes(bytes(data))
    assert _read_cache(copy, PRESETS["tiny"]) is None
    (copy / "meta.json").write_text("{not json")
    assert _read_cache(copy, PRESETS["tiny"]) is None
    shutil.rmtree(copy)
    assert _read_cache(copy, PRESETS["tiny"]) is None


def test_load_model_helper(tiny_demo_model):
    model = tiny_demo_model.load_model()
    assert not model.training
    out = model(torch.zeros(2, 3, 32, 32))
    assert out.shape == (2, 10) and np.isfinite(out.detach().numpy()).all()


def test_unknown_preset():
    with pytest.raises(ResNetDeployError, match="unknown demo-model preset"):
        ensure_demo_model("huge")


def test_cache_root_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("RESNET_DEPLOY_CACHE", str(tmp_path / "env"))
    assert cache_root() == tmp_path / "env"
    assert cache_root(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("RESNET_DEPLOY_CACHE")
    assert cache_root().name == "resnet-deploy"


def _fake_training(monkeypatch, calls: list[int], delay: float = 0.0):
    """Replace the (slow) training with a random init; cache writing and locking stay real."""
    import time

    import resnet_deploy.demo_model as sm

    def fake(p, pre, reporter=None, threads=None):
        calls.append(1)
        time.sleep(delay)
        model = create_model(p.arch, num_classes=10)
        return model.state_dict(), {"accuracy": 0.5, "eval_images": 1, "train_images": 1, "threads": 1}

    monkeypatch.setattr(sm, "train_demo_model", fake)


def test_concurrent_callers_train_once(monkeypatch, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    calls: list[int] = []
    _fake_training(monkeypatch, calls, delay=0.5)
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: ensure_demo_model("tiny", cache_dir=tmp_path), range(3)))
    assert len(calls) == 1
    assert len({r.sha256 for r in results}) == 1
    assert sorted(r.cached for r in results) == [False, True, True]
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == ["sample-tiny-v1"]


def test_corrupt_cache_is_retrained(monkeypatch, tmp_path):
    calls: list[int] = []
    _fake_training(monkeypatch, calls)
    first = ensure_demo_model("tiny", cache_dir=tmp_path)
    first.checkpoint.write_bytes(b"garbage")
    second = ensure_demo_model("tiny", cache_dir=tmp_path)
    assert len(calls) == 2 and not second.cached
    torch.load(second.checkpoint, weights_only=True)  # a real checkpoint again
    third = ensure_demo_model("tiny", cache_dir=tmp_path, force=True)
    assert len(calls) == 3 and not third.cached

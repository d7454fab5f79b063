"""File integrity checks, manifest updates and atomic staging (no torch needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from resnet_deploy.artifact import (
    BenchSummary,
    Manifest,
    ModelInfo,
    load_manifest,
    make_entry,
    save_manifest,
    staging_dir,
    update_manifest,
)
from resnet_deploy.errors import ArtifactError, ResNetDeployError


def _artifact(tmp_path: Path) -> Path:
    d = tmp_path / "art"
    d.mkdir()
    (d / "model.fp32.onnx").write_bytes(b"not really onnx but bytes" * 10)
    m = Manifest(model=ModelInfo(arch="resnet18", num_classes=10))
    m.files.append(make_entry(d, "model.fp32.onnx", "onnx"))
    save_manifest(m, d)
    return d


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_tampered_files_are_refused(tmp_path: Path, damage: str) -> None:
    d = _artifact(tmp_path)
    f = d / "model.fp32.onnx"
    data = f.read_bytes()
    if damage == "flip":
        f.write_bytes(bytes([data[0] ^ 1]) + data[1:])
    elif damage == "truncate":
        f.write_bytes(data[:-5])
    else:
        f.unlink()
    with pytest.raises(ArtifactError) as exc:
        load_manifest(d)
    assert "\n" not in str(exc.value) and "model.fp32.onnx" in str(exc.value)


def test_unknown_schema_and_garbage_manifest_are_refused(tmp_path: Path) -> None:
    d = _artifact(tmp_path)
    raw = json.loads((d / "manifest.json").read_text())
    raw["schema_version"] = 99
    (d / "manifest.json").write_text(json.dumps(raw))
    with pytest.raises(ArtifactError, match="manifest field schema_version is 99"):
        load_manifest(d)
    (d / "manifest.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        load_manifest(d)
    with pytest.raises(ArtifactError, match="does not exist"):
        load_manifest(tmp_path / "nope")


def test_update_manifest_is_atomic_and_persists(tmp_path: Path) -> None:
    d = _artifact(tmp_path)
    update_manifest(d, lambda m: setattr(m, "bench", BenchSummary(reference="torch:fp32")))
    assert load_manifest(d).bench == BenchSummary(reference="torch:fp32")
    assert not [p for p in d.iterdir() if p.name.startswith(".manifest")]


def test_staging_dir_leaves_nothing_on_failure(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(RuntimeError), staging_dir(out) as tmp:
        (tmp / "half.onnx").write_bytes(b"x")
        raise RuntimeError("boom")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_staging_dir_refuses_existing_without_force_and_replaces_with_force(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "old").write_text("old")
    with pytest.raises(ResNetDeployError, match="--force"), staging_dir(out):
        pass
    with staging_dir(out, force=True) as tmp:
        (tmp / "new").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]

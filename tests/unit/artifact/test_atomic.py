"""atomic.py: single files and directories are replaced by rename, never half-written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from resnet_deploy.atomic import (
    check_output_dir,
    replacing,
    staging_dir,
    write_bytes_atomic,
    write_text_atomic,
)
from resnet_deploy.errors import ResNetDeployError


def test_write_text_atomic_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    f = tmp_path / "calibration.json"
    f.write_text("old")
    write_text_atomic(f, "new ü\n")
    assert f.read_text(encoding="utf-8") == "new ü\n"
    assert os.listdir(tmp_path) == ["calibration.json"]
    assert f.stat().st_mode & 0o044, "readable by others (a server may run as another user)"
    write_bytes_atomic(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"


def test_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    f = tmp_path / "model.pth"
    f.write_bytes(b"good")
    with pytest.raises(RuntimeError), replacing(f) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")
    assert f.read_bytes() == b"good" and os.listdir(tmp_path) == ["model.pth"]


def test_check_output_dir_creates_nothing(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "art"
    assert check_output_dir(out, force=False) == out
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "file").write_text("x")
    with pytest.raises(ResNetDeployError, match="is a file; choose another --out"):
        check_output_dir(tmp_path / "file" / "art", force=False)


def test_marker_keeps_force_from_replacing_a_users_directory(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("years")
    check_output_dir(home, force=True)  # without a marker any directory may be replaced
    with pytest.raises(ResNetDeployError, match="not a resnet-deploy artifact .no manifest.json."):
        check_output_dir(home, force=True, marker="manifest.json")
    with pytest.raises(ResNetDeployError), staging_dir(home, force=True, marker="manifest.json"):
        pass
    assert (home / "thesis.tex").read_text() == "years"
    (home / "manifest.json").write_text("{}")
    check_output_dir(home, force=True, marker="manifest.json")


def test_staging_dir_creates_missing_parents_only_when_it_runs(tmp_path: Path) -> None:
    out = tmp_path / "x" / "y" / "art"
    with staging_dir(out) as tmp:
        (tmp / "f").write_text("1")
    assert (out / "f").read_text() == "1"
    assert sorted(p.name for p in out.parent.iterdir()) == ["art"]

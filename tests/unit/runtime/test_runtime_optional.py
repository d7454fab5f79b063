"""_optional is the one availability probe: cheap is_available/missing_reason, importing require."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from resnet_deploy._optional import is_available, missing_reason, require, try_import, why_missing
from resnet_deploy.errors import MissingDependencyError


def _package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, body: str) -> None:
    (tmp_path / f"{name}.py").write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)


def test_is_available_finds_without_importing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _package(tmp_path, monkeypatch, "rd_probe_marker", "raise RuntimeError('imported!')\n")
    assert is_available("rd_probe_marker")
    assert "rd_probe_marker" not in sys.modules
    assert missing_reason("rd_probe_marker") is None


def test_missing_module_and_missing_parent_are_unavailable() -> None:
    assert not is_available("rd_no_such_module_xyz")
    assert not is_available("rd_no_such_package_xyz.sub")
    assert missing_reason("rd_no_such_module_xyz", "rd-pip") == (
        "rd_no_such_module_xyz is not installed (pip install rd-pip)")


def test_a_module_forbidden_in_sys_modules_counts_as_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "json", None)
    assert not is_available("json")
    assert missing_reason("json") == "json is not installed (pip install json)"


def test_require_keeps_the_import_failure_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _package(tmp_path, monkeypatch, "rd_broken_mod", "raise OSError('libcuda.so.1: cannot open')\n")
    assert try_import("rd_broken_mod") is None
    assert why_missing("rd_broken_mod") == "OSError: libcuda.so.1: cannot open"
    with pytest.raises(MissingDependencyError, match=r"rd_broken_mod.*libcuda.*resnet-deploy\[x\]"):
        require("rd_broken_mod", extra="x")

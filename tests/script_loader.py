"""Load a file from benchmarks/ or scripts/ as a module: they are scripts, not a package."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_script(relpath: str, name: str | None = None) -> ModuleType:
    """``relpath`` from the repository root (e.g. ``benchmarks/int8_ceiling.py``), executed once per call."""
    path = ROOT / relpath
    spec = importlib.util.spec_from_file_location(name or f"script_{path.stem}", path)
    assert spec is not None and spec.loader is not None, path
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod

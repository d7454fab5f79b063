"""benchmarks/suite.py never deletes an earlier run's folder: a second run of the day gets its own."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "suite.py"


def _script():
    spec = importlib.util.spec_from_file_location("suite_script", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_a_second_run_of_the_day_gets_its_own_folder(tmp_path: Path) -> None:
    free = _script().free_run_dir
    assert free(tmp_path, "2026-12-04-vm") == tmp_path / "2026-12-04-vm"
    (tmp_path / "2026-12-04-vm").mkdir()
    assert free(tmp_path, "2026-12-04-vm") == tmp_path / "2026-12-04-vm-2"
    (tmp_path / "2026-12-04-vm-2").mkdir()
    assert free(tmp_path, "2026-12-04-vm") == tmp_path / "2026-12-04-vm-3"
    assert free(tmp_path, "2026-12-05-vm") == tmp_path / "2026-12-05-vm"

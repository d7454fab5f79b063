"""benchmarks/ov_forms.py: variants take turns (order reversed every round), each figure is the median of
per-round ratios to the dynamic runner, and a real run on a tiny artifact fills every row."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from script_loader import load_script


def _script():
    return load_script("benchmarks/ov_forms.py")


class _Sleeper:
    def __init__(self, ms: float, log: list[str], name: str) -> None:
        self.ms, self.log, self.name = ms, log, name

    def infer(self, x: np.ndarray) -> None:
        self.log.append(self.name)
        time.sleep(self.ms / 1e3)

    def synchronize(self) -> None:
        pass


def test_turns_alternate_and_ratios_are_per_round() -> None:
    mod = _script()
    log: list[str] = []
    runners = {"forms": _Sleeper(2, log, "forms"), "dynamic": _Sleeper(4, log, "dynamic")}
    ms = mod.alternate(runners, np.zeros(1), rounds=2, seconds=0.0)
    # 3 untimed + 3 timed calls per window; forms first in round 1, last in round 2
    assert log[:12] == ["forms"] * 6 + ["dynamic"] * 6
    assert log[12:24] == ["dynamic"] * 6 + ["forms"] * 6
    rows = {r["variant"]: r for r in mod.summarise(ms)}
    assert rows["dynamic"]["ratio"] == 1.0 and rows["dynamic"]["faster"] == 0
    assert 0.3 < rows["forms"]["ratio"] < 0.8 and rows["forms"]["faster"] == 2
    assert rows["forms"]["lo"] <= rows["forms"]["ratio"] <= rows["forms"]["hi"]


def test_summary_is_the_median_of_round_ratios_not_a_ratio_of_medians() -> None:
    mod = _script()
    rows = {r["variant"]: r for r in mod.summarise({"dynamic": [10.0, 20.0, 30.0], "forms": [9.0, 19.0, 33.0]})}
    assert rows["forms"]["ratio"] == 19.0 / 20.0  # rounds 0.9, 0.95, 1.1 -> median 0.95
    assert rows["forms"]["faster"] == 2 and rows["forms"]["hi"] == 1.1


def test_run_on_a_real_artifact_fills_every_variant(tiny_artifact: Path, tmp_path: Path) -> None:
    out = tmp_path / "forms.md"
    rc = _script().main([str(tiny_artifact), "--spec", "openvino:fp32", "--batches", "1,3", "--rounds", "2",
                         "--window", "0.01", "--out", str(out)])
    text = out.read_text()
    assert rc == 0 and text.startswith("- host: ")
    for bs in (1, 3):
        for variant in ("forms", "dynamic", "dynamic-again"):
            assert f"| {bs} | {variant} |" in text
    assert "| 1 | dynamic | " in text and "| 1.0000 |" in text

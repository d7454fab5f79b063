"""The README's main command, `resnet-deploy quickstart`, end to end on the tiny preset.

Short timings (speed is the benchmark suite's job); what is checked is that every
stage ran and the summary tells the truth about the artifact it left behind.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from resnet_deploy.artifact import load_manifest
from resnet_deploy.cli import cli

FAST = ["--preset", "tiny", "--calib-size", "64", "--batch-sizes", "1", "--time-budget", "0.05"]


@pytest.fixture(scope="module")
def quickstart_json(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("qs") / "art"
    res = CliRunner().invoke(cli, ["quickstart", *FAST, "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output + repr(res.exception)
    return out, json.loads(res.stdout)


def test_json_summary_matches_the_artifact(quickstart_json: tuple[Path, dict]) -> None:
    out, d = quickstart_json
    m = load_manifest(out)  # verifies every file's sha256
    assert d["artifact"] == str(out) and d["sample_model"]["arch"] == m.model.arch == "resnet20"
    assert set(d["quantization_drift"]) == {"cpu", "tensorrt"} == set(m.quantization.targets)
    cpu = d["quantization_drift"]["cpu"]
    assert cpu["labelled"] and cpu["agreement"] >= 0.95 and cpu["n"] > 0
    assert {"ref_top1", "cosine_mean", "drop_points"} <= cpu.keys() and not {"top1_fp32", "cosine"} & cpu.keys()
    assert m.selection is not None and d["selection"] == m.selection.to_dict()
    assert d["selection"]["backend"] in d["bench"]["rows"]
    assert d["bench"]["rows"]["openvino-nncf:int8"]["status"] == "ok"
    ok_rows = [k for k, v in d["bench"]["rows"].items() if v["status"] == "ok"]
    assert {"onnxruntime:int8-cpu", "torch:fp32"} <= set(ok_rows)
    assert (out / d["reports"]["html"]).is_file()  # paths relative to the artifact


def test_human_output_names_the_choice_and_the_peer(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["quickstart", *FAST, "--out", str(tmp_path / "art"), "--no-peer"])
    assert res.exit_code == 0, res.output + repr(res.exception)
    assert "selected for serving:" in res.output and "onnxruntime:int8-cpu" in res.output
    assert "vs peer" not in res.output  # --no-peer
    assert "Traceback" not in res.output
    assert "1/3 sample model" in res.output and "3/3 benchmark" in res.output
    assert "[bold]" not in res.output and "[yellow]" not in res.output and "[/" not in res.output

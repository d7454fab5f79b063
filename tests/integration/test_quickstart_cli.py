"""The README's main command, `resnet-deploy quickstart`, end to end on the tiny preset.

Short timings (speed is the benchmark suite's job); what is checked is that every
stage ran and the summary tells the truth about the artifact it left behind.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from resnet_deploy.artifact import load_manifest
from resnet_deploy.bench import load_report
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
    assert set(d["quantization_drift"]) == {"cpu", "openvino", "tensorrt"} == set(m.quantization.targets)
    cpu = d["quantization_drift"]["cpu"]
    assert cpu["labelled"] and cpu["agreement"] >= 0.95 and cpu["n"] > 0
    assert {"ref_top1", "cosine_mean", "drop_points"} <= cpu.keys() and not {"top1_fp32", "cosine"} & cpu.keys()
    assert m.selection is not None and d["selection"] == m.selection.to_dict()
    assert d["selection"]["backend"] in d["bench"]["rows"]
    assert d["bench"]["rows"]["openvino-nncf:int8"]["status"] == "ok"
    ok_rows = [k for k, v in d["bench"]["rows"].items() if v["status"] == "ok"]
    assert {"onnxruntime:int8-cpu", "torch:fp32"} <= set(ok_rows)
    assert (out / d["reports"]["html"]).is_file()  # paths relative to the artifact


def _one_line(text: str) -> str:
    """Rich wraps at 80 columns off a terminal; compare with whitespace collapsed."""
    return " ".join(text.split())


def _selection_line(out: Path) -> str:
    """The line that must name the choice, from the manifest and the bench report on disk."""
    s = load_manifest(out).selection
    assert s is not None
    report = load_report(out / "bench" / "report.json")
    row, ref = report.row(s.backend), report.row(report.reference)
    return (f"selected for serving: {s.backend} ({s.strategy} within {s.max_drop} pt), "
            f"{ref.p50_ms / row.p50_ms:.1f}x faster than {ref.spec} at batch 1")


def test_human_output_names_the_choice_and_the_peer(quickstart_json: tuple[Path, dict], capsys) -> None:
    """The CLI's human rendering of the run above (with the peer): selection and peer lines as recorded."""
    from resnet_deploy.cli._common import Output
    from resnet_deploy.cli.quickstart_cmd import render_quickstart
    from resnet_deploy.quickstart import QuickstartResult

    out, d = quickstart_json
    report = load_report(out / "bench" / "report.json")
    pc = report.peer_comparison
    assert pc["peer"] == "openvino-nncf:int8" and pc["latency"]["backend"] != pc["peer"]
    capsys.readouterr()
    render_quickstart(Output(), QuickstartResult(sample=None, pipeline=SimpleNamespace(out_dir=out), bench=report))
    text = _one_line(capsys.readouterr().err)
    lat = pc["latency"]
    assert (f"vs peer: batch-1 p50: {lat['backend']} {lat['ours_p50_ms']:.3f} ms vs openvino-nncf:int8 "
            f"{lat['peer_p50_ms']:.3f} ms -> ratio {lat['ratio']:.3f}") in text, text
    assert "openvino-nncf:int8 (peer)" in text  # its row in the table
    assert _selection_line(out) in text and d["selection"]["backend"] in _selection_line(out), text


def test_a_noisy_row_is_marked_in_the_table_and_warned_about(quickstart_json: tuple[Path, dict], capsys) -> None:
    """A row whose timing window saw other processes' CPU use is flagged where the user reads the figures."""
    from resnet_deploy.cli._common import Output
    from resnet_deploy.cli.quickstart_cmd import render_quickstart
    from resnet_deploy.quickstart import QuickstartResult

    out, _ = quickstart_json
    report = load_report(out / "bench" / "report.json")
    for r in report.ok_rows:  # whatever the machine did during the recorded run: all quiet but one
        r.noise = dict(r.noise or {}, noisy=False, others_cores=0.01)
    target = report.ok_rows[0]
    target.noise = dict(target.noise, noisy=True, others_cores=0.73)
    capsys.readouterr()
    render_quickstart(Output(), QuickstartResult(sample=None, pipeline=SimpleNamespace(out_dir=out), bench=report))
    text = _one_line(capsys.readouterr().err)
    assert f"{target.spec} NOISY" in text or f"{target.spec} (peer) NOISY" in text, text
    assert text.count("NOISY") == 2  # the one row's mark and the warning
    assert "marked NOISY were timed while other processes used up to 0.73 of a core" in text, text


def test_no_peer_run_names_the_choice_and_no_peer(tmp_path: Path) -> None:
    out = tmp_path / "art"
    res = CliRunner().invoke(cli, ["quickstart", *FAST, "--out", str(out), "--no-peer"])
    assert res.exit_code == 0, res.output + repr(res.exception)
    text = _one_line(res.stderr)
    assert _selection_line(out) in text, text
    assert "vs peer" not in text and "(peer)" not in text and "openvino-nncf" not in text  # --no-peer
    assert "Traceback" not in res.output
    assert "1/3 demo model" in res.output and "3/3 benchmark" in res.output
    assert "[bold]" not in res.output and "[yellow]" not in res.output and "[/" not in res.output

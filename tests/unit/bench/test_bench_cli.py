"""``resnet-deploy bench`` / ``compare`` on a tiny ONNX-only artifact: output, files, manifest, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from resnet_deploy.artifact import load_manifest
from resnet_deploy.cli import cli

CONSOLE = Path(sys.executable).parent / "resnet-deploy"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CONSOLE), *args], capture_output=True, text=True, timeout=120)


def test_bench_json_rows_skips_files_and_selection(tiny_artifact: Path) -> None:
    res = CliRunner().invoke(cli, [
        "bench", str(tiny_artifact), "--backends", "onnxruntime,openvino,torch,tensorrt",
        "--batch-sizes", "1,2", "--iterations", "3", "--warmup", "1", "--threads", "1",
        "--no-peer", "--eval-data", "none", "--select", "min-latency", "--json",
    ])
    assert res.exit_code == 0, res.output + repr(res.exception)
    data = json.loads(res.stdout)
    rows = {r["spec"]: r for r in data["rows"]}
    for spec in ("onnxruntime:fp32", "openvino:fp32"):
        assert rows[spec]["status"] == "ok", rows[spec]["reason"]
        assert [b["batch"] for b in rows[spec]["batches"]] == [1, 2]
        assert rows[spec]["batches"][0]["latency_ms"]["n"] == 3 and rows[spec]["threads"] == 1
        assert set(rows[spec]["scenarios"]) == {"single-stream", "offline", "server"}
        assert rows[spec]["memory"]["rss_peak_mb"] > 0
    for spec in ("torch", "tensorrt"):  # no model.pt2 / engine in this artifact: listed, never timed
        assert rows[spec]["status"] == "skipped" and "no matching file" in rows[spec]["reason"]
        assert rows[spec]["batches"] == []
    assert any("onnxruntime:fp32" in n for n in data["notes"])  # reference fallback is explained
    m = load_manifest(tiny_artifact)
    assert m.bench is not None and m.selection is not None
    assert set(m.bench.rows) == set(rows)
    assert m.selection.backend in ("onnxruntime:fp32", "openvino:fp32")
    assert m.selection.strategy == "min-latency"
    for name in ("report.json", "results.csv", "report.md", "report.html", "plots/latency.png"):
        assert (tiny_artifact / "bench" / name).is_file()


def test_compare_two_backends(tiny_artifact: Path, tmp_path: Path) -> None:
    x = np.random.default_rng(0).standard_normal((6, 3, 8, 8)).astype(np.float32)
    np.save(tmp_path / "eval.npy", x)
    res = CliRunner().invoke(cli, ["compare", str(tiny_artifact), "onnxruntime:fp32", "openvino",
                                   "--eval-data", str(tmp_path / "eval.npy"), "--json"])
    assert res.exit_code == 0, res.output + repr(res.exception)
    d = json.loads(res.stdout)
    assert (d["a"], d["b"], d["n"]) == ("onnxruntime:fp32", "openvino:fp32", 6)
    assert d["agreement"] == 1.0 and d["max_abs"] < 1e-4 and d["cosine_min"] > 0.9999
    assert d["labelled"] is False


@pytest.mark.parametrize(("args", "message"), [
    (["bench", "{missing}"], "does not exist"),
    (["bench", "{art}", "--batch-sizes", "0"], "--batch-sizes must be positive integers"),
    (["bench", "{art}", "--backends", "onnxruntime,warp-drive"], "unknown backend 'warp-drive'"),
    (["bench", "{art}", "--max-drop", "150", "--no-peer"], "--max-drop"),
    (["compare", "{art}", "onnxruntime", "onnxruntime:int8-cpu"], "no 'int8-cpu' file"),
])
def test_bad_arguments_are_one_line_exit_2(tiny_artifact: Path, args: list[str], message: str) -> None:
    argv = [a.format(art=tiny_artifact, missing=tiny_artifact.parent / "nope") for a in args]
    res = _cli(*argv)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""


def test_help_has_an_example() -> None:
    for cmd in ("bench", "compare"):
        res = CliRunner().invoke(cli, [cmd, "--help"])
        assert res.exit_code == 0 and "Example:" in res.output

"""The report JSON schema, the peer comparison and every rendering (CSV, Markdown, HTML, PNG)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from resnet_deploy.bench.files import write_report_files
from resnet_deploy.bench.plots import make_plots, pareto_front
from resnet_deploy.bench.render import rich_table, to_csv, to_markdown
from resnet_deploy.bench.report import BenchReport, load_report, peer_comparison

ROW_KEYS = {"spec", "backend", "status", "key", "reason", "file", "precision", "device", "threads", "peer",
            "activate_s", "batches", "skipped_batches", "scenarios", "memory", "drift", "samples_ms", "notes",
            "noise", "isolation"}
TOP_KEYS = {"schema", "artifact", "model", "machine", "config", "rows", "reference", "harness", "live_server",
            "peer_comparison", "selection", "notes", "files", "created_at", "seconds"}


def test_json_schema_and_round_trip(synthetic_report: BenchReport) -> None:
    d = json.loads(synthetic_report.to_json())
    assert set(d) == TOP_KEYS and d["schema"] == "resnet-deploy.bench/1"
    assert all(set(r) == ROW_KEYS for r in d["rows"])
    b = d["rows"][1]["batches"][0]
    assert set(b) == {"batch", "latency_ms", "throughput", "rep_p50_ms", "rep_throughput", "spread_pct"}
    assert set(b["latency_ms"]) == {"n", "p50", "p90", "p95", "p99", "mean", "std", "min", "max"}
    again = BenchReport.from_dict(d)
    assert again.to_dict() == synthetic_report.to_dict()


def test_summary_has_headlines_not_samples(synthetic_report: BenchReport) -> None:
    s = synthetic_report.summary()
    text = json.dumps(s)
    assert "samples" not in text
    row = s["rows"]["onnxruntime:int8-cpu"]
    assert row["p50_ms"] == pytest.approx(synthetic_report.row("onnxruntime:int8-cpu").p50_ms)
    assert row["best_batch"] == 16 and row["top1"] == pytest.approx(0.895)
    assert s["rows"]["tensorrt"] == {"status": "skipped", "reason": "not installed here"}


def test_peer_comparison_uses_best_int8_rows(synthetic_report: BenchReport) -> None:
    pc = peer_comparison(synthetic_report.rows)
    assert pc["scope"] == "int8" and pc["peer"] == "openvino-nncf:int8"
    lat = pc["latency"]
    assert lat["backend"] == "openvino:int8-cpu"
    assert lat["ratio"] == pytest.approx(lat["ours_p50_ms"] / lat["peer_p50_ms"]) and lat["ratio"] < 1
    tp = pc["throughput"]
    assert tp["batch"] == 16 and tp["backend"] == "openvino:int8-cpu"
    assert tp["ratio"] == pytest.approx(320 / 280)
    no_peer = [r for r in synthetic_report.rows if not r.peer]
    assert peer_comparison(no_peer) is None


def test_csv_markdown_and_rich(synthetic_report: BenchReport) -> None:
    rows = list(csv.DictReader(io.StringIO(to_csv(synthetic_report))))
    assert len(rows) == 4 * 2 + 1  # 4 timed rows x 2 batch sizes + 1 skipped row
    assert {r["backend"] for r in rows} == {r.spec for r in synthetic_report.rows}
    skipped = next(r for r in rows if r["backend"] == "tensorrt")
    assert skipped["status"] == "skipped" and skipped["reason"] == "not installed here"
    md = to_markdown(synthetic_report)
    assert "| backend | status |" in md and "ratio" in md and "Harness overhead" in md
    # rows that ran come first, fastest batch-1 p50 first; skipped rows follow as one compact line
    table_lines = [ln for ln in md.splitlines() if ln.startswith("| ") and "| ok |" in ln]
    p50s = [float(ln.split("|")[4]) for ln in table_lines]
    assert len(table_lines) == 4 and p50s == sorted(p50s)
    assert "| tensorrt |" not in md and "- tensorrt: not installed here" in md
    table = rich_table(synthetic_report)
    assert table.row_count == len([r for r in synthetic_report.rows if r.status != "skipped"])


def test_noisy_rows_are_marked_in_every_rendering(synthetic_report: BenchReport) -> None:
    from resnet_deploy.bench.html import to_html
    from resnet_deploy.bench.noise import Noise

    row = next(r for r in synthetic_report.rows if r.spec == "onnxruntime:int8-cpu")
    row.noise = Noise(window_s=2.0, others_cores=0.8, self_cores=1.9, load_avg_1m=2.5, cpu_mhz=None,
                      noisy=True).to_dict()
    md = to_markdown(synthetic_report)
    line = next(ln for ln in md.splitlines() if ln.startswith("| onnxruntime:int8-cpu |"))
    assert "NOISY" in line and "| 80 |" in line  # others' CPU as % of a core
    assert "**Noisy rows**" in md and "onnxruntime:int8-cpu" in md.split("**Noisy rows**")[1].splitlines()[0]
    assert 'class="ok noisy"' in to_html(synthetic_report)
    assert sum("NOISY" in ln for ln in md.splitlines() if ln.startswith("| ")) == 1


def test_report_files_html_and_pngs(synthetic_report: BenchReport, tmp_path: Path) -> None:
    out = tmp_path / "bench"
    files = write_report_files(synthetic_report, out, artifact_dir=tmp_path)
    assert files["json"] == "bench/report.json"
    for name in ("report.json", "results.csv", "report.md", "report.html"):
        assert (out / name).is_file()
    html = (out / "report.html").read_text()
    assert '<table id="results">' in html and "<style>" in html
    assert all(r.spec in html for r in synthetic_report.rows)
    assert html.count("data:image/png;base64,") == 3 and "src=\"http" not in html
    for name in ("latency", "throughput", "pareto"):
        with Image.open(out / "plots" / f"{name}.png") as img:
            img.verify()
            assert img.format == "PNG"
    assert load_report(out / "report.json").files == files
    # a second write replaces the directory atomically, leaving no temp dirs
    write_report_files(synthetic_report, out, artifact_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench"]


def test_plots_skip_when_no_data(synthetic_report: BenchReport) -> None:
    for r in synthetic_report.rows:
        r.batches, r.samples_ms, r.drift = [], [], None
    assert make_plots(synthetic_report) == {}


def test_pareto_front() -> None:
    pts = [("a", 1.0, 0.80), ("b", 2.0, 0.90), ("c", 3.0, 0.85), ("d", 4.0, 0.95), ("e", 1.5, 0.7)]
    assert [p[0] for p in pareto_front(pts)] == ["a", "b", "d"]


def test_render_does_not_import_html_or_files() -> None:
    """One direction only: files -> html -> render (render imports neither, even lazily)."""
    import ast

    import resnet_deploy.bench.render as render

    tree = ast.parse(Path(render.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not imported & {"resnet_deploy.bench.html", "resnet_deploy.bench.files"}


def test_peer_comparison_names_our_openvino_form_on_the_same_runtime(synthetic_report: BenchReport) -> None:
    import dataclasses

    rows = {r.spec: r for r in synthetic_report.rows}
    old_form, peer = rows["openvino:int8-cpu"], rows["openvino-nncf:int8"]
    new_form = dataclasses.replace(old_form, spec="openvino:int8-openvino", key="int8-openvino",
                                   batches=[dataclasses.replace(b) for b in old_form.batches])
    new_form.batches[0] = rows["onnxruntime:int8-cpu"].batches[0]  # slower at batch 1 than the old form
    pc = peer_comparison([*synthetic_report.rows, new_form])
    assert pc["latency"]["backend"] == "openvino:int8-cpu"  # the headline pair stays our fastest row
    same = pc["same_runtime"]
    assert same["backend"] == "openvino:int8-openvino"  # the form OpenVINO prefers, fast or not
    assert same["latency"]["ratio"] == pytest.approx(new_form.at(1).latency.p50 / peer.at(1).latency.p50)
    assert same["throughput"]["batch"] == 16
    assert same["throughput"]["ratio"] == pytest.approx(new_form.at(16).throughput / peer.at(16).throughput)
    older = peer_comparison(synthetic_report.rows)
    assert older["same_runtime"]["backend"] == "openvino:int8-cpu"  # artifacts made before the form existed
    assert "same_runtime" not in peer_comparison([r for r in synthetic_report.rows if r.backend != "openvino"])
    assert "same runtime, batch 1: openvino:int8-cpu" in to_markdown(synthetic_report)


def test_single_pass_peer_ratios_point_to_paired_rounds(synthetic_report: BenchReport) -> None:
    """A one-pass ratio is not a verdict: the lines say so and name the command that gives one."""
    from resnet_deploy.bench.render import peer_lines

    lines = peer_lines(synthetic_report)
    assert any(line.startswith("batch-1 p50:") for line in lines)
    assert lines[-1].endswith(f"resnet-deploy bench {synthetic_report.artifact} --paired-rounds 6")
    paired = {"latency": {"ratio": 1.0, "ratio_min": 0.99, "ratio_max": 1.01, "rounds": 6, "rounds_won": 3,
                          "backend": "openvino:int8-cpu", "batch": 1}}
    with_rounds = replace(synthetic_report, peer_comparison={**synthetic_report.peer_comparison, "paired": paired})
    lines = peer_lines(with_rounds)
    assert not any("--paired-rounds" in line for line in lines)
    assert any(line.startswith("head-to-head batch-1 p50") for line in lines)

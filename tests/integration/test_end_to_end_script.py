"""benchmarks/end_to_end.py on the 64 px demo model, tiny settings: the structure of its output and
that every side ran alone in a fresh process (no wall-clock bounds: speed is the script's job, not this test's)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("openvino")
pytest.importorskip("nncf")
pytest.importorskip("skimage")
pytest.importorskip("tritonclient.http")
pytest.importorskip("pytriton")

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "end_to_end.py"
STATUSES = {"PASS", "FAIL", "NOISY"}
OTHER_HEAVY = {"torch", "nncf", "tensorrt", "torch_tensorrt", "tensorrt_rtx"}


def _run(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    from resnet_deploy.demo_model import ensure_demo_model
    from resnet_deploy.export.pipeline import export_artifact
    from resnet_deploy.quantize.config import QuantizeConfig
    from resnet_deploy.quantize.pipeline import quantize_artifact

    sm = ensure_demo_model("quickstart")  # the trained 64 px demo model
    arts = tmp_path_factory.mktemp("e2e_arts")
    art = arts / "demo"
    export_artifact(sm.export_config(art))
    quantize_artifact(art, QuantizeConfig(calib_size=16, eval_size=16))  # every default INT8 file
    out = tmp_path_factory.mktemp("e2e_out") / "end_to_end.md"
    work = tmp_path_factory.mktemp("e2e_work")
    proc = _run("--artifacts", str(arts), "--models", "demo", "--rounds", "2", "--seconds", "0.1",
                "--e2e-seconds", "0.3", "--images", "3", "--batch", "2", "--clients", "2",
                "--ceiling-rounds", "1", "--ceiling-per-round", "1", "--out", str(out), "--json",
                "--work-dir", str(work), "--retime", "0")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return SimpleNamespace(art=art, arts=arts, out=out, work=work, pid=os.getpid(), stdout=json.loads(proc.stdout),
                           record=json.loads(out.with_suffix(".json").read_text()), md=out.read_text())


def test_every_figure_has_a_value_a_target_and_a_verdict(ran: SimpleNamespace) -> None:
    rec = ran.record
    assert rec["targets"] == ran.stdout["targets"]
    names = [t["name"] for t in rec["targets"]]
    assert len(names) == 6, names  # 2 inference-only (batch 1, 2) + 2 end to end + serve + ceiling
    for t in rec["targets"]:
        assert t["status"] in STATUSES, t  # measured (never SKIP): every part ran
        assert isinstance(t["value"], float) and t["value"] > 0, t
    bounds = {(t["op"], t["bound"]) for t in rec["targets"]}
    assert {("<=", 0.97), (">=", 1.03), (">=", 2.0), ("<=", 0.6), (">=", 0.8), (">=", 0.9)} == bounds
    assert not rec["notes"], rec["notes"]


def test_paired_rounds_and_noise_are_recorded_per_window(ran: SimpleNamespace) -> None:
    inf = ran.record["inference"]["demo"]
    assert inf["ours_spec"].startswith("openvino:int8")
    for key, batch in (("latency", 1), ("throughput", 2)):
        m = inf[key]
        assert m["batch"] == batch and m["rounds"] == 2 and len(m["ours"]) == len(m["peer"]) == 2
        assert 0 <= m["rounds_won"] <= 2 and m["ratio_min"] <= m["ratio"] <= m["ratio_max"]
        assert len(m["noise"]) == 4  # one window per side per round
        for n in m["noise"]:  # others' CPU and the parent's host probe around the child both decide
            assert n["others_cores"] is not None and n["host_probe_ms"] > 0
            assert n["noisy"] == (n["others_cores"] > 0.10 or n["host_slow"])
    e2e = ran.record["e2e"]
    for side in ("ours", "baseline"):
        assert e2e[side]["throughput"]["batch"] == 2 and e2e[side]["latency"]["batch"] == 1
        assert "noisy" in e2e[side]["throughput"]["noise"]
        prof = e2e[side]["profile"]  # where the time goes: decode+preprocess vs inference
        assert prof["batch"] == 2 and prof["decode_preprocess_ms_per_image"] > 0 and prof["infer_ms_per_batch"] > 0
    serve = ran.record["serve"]
    assert serve["errors"] == 0 and serve["requests"] >= 8 and serve["clients"] == 2
    assert serve["backend"] == e2e["ours"]["backend"]  # serve and Predictor run the same file
    b = serve["batches"]  # the server's own tally of its image callable, from its stop line
    assert b["items"] >= serve["requests"] and 1 <= b["mean_batch"] <= 2  # 2 clients: batches of 1 or 2
    assert 0 < b["busy_share"] <= 1.001 and b["mean_gap_ms"] >= 0  # one instance: never busy more than all the time
    target = next(t for t in ran.record["targets"] if "via serve" in t["name"])
    assert "callable busy" in target["detail"]


def test_the_ceiling_times_our_model_in_the_same_rounds_as_the_chains(ran: SimpleNamespace) -> None:
    c = ran.record["ceiling"]
    assert c["backend"] == ran.record["inference"]["demo"]["ours_spec"]  # the file the rounds time
    assert c["rounds"] == len(c["per_round"]) == 1
    r = c["per_round"][0]
    assert r["p50_ms"] > 0 and r["rate_gmacs"] > 0
    assert abs(c["share"] - r["floor_ms"] / r["p50_ms"]) < 1e-3 and c["share"] == c["share_min"] == c["share_max"]
    assert abs(r["floor_ms"] - c["gmacs"] / r["rate_gmacs"] * 1e3) < 0.01
    # the kernel bound: every class at a rate no better than the round's best, so never under the floor
    assert r["bound_ms"] >= r["floor_ms"] * 0.999 and abs(r["max_share"] - r["floor_ms"] / r["bound_ms"]) < 1e-3
    assert c["max_share"] == r["max_share"]
    ceiling = next(t for t in ran.record["targets"] if "ceiling" in t["name"])
    assert "median of 1 rounds timing both" in ceiling["detail"] and "kernels' own bound" in ceiling["detail"]


def test_each_side_ran_in_its_own_child_without_the_other_sides_runtime(ran: SimpleNamespace) -> None:
    units = {u["unit"]: u for u in ran.record["isolation"]}
    ours_inf = next(u for n, u in units.items() if "ours inference" in n)
    peer_inf = units["demo OpenVINO+NNCF inference"]
    predictor = units["demo Predictor.predict end to end"]
    baseline = units["demo PIL+numpy+OpenVINO+NNCF baseline end to end"]
    client = units["demo serve HTTP load generator"]
    assert len(ours_inf["pids"]) == len(peer_inf["pids"]) == 2  # a fresh process per side per round
    all_pids = [p for u in units.values() for p in u["pids"]]
    assert len(set(all_pids)) == len(all_pids) and ran.pid not in all_pids
    assert ours_inf["runtimes_loaded"] == peer_inf["runtimes_loaded"] == ["openvino"]  # no nncf, torch, ORT
    assert baseline["runtimes_loaded"] == ["openvino"]
    assert not OTHER_HEAVY & set(predictor["runtimes_loaded"])  # no NNCF, no torch beside the Predictor
    assert ran.record["e2e"]["ours"]["backend"].split(":")[0] in predictor["runtimes_loaded"]
    assert client["runtimes_loaded"] == []  # the server runs in its own process


def test_a_second_run_in_the_same_work_dir_reuses_the_nncf_peer(ran: SimpleNamespace, tmp_path: Path) -> None:
    out = tmp_path / "again.md"
    proc = _run("--artifacts", str(ran.arts), "--models", "demo", "--parts", "inference", "--rounds", "1",
                "--seconds", "0.1", "--images", "1", "--batch", "2", "--work-dir", str(ran.work), "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    rec = json.loads(out.with_suffix(".json").read_text())
    units = {u["unit"] for u in rec["isolation"]}
    assert "demo OpenVINO+NNCF inference" in units and not any("NNCF quantisation" in u for u in units)
    assert rec["inference"]["demo"]["peer_info"] == ran.record["inference"]["demo"]["peer_info"]


def test_markdown_has_the_host_line_and_one_row_per_figure(ran: SimpleNamespace) -> None:
    from resnet_deploy.bench.machine import cpu_model

    md = ran.md
    assert f"- host: {cpu_model()}" in md
    rows = [line for line in md.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 6
    for line, t in zip(rows, ran.record["targets"], strict=True):
        assert t["name"] in line and t["status"] in line
    assert "heavy runtimes loaded" in md and "Where the end-to-end time goes" in md


def test_a_bad_option_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = _run("--artifacts", str(tmp_path), "--models", "nothing", "--out", str(tmp_path / "x.md"), timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "nothing/manifest.json" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "x.md").exists()


def test_the_photo_set_alternates_real_photographs_and_samples_at_camera_sizes(tmp_path: Path) -> None:
    import importlib.util

    from PIL import Image

    from resnet_deploy.data.photos import PHOTO_NAMES

    spec = importlib.util.spec_from_file_location("end_to_end_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    n = 5
    paths = mod.make_photo_set(tmp_path, n)
    assert len(paths) == n and len({p.read_bytes() for p in paths}) == n
    for p in paths:
        with Image.open(p) as img:
            assert img.format == "JPEG" and img.mode == "RGB"
            assert 640 <= max(img.size) <= 4000  # camera sizes on the long side
    # even positions: scikit-image photographs; odd: enlarged sample renderings
    assert all(any(name in p.name for name in PHOTO_NAMES) for p in paths[0::2])
    assert not any(any(name in p.name for name in PHOTO_NAMES) for p in paths[1::2])

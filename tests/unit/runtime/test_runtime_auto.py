"""backend="auto" ranks the CPU INT8 candidates by timing them: recorded at quantize, or probed at load.

The artifact gets a third INT8 file, ``int8-heavy``: the same model plus a
costly float branch (four 160-channel 3x3 convolutions, ~0.7 GMACs) whose result is scaled
by 1e-20 before it is added to the logits. It is a real CPU INT8 entry that both
ONNX Runtime and OpenVINO run, so it joins the candidates generically, and it is
several times slower than ``int8-cpu`` on any CPU: a probe that works never picks it.
The recording side (``bench.autoselect``, fresh processes) is tested here too,
because it needs this real artifact.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from resnet_deploy.artifact import Selection, load_manifest, make_entry, update_manifest
from resnet_deploy.errors import ConfigError
from resnet_deploy.host import cpu_signature
from resnet_deploy.runtime import load
from resnet_deploy.runtime.auto import cpu_int8_candidates

HEAVY = "model.int8-heavy.onnx"
LIGHT_SPECS = {"onnxruntime:int8-cpu", "openvino:int8-cpu"}
ALL_SPECS = LIGHT_SPECS | {"onnxruntime:int8-heavy", "openvino:int8-heavy"}
OTHER_CPU = {"cpu_model": "Some Other CPU", "cpu_family_model": "6/1", "cpu_flags": ["avx2", "avx512_vnni"]}


def _heavier(src: Path, dst: Path, channels: int = 160, depth: int = 4) -> None:
    """``src`` plus a costly branch on the input whose (1e-20-scaled) result is added to the logits."""
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.load(str(src))
    g = m.graph
    out, inp = g.output[0].name, g.input[0].name
    for node in g.node:
        for i, name in enumerate(node.output):
            if name == out:
                node.output[i] = "core_logits"
    rng = np.random.default_rng(0)
    inits, nodes, prev, c_in = [], [], inp, 3
    for k in range(depth):
        w = (0.1 * rng.standard_normal((channels, c_in, 3, 3))).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"heavy_w{k}"))
        nodes.append(helper.make_node("Conv", [prev, f"heavy_w{k}"], [f"heavy_h{k}"], pads=[1, 1, 1, 1]))
        prev, c_in = f"heavy_h{k}", channels
    classes = g.output[0].type.tensor_type.shape.dim[1].dim_value
    inits.append(numpy_helper.from_array(np.full((channels, classes), 1e-20, np.float32), "heavy_fc"))
    nodes += [
        helper.make_node("GlobalAveragePool", [prev], ["heavy_pool"]),
        helper.make_node("Flatten", ["heavy_pool"], ["heavy_flat"]),
        helper.make_node("MatMul", ["heavy_flat", "heavy_fc"], ["heavy_tiny"]),
        helper.make_node("Add", ["core_logits", "heavy_tiny"], [out]),
    ]
    g.initializer.extend(inits)
    g.node.extend(nodes)
    onnx.checker.check_model(m)
    onnx.save(m, str(dst))


@pytest.fixture(scope="module")
def heavy_art(artifact_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    art = Path(shutil.copytree(artifact_dir, tmp_path_factory.mktemp("auto") / "art"))
    _heavier(art / "model.int8-cpu.onnx", art / HEAVY)
    update_manifest(art, lambda m: m.files.append(make_entry(art, HEAVY, "onnx", "int8", "heavy")))
    return art


@pytest.fixture()
def art(heavy_art: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(heavy_art, tmp_path / "a"))


def _record(art: Path, host: dict | None, metrics: dict[str, float | None]) -> None:
    best = min((k for k, v in metrics.items() if v is not None), key=lambda k: metrics[k])  # type: ignore[arg-type,return-value]
    sel = Selection(backend=best, strategy="probe", metrics=metrics, host=host, created_at="2026-01-01T00:00:00+00:00")
    update_manifest(art, lambda m: setattr(m, "selection", sel))


def test_heavy_file_runs_and_joins_the_candidates_generically(heavy_art: Path) -> None:
    specs = {c.spec for c in cpu_int8_candidates(load_manifest(heavy_art))}
    assert specs == ALL_SPECS  # int8-tensorrt is not a CPU INT8 candidate
    x = np.random.default_rng(1).standard_normal((2, 3, 32, 32)).astype(np.float32)
    with load(heavy_art, backend="onnxruntime:int8-heavy", threads=1) as h, \
            load(heavy_art, backend="onnxruntime:int8-cpu", threads=1) as c:
        np.testing.assert_allclose(h.infer(x), c.infer(x), rtol=1e-5, atol=1e-5)


def test_probe_at_load_picks_the_faster_file(art: Path) -> None:
    with load(art) as p:
        text = p.explain()
        assert p.backend in LIGHT_SPECS, text
    assert "picked by auto: fastest in a probe at load: " in text
    assert "no probe recorded in the manifest" in text
    line = next(ln for ln in text.splitlines() if "probe at load" in ln)
    figures = {spec: float(line.split(spec + " ")[1].split(" ms")[0]) for spec in ALL_SPECS}
    for backend in ("onnxruntime", "openvino"):  # the same runtime on a file with strictly more work
        assert figures[f"{backend}:int8-cpu"] < figures[f"{backend}:int8-heavy"], line
    assert figures[p.backend] == min(figures.values())


def test_recorded_probe_on_this_cpu_is_followed_without_timing(art: Path) -> None:
    # the record says the heavy file is fastest: only a load that trusts it (and times nothing) picks it
    _record(art, cpu_signature(), {"openvino:int8-heavy": 0.1, "onnxruntime:int8-heavy": 0.2,
                                   "onnxruntime:int8-cpu": 5.0, "openvino:int8-cpu": None})
    with load(art) as p:
        assert p.backend == "openvino:int8-heavy"
        text = p.explain()
    assert "picked by auto: the probe recorded on this CPU at 2026-01-01T00:00:00+00:00: " in text
    assert "openvino:int8-heavy 0.100 ms" in text and "probe at load" not in text


def test_mismatching_signature_triggers_the_probe(art: Path) -> None:
    _record(art, OTHER_CPU, {s: (0.1 if "heavy" in s else 5.0) for s in ALL_SPECS})
    with load(art) as p:
        assert p.backend in LIGHT_SPECS
        text = p.explain()
    assert "the recorded probe was measured on Some Other CPU [avx2 avx512_vnni]" in text
    assert "fastest in a probe at load" in text


def test_record_missing_a_candidate_triggers_the_probe(art: Path) -> None:
    _record(art, cpu_signature(), {"onnxruntime:int8-heavy": 0.1, "openvino:int8-heavy": 0.2})
    with load(art) as p:
        assert p.backend in LIGHT_SPECS
        assert "the recorded probe did not time onnxruntime:int8-cpu, openvino:int8-cpu" in p.explain()


def test_probe_off_uses_the_fixed_order(art: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _record(art, OTHER_CPU, {s: 1.0 for s in ALL_SPECS})
    with load(art, probe=False) as p:
        assert p.backend == "onnxruntime:int8-cpu"
        assert "first runnable in the fixed preference order (the probe is off" in p.explain()
    monkeypatch.setenv("RESNET_DEPLOY_AUTO_PROBE", "0")
    with load(art) as p:
        assert p.backend == "onnxruntime:int8-cpu" and "probe at load" not in p.explain()
    with pytest.raises(ConfigError, match="probe must be True, False or None"):
        load(art, probe="no")  # type: ignore[arg-type]


def test_a_candidate_that_fails_in_the_probe_is_skipped(art: Path) -> None:
    def corrupt(m) -> None:  # listed correctly in the manifest, but no runtime can parse it
        (art / "model.int8-cpu.onnx").write_bytes(b"not a model")
        m.replace_file(make_entry(art, "model.int8-cpu.onnx", "onnx", "int8", "cpu"))

    update_manifest(art, corrupt)
    with load(art) as p:
        assert p.backend in {"onnxruntime:int8-heavy", "openvino:int8-heavy"}
        text = p.explain()
    assert "skipped onnxruntime:int8-cpu: failed in the probe (" in text
    assert "onnxruntime:int8-cpu failed (" in text  # the figures line says so too


def test_bench_selection_from_another_cpu_is_not_followed(art: Path) -> None:
    sel = Selection(backend="openvino:fp32", strategy="min-latency", host=OTHER_CPU)
    update_manifest(art, lambda m: setattr(m, "selection", sel))
    with load(art, probe=False) as p:
        assert p.backend == "onnxruntime:int8-cpu"
        assert "manifest selection 'openvino:fp32' was measured on Some Other CPU" in p.explain()
    same = Selection(backend="openvino:fp32", strategy="min-latency", host=cpu_signature())
    update_manifest(art, lambda m: setattr(m, "selection", same))
    with load(art) as p:
        assert p.backend == "openvino:fp32"
        assert "the benchmark's selection in the manifest (measured on this CPU)" in p.explain()


def test_record_auto_selection_times_each_candidate_and_signs_it(art: Path) -> None:
    from resnet_deploy.bench.autoselect import record_auto_selection
    from resnet_deploy.reporter import RecordingReporter

    rep = RecordingReporter()
    sel = record_auto_selection(art, rep)
    m = load_manifest(art)
    assert sel is not None and m.selection == sel
    assert m.selection.strategy == "probe" and m.selection.host == cpu_signature()
    assert set(sel.metrics) == ALL_SPECS and all(v is not None for v in sel.metrics.values())
    assert sel.backend in LIGHT_SPECS and sel.metrics[sel.backend] == min(sel.metrics.values())  # type: ignore[type-var]
    assert any(kind == "info" and f"auto backend on this CPU: {sel.backend}" in text for kind, text in rep.messages)
    with load(art) as p:
        assert p.backend == sel.backend and "the probe recorded on this CPU" in p.explain()


def test_record_keeps_a_bench_selection(art: Path) -> None:
    from resnet_deploy.bench.autoselect import record_auto_selection

    bench_sel = Selection(backend="openvino:fp32", strategy="min-latency")
    update_manifest(art, lambda m: setattr(m, "selection", bench_sel))
    assert record_auto_selection(art) is None
    assert load_manifest(art).selection == bench_sel


def _quantize_cli(art: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                  *extra: str) -> tuple[dict, str]:
    from resnet_deploy.cli import main

    monkeypatch.setattr(sys, "argv", ["resnet-deploy", "quantize", str(art), "--calib-size", "16",
                                      "--targets", "cpu", "--json", *extra])
    with pytest.raises(SystemExit) as exc:
        main()
    out, err = capsys.readouterr()
    assert exc.value.code == 0, err
    return json.loads(out), err


def test_quantize_records_the_selection_unless_no_select(art: Path, monkeypatch, capsys) -> None:
    update_manifest(art, lambda m: setattr(m, "selection", None))
    data, err = _quantize_cli(art, monkeypatch, capsys, "--no-select")
    assert "auto_selection" not in data and load_manifest(art).selection is None
    data, err = _quantize_cli(art, monkeypatch, capsys)  # reuses calibration.json
    sel = load_manifest(art).selection
    assert sel is not None and sel.strategy == "probe" and sel.host == cpu_signature()
    assert data["auto_selection"] == sel.to_dict() and set(sel.metrics) == ALL_SPECS
    assert "Timing" not in err and "auto backend" not in err  # --json is quiet


def test_unsigned_bench_selection_is_followed_and_says_so(art: Path) -> None:
    update_manifest(art, lambda m: setattr(m, "selection", Selection(backend="openvino:fp32", strategy="min-latency")))
    with load(art) as p:
        assert p.backend == "openvino:fp32"
        assert "recorded without a CPU signature" in p.explain()


def test_same_cpu_compares_model_family_and_flags() -> None:
    from resnet_deploy.host import same_cpu

    here = {"cpu_model": "X", "cpu_family_model": "6/143", "cpu_flags": ["avx2", "avx512f"]}
    assert same_cpu(dict(here, cpu_flags=["avx512f", "avx2"]), here)
    assert not same_cpu(dict(here, cpu_flags=["avx2"]), here)
    assert not same_cpu(dict(here, cpu_family_model="6/85"), here)
    assert not same_cpu(dict(here, cpu_model="Y"), here)
    assert not same_cpu({"cpu_model": "X"}, here) and not same_cpu(None, here) and not same_cpu("X", here)
    assert same_cpu(cpu_signature())

"""Raw-pixel models end to end on the trained 64 px demo model (ResNet-18, quickstart preset).

export writes model.fp32-raw.onnx, quantize one raw twin per INT8 target from the
same calibration.json; both are measured here on the sample eval set's own pixels
against the float-input FP32 file, with the bars of issue #15.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from resnet_deploy.artifact import load_manifest, read_manifest, save_manifest
from resnet_deploy.quantize import QuantizeConfig, quantize_artifact
from resnet_deploy.quantize.evaluate import run_logits
from resnet_deploy.raw_input import normalize_pixels, pixels_of


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from resnet_deploy.demo_model import ensure_demo_model
    from resnet_deploy.export import export_artifact

    sm = ensure_demo_model("quickstart")
    out = tmp_path_factory.mktemp("raw") / "qs"
    export_artifact(sm.export_config(out))
    quantize_artifact(out, QuantizeConfig(targets=("cpu",), calib_size=64, report_size=8))
    return out


@pytest.fixture(scope="module")
def eval_pixels(artifact: Path) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 NHWC pixels, the float NCHW the float-input files take) of the sample eval set."""
    from resnet_deploy.data import open_source

    pre = read_manifest(artifact).preprocessing
    x, _ = open_source("sample", pre, split="eval").arrays()
    pix = pixels_of(x, pre)
    assert pix is not None and len(pix) >= 500
    return pix, normalize_pixels(pix, pre)


def test_files_and_contracts_are_recorded(artifact: Path) -> None:
    m = load_manifest(artifact)
    assert m.input.size == 64
    raw = {f.key: f for f in m.files if f.raw}
    assert set(raw) == {"fp32-raw", "int8-cpu-raw"}
    for f in raw.values():
        assert (f.input.dtype, f.input.layout, f.input.shape) == ("uint8", "NHWC", [-1, 64, 64, 3])
    assert raw["fp32-raw"].path == "model.fp32-raw.onnx" and raw["int8-cpu-raw"].path == "model.int8-cpu-raw.onnx"
    assert m.parity["onnx:fp32-raw"].passed and m.parity["onnx:fp32-raw"].rel_to_range <= 1e-4
    assert m.quantization.drift["int8-cpu-raw"].agreement >= 0.995


def test_fp32_raw_matches_the_float_input_model(artifact: Path, eval_pixels) -> None:
    pix, x = eval_pixels
    ref = run_logits(artifact / "model.fp32.onnx", x)
    got = run_logits(artifact / "model.fp32-raw.onnx", pix)
    assert np.abs(got - ref).max() <= 1e-4 * (ref.max() - ref.min())


def test_int8_raw_agrees_with_fp32(artifact: Path, eval_pixels) -> None:
    pix, x = eval_pixels
    ref = run_logits(artifact / "model.fp32.onnx", x)
    got = run_logits(artifact / "model.int8-cpu-raw.onnx", pix)
    assert (got.argmax(1) == ref.argmax(1)).mean() >= 0.995


def test_int8_raw_comes_from_the_same_ranges(artifact: Path) -> None:
    """Every activation range of the float-input INT8 file after the first conv is in the raw one, unchanged."""
    import onnx
    from onnx import numpy_helper

    def scales(path: Path) -> dict[str, float]:
        g = onnx.load(str(path)).graph
        inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
        return {n.input[0]: float(inits[n.input[1]]) for n in g.node
                if n.op_type == "QuantizeLinear" and n.input[0] != "input"}

    flt, raw = scales(artifact / "model.int8-cpu.onnx"), scales(artifact / "model.int8-cpu-raw.onnx")
    assert len(flt) > 10 and flt == raw
    ranges = json.loads((artifact / "calibration.json").read_text())["ranges"]
    assert set(flt) <= set(ranges)


def test_backend_specs_resolve(artifact: Path) -> None:
    from resnet_deploy.runtime.resolve import resolve

    m = read_manifest(artifact)
    assert resolve(m, "onnxruntime:int8-cpu-raw").entry.path == "model.int8-cpu-raw.onnx"
    assert resolve(m, "openvino:fp32-raw").entry.path == "model.fp32-raw.onnx"


def test_old_artifact_without_raw_files_still_quantizes_and_gets_them(artifact: Path, tmp_path: Path) -> None:
    art = tmp_path / "old"
    shutil.copytree(artifact, art)
    m = read_manifest(art)
    for f in [f for f in m.files if f.raw]:
        (art / f.path).unlink()
    m.files = [f for f in m.files if not f.raw]
    m.parity.pop("onnx:fp32-raw")
    m.quantization.drift.pop("int8-cpu-raw")
    save_manifest(m, art)
    from resnet_deploy.runtime import load

    with load(art, backend="onnxruntime") as p:  # old artifacts run as before
        assert p.backend == "onnxruntime:int8-cpu"
    quantize_artifact(art, QuantizeConfig(targets=("cpu",), calib_size=64, report_size=8))  # ranges reused
    assert {f.key for f in load_manifest(art).files if f.raw} == {"fp32-raw", "int8-cpu-raw"}

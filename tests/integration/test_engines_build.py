"""Build FP32, FP16 and INT8 engines of a tiny ResNet from real artifacts (no GPU: TensorRT-RTX AOT).

Proves our ONNX and Q/DQ graphs are accepted by a strongly typed TensorRT
parser/builder, that the manifest records what the run side checks, and that
failures are one-line errors. The family is chosen like a user would: full
TensorRT where it can build (a GPU), else TensorRT-RTX; the module skips when
neither can build here, and the RTX-only tests skip without ``tensorrt_rtx``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from engines_artifacts import make_engine_artifact, quantize_s8s8

from resnet_deploy._optional import is_available
from resnet_deploy.artifact import (
    ArtifactError,
    load_manifest,
    make_entry,
    read_manifest,
    update_manifest,
)
from resnet_deploy.engines import EngineConfig, build_engine, select_family
from resnet_deploy.errors import ResNetDeployError
from resnet_deploy.runtime.gpu import gpu_info
from resnet_deploy.runtime.trt_compat import engine_meta

pytestmark = pytest.mark.tensorrt
HAS_RTX = is_available("tensorrt_rtx")
needs_rtx = pytest.mark.skipif(not HAS_RTX, reason="needs the tensorrt_rtx module (TensorRT-RTX)")


def buildable_family() -> str:
    """tensorrt with a GPU, else tensorrt-rtx; skip the module when neither can build here."""
    if is_available("tensorrt") and gpu_info() is not None:
        return "tensorrt"
    if HAS_RTX:
        return "tensorrt-rtx"
    pytest.skip("no module that can build here (tensorrt needs a GPU; tensorrt_rtx is not installed)")


@pytest.fixture(scope="module")
def family() -> str:
    return buildable_family()


@pytest.fixture(scope="module")
def artifact(tmp_path_factory, family) -> Path:
    return make_engine_artifact(tmp_path_factory.mktemp("engines") / "art")


@pytest.fixture(scope="module")
def built(artifact, family) -> dict:
    """One engine per precision, built once for the module."""
    return {p: build_engine(artifact, EngineConfig(precision=p, family=family, min_batch=1, opt_batch=4, max_batch=16))
            for p in ("fp32", "fp16", "int8")}


def _fresh_copy(artifact: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "copy"
    shutil.copytree(artifact, dest)
    return dest


def _network(family: str, onnx_path: Path):
    """Parse an ONNX file with the module that built the engines (to look at the typed network)."""
    _fam, trt = select_family(family)
    logger = trt.Logger(trt.Logger.ERROR)
    builder = trt.Builder(logger)
    net = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    parser = trt.OnnxParser(net, logger)
    assert parser.parse_from_file(str(onnx_path))
    return trt, [net.get_layer(i) for i in range(net.num_layers)], (builder, net, parser)


def test_engines_are_written_and_recorded(artifact, built):
    m = load_manifest(artifact)  # every file, engines included, passes its sha256 check
    family = built["fp32"].family
    expect_rtx = gpu_info() is None or family == "tensorrt-rtx"
    for precision, key in (("fp32", "fp32"), ("fp16", "fp16"), ("int8", "int8-tensorrt")):
        res = built[precision]
        rel = f"engines/model.{key}.{family}.plan"
        assert res.entry.path == rel and res.path == artifact / rel and res.path.stat().st_size > 10_000
        entry = next(f for f in m.files if f.path == rel)
        assert entry.format == "tensorrt-engine" and entry.key == key and entry.extra["family"] == family
        meta = engine_meta(m, entry)
        src = next(f for f in m.files if f.format == "onnx" and f.key == key)
        assert meta is not None and meta.source == src.path and meta.source_onnx_sha256 == src.sha256
        assert meta.precision == precision and meta.build_seconds > 0
        assert meta.profile == {"input": {"min": [1, 3, 32, 32], "opt": [4, 3, 32, 32], "max": [16, 3, 32, 32]}}
        if expect_rtx:
            assert meta.gpu_name == "built without a GPU" and meta.compute_capability is None
            assert meta.target_compute_capabilities == ["8.6", "8.9", "12.0"]  # where the run side lets it run
    assert len(m.engines) == 3
    assert not [p for p in artifact.rglob("*") if ".tmp-" in p.name]  # atomic writes left nothing behind
    assert m.toolchain[("tensorrt_rtx" if family == "tensorrt-rtx" else "tensorrt")] == built["fp32"].meta["library_version"]


def test_int8_graph_reaches_tensorrt_as_int8_and_fp16_as_half(artifact, built):
    family = built["int8"].family
    trt, layers, _keep = _network(family, artifact / "model.int8-tensorrt.onnx")
    kinds = [layer.type for layer in layers]
    assert kinds.count(trt.LayerType.QUANTIZE) >= 10 and kinds.count(trt.LayerType.DEQUANTIZE) >= 10
    int8_out = [layer for layer in layers if layer.type == trt.LayerType.QUANTIZE
                and layer.get_output(0).dtype == trt.DataType.INT8]
    assert len(int8_out) == kinds.count(trt.LayerType.QUANTIZE)  # symmetric int8 activations, no uint8
    trt, layers, _keep = _network(family, artifact / "model.fp16.onnx")
    convs = [layer for layer in layers if layer.type == trt.LayerType.CONVOLUTION]
    assert convs and all(c.get_output(0).dtype == trt.DataType.HALF for c in convs)


def test_rebuild_replaces_record_and_reports_timing_cache(artifact, built, family, tmp_path):
    cache = tmp_path / "trt.cache"
    res = build_engine(artifact, EngineConfig(precision="fp32", family=family, min_batch=2, opt_batch=2, max_batch=2,
                                              timing_cache=cache))
    m = read_manifest(artifact)
    recs = [e for e in m.engines if e.path == res.entry.path]
    assert len(recs) == 1 and recs[0].profile["input"]["min"][0] == 2
    if res.family == "tensorrt-rtx":
        assert res.timing_cache is None and not cache.exists()
        assert any("no build timing cache" in n for n in res.notes)
    else:  # full TensorRT on a GPU host: saved, then reused
        assert cache.stat().st_size > 0
        again = build_engine(artifact, EngineConfig(precision="fp32", family=family, timing_cache=cache))
        assert any("reused timing cache" in n for n in again.notes)
    build_engine(artifact, EngineConfig(precision="fp32", family=family, min_batch=1, opt_batch=4, max_batch=16))


def test_parser_errors_are_reported_on_one_line(artifact, family, tmp_path):
    """ORT's default int32 bias quantization is rejected by TensorRT: the error must name the node."""
    art = _fresh_copy(artifact, tmp_path)
    quantize_s8s8(art / "model.fp32.onnx", art / "model.int8-tensorrt.onnx", quantize_bias=True)
    update_manifest(art, lambda m: m.replace_file(make_entry(art, "model.int8-tensorrt.onnx", "onnx", "int8",
                                                             "tensorrt")))
    before = read_manifest(art)
    with pytest.raises(ArtifactError) as info:
        build_engine(art, EngineConfig(precision="int8", family=family))
    msg = str(info.value)
    assert "\n" not in msg and "cannot parse model.int8-tensorrt.onnx" in msg
    assert "DequantizeLinear" in msg and "node " in msg and "re-create it with 'resnet-deploy quantize" in msg
    after = read_manifest(art)  # a failed build changes nothing and leaves no temp files
    assert after.engines == before.engines and after.files == before.files
    assert not [p for p in art.rglob("*") if ".tmp-" in p.name]


def test_missing_or_tampered_source(artifact, family, tmp_path):
    art = _fresh_copy(artifact, tmp_path)
    update_manifest(art, lambda m: setattr(m, "files", [f for f in m.files if f.key != "fp16"]))
    with pytest.raises(ArtifactError, match=r"no model.fp16.onnx .* run 'resnet-deploy quantize ARTIFACT --fp16'"):
        build_engine(art, EngineConfig(precision="fp16", family=family))
    with open(art / "model.fp32.onnx", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ArtifactError, match="model.fp32.onnx"):
        build_engine(art, EngineConfig(precision="fp32", family=family))


@needs_rtx
def test_rtx_refuses_version_compat(artifact):
    _fam, _trt = select_family("tensorrt-rtx")
    with pytest.raises(ResNetDeployError, match="--version-compat is not available with TensorRT-RTX"):
        build_engine(artifact, EngineConfig(family="tensorrt-rtx", version_compatible=True))


def test_cli_json(artifact, built, family, tmp_path):
    art = _fresh_copy(artifact, tmp_path)
    cmd = [sys.executable, "-c", "from resnet_deploy.cli import main; main()", "build-engine", str(art),
           "--precision", "int8", "--batch", "1,2,4", "--opt-level", "1", "--family", family, "--json"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["precision"] == "int8" and data["key"] == "int8-tensorrt"
    assert data["profile"]["input"]["max"] == [4, 3, 32, 32] and data["builder_optimization_level"] == 1
    assert Path(data["engine"]).is_file() and res.stderr.strip() == ""


def rtx_engine_layers(onnx_path: Path) -> list[tuple[str, str]]:
    """(name, type) of every layer of an RTX engine, read from the builder's verbose log (no GPU needed).

    TensorRT-RTX prints the built engine's layer information at VERBOSE level when
    profiling verbosity is DETAILED; ``IEngineInspector`` would need a deserialised
    engine, which needs a GPU.
    """
    import tensorrt_rtx as trt

    messages: list[str] = []

    class Log(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)

        def log(self, severity, msg) -> None:
            messages.append(str(msg))

    logger = Log()
    builder = trt.Builder(logger)
    net = builder.create_network(0)
    parser = trt.OnnxParser(net, logger)
    assert parser.parse_from_file(str(onnx_path))
    config = builder.create_builder_config()
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    profile = builder.create_optimization_profile()
    profile.set_shape("input", (1, 3, 32, 32), (4, 3, 32, 32), (8, 3, 32, 32))
    config.add_optimization_profile(profile)
    assert builder.build_serialized_network(net, config) is not None
    pattern = re.compile(r"Name: (\S+), LayerType: (\w+)")
    return [m.group(1, 2) for msg in messages for line in msg.splitlines() if (m := pattern.match(line.strip()))]


@needs_rtx
def test_int8_residual_add_joins_the_conv_epilogue_without_rounding_the_conv_branch(artifact, built):
    """With Q/DQ on the identity input only, each residual Add(+ReLU) runs in the epilogue kernel after an
    int8 conv, and the conv branch is not quantised again before the Add (with Q/DQ on both inputs the
    epilogue's name shows a Mul-Min-Max-Round-Cast before the Add: an extra int8 rounding)."""
    layers = rtx_engine_layers(artifact / "model.int8-tensorrt.onnx")
    if not layers:
        pytest.skip("this TensorRT-RTX does not print engine layer information in its verbose log")
    convs = [name for name, kind in layers if kind == "correlation"]
    epilogues = [name for name, kind in layers if kind == "kgen" and re.search(r"Add(Move)?Relu", name)]
    assert len(convs) == 19  # resnet20: stem + 9 blocks x 2 convs (its shortcuts pad, no conv), all int8
    assert len(epilogues) == 9  # one per residual block: the Add and ReLU are fused into one kernel
    for name in epilogues:
        before_add = name.split("Add")[0]
        assert "RounCast" not in before_add, name  # no re-quantisation of the conv branch before the Add

"""Engine options, source-file selection, manifest records, and the path without any TensorRT module."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from resnet_deploy._optional import is_available
from resnet_deploy.artifact import ArtifactError, make_entry, read_manifest, update_manifest
from resnet_deploy.cli.engine_cmd import make_engine_config, parse_batch
from resnet_deploy.engines import EngineConfig, EngineMeta, engine_rel_path, source_entry
from resnet_deploy.engines.metadata import record_engine
from resnet_deploy.errors import ResNetDeployError


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"precision": "int4"}, "unknown precision 'int4'; choose one of: fp32, fp16, int8"),
        ({"family": "trt"}, "unknown family 'trt'; choose one of: auto, tensorrt, tensorrt-rtx"),
        ({"min_batch": 0}, "--batch MIN must be an integer from 1 to 4096, got 0"),
        ({"min_batch": 8, "opt_batch": 4}, "MIN <= OPT <= MAX"),
        ({"max_batch": 10_000, "opt_batch": 8}, "--batch MAX must be an integer from 1 to 4096"),
        ({"workspace_mib": 0}, r"--workspace \(MiB\) must be an integer from 1 to 1048576"),
        ({"opt_level": 6}, "--opt-level must be an integer from 0 to 5"),
    ],
)
def test_bad_engine_options_are_one_line_errors(kwargs, needle):
    with pytest.raises(ResNetDeployError, match=needle) as info:
        EngineConfig(**kwargs)
    assert "\n" not in str(info.value)


def test_timing_cache_must_be_a_file(tmp_path):
    with pytest.raises(ResNetDeployError, match="is a directory"):
        EngineConfig(timing_cache=tmp_path)


def test_cli_flag_parsing():
    assert parse_batch("1,8,32") == (1, 8, 32) and parse_batch("4") == (4, 4, 4)
    with pytest.raises(ResNetDeployError, match="MIN,OPT,MAX"):
        parse_batch("1,2")
    with pytest.raises(ResNetDeployError, match="comma-separated positive integers"):
        parse_batch("a,b,c")
    cfg = make_engine_config("INT8", "2,4,8", "512", "5", None, "tensorrt-rtx", False, False)
    assert (cfg.precision, cfg.min_batch, cfg.max_batch, cfg.workspace_mib, cfg.opt_level) == ("int8", 2, 8, 512, 5)
    with pytest.raises(ResNetDeployError, match="--opt-level must be an integer"):
        make_engine_config("fp32", "1,8,32", None, "high", None, "auto", False, False)


def test_engine_file_names():
    assert engine_rel_path("int8-tensorrt", "tensorrt-rtx") == "engines/model.int8-tensorrt.tensorrt-rtx.plan"
    assert engine_rel_path("fp16", "tensorrt") == "engines/model.fp16.tensorrt.plan"


def test_missing_source_file_says_which_command_makes_it(onnx_artifact):
    m = read_manifest(onnx_artifact)
    assert source_entry(m, "fp32").path == "model.fp32.onnx"
    with pytest.raises(ArtifactError) as info:
        source_entry(m, "int8")  # the artifact only has the U8S8 CPU file, which TensorRT cannot use
    assert str(info.value) == (
        "artifact has no model.int8-tensorrt.onnx for a int8 engine; "
        "run 'resnet-deploy quantize ARTIFACT --targets tensorrt' first"
    )
    with pytest.raises(ArtifactError, match=r"run 'resnet-deploy quantize ARTIFACT --fp16' first"):
        source_entry(m, "fp16")


def test_record_engine_replaces_the_previous_build(onnx_artifact):
    (onnx_artifact / "engines").mkdir()
    rel = engine_rel_path("fp32", "tensorrt-rtx")
    for build in (1, 2):
        (onnx_artifact / rel).write_bytes(b"x" * build)
        entry = make_entry(onnx_artifact, rel, "tensorrt-engine", "fp32")
        meta = EngineMeta(path=rel, family="tensorrt-rtx", library_version="1.7.1", precision="fp32", key="fp32",
                          source="model.fp32.onnx", source_onnx_sha256="ab" * 32, profile={}, build_seconds=float(build))
        update_manifest(onnx_artifact, lambda m, e=entry, mt=meta: record_engine(m, e, mt))
    m = read_manifest(onnx_artifact)
    assert [e.build_seconds for e in m.engines] == [2.0]
    assert [f.path for f in m.files if f.format == "tensorrt-engine"] == [rel]
    assert m.toolchain["tensorrt_rtx"] == "1.7.1"


POISON = "import sys\nfor _m in ('tensorrt', 'tensorrt_rtx'):\n    sys.modules[_m] = None\n"


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", POISON + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def test_without_any_tensorrt_module_build_engine_names_both_extras(onnx_artifact):
    res = _run(f"""
        from resnet_deploy.engines import build_engine, EngineConfig
        from resnet_deploy.errors import MissingDependencyError
        for family in ("auto", "tensorrt", "tensorrt-rtx"):
            try:
                build_engine({str(onnx_artifact)!r}, EngineConfig(family=family))
            except MissingDependencyError as exc:
                print(exc)
    """)
    assert res.returncode == 0, res.stderr
    auto, trt, rtx = res.stdout.strip().splitlines()
    assert "resnet-deploy[tensorrt]" in auto and "resnet-deploy[tensorrt-rtx]" in auto
    assert "resnet-deploy[tensorrt]'" in trt and "resnet-deploy[tensorrt-rtx]" in rtx


def test_cli_without_tensorrt_prints_one_error_line_and_exits_2(onnx_artifact):
    res = _run(f"""
        sys.argv = ["resnet-deploy", "build-engine", {str(onnx_artifact)!r}, "--precision", "fp32"]
        from resnet_deploy.cli import main
        main()
    """)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "resnet-deploy[tensorrt-rtx]" in lines[0]
    assert "Traceback" not in res.stderr and not (onnx_artifact / "engines").exists()


@pytest.mark.skipif(not is_available("tensorrt_rtx"), reason="needs the tensorrt_rtx module")
def test_auto_does_not_build_rtx_engines_for_a_gpu_that_cannot_run_them(monkeypatch):
    """Only TensorRT-RTX installed, an H200 present: auto refuses in one line instead of building a plan
    that would fail at load (RTX runs on 8.6/8.9/12.0); an RTX-class GPU or --family tensorrt-rtx still build."""
    from resnet_deploy.engines import build as build_mod
    from resnet_deploy.runtime.gpu import GpuInfo

    real = build_mod.try_import
    monkeypatch.setattr(build_mod, "try_import", lambda name: None if name == "tensorrt" else real(name))
    monkeypatch.setattr(build_mod, "gpu_info", lambda: GpuInfo("NVIDIA H200", "9.0", 143771, "580.65"))
    with pytest.raises(ResNetDeployError) as info:
        build_mod.select_family("auto")
    msg = str(info.value)
    assert "NVIDIA H200, compute capability 9.0" in msg and "8.6, 8.9, 12.0" in msg and "\n" not in msg
    assert "resnet-deploy[tensorrt]" in msg and "--family tensorrt-rtx" in msg
    assert build_mod.select_family("tensorrt-rtx")[0] == "tensorrt-rtx"  # explicit: build for another GPU
    monkeypatch.setattr(build_mod, "gpu_info", lambda: GpuInfo("NVIDIA GeForce RTX 4090", "8.9", 24564, "580.65"))
    assert build_mod.select_family("auto")[0] == "tensorrt-rtx"

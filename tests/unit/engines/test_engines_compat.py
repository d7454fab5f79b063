"""Every decision of check_engine_compat and the profile shape check (pure functions)."""

from __future__ import annotations

import pytest

from resnet_deploy.artifact import EngineRecord
from resnet_deploy.errors import EngineCompatibilityError, InvalidInputError
from resnet_deploy.runtime.gpu import GpuInfo
from resnet_deploy.runtime.trt_compat import (
    check_batch_shape,
    check_engine_compat,
    parse_version,
    profile_range,
)

H100 = GpuInfo(name="NVIDIA H100 80GB HBM3", compute_capability="9.0", memory_mib=81559, driver="550.54")
A10 = GpuInfo(name="NVIDIA A10", compute_capability="8.6", memory_mib=23028, driver="550.54")
T4 = GpuInfo(name="Tesla T4", compute_capability="7.5", memory_mib=15360, driver="550.54")
RTX5090 = GpuInfo(name="NVIDIA GeForce RTX 5090", compute_capability="12.0", memory_mib=32607, driver="575.0")


def trt_meta(**kw) -> EngineRecord:
    meta = {
        "path": "engines/model.fp32.tensorrt.plan", "family": "tensorrt", "library_version": "10.3.0.26",
        "precision": "fp32", "key": "fp32", "source": "model.fp32.onnx", "source_onnx_sha256": "", "build_seconds": 1.0,
        "gpu_name": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0",
        "hardware_compatibility": "none", "version_compatible": False,
        "profile": {"input": {"min": [1, 3, 32, 32], "opt": [8, 3, 32, 32], "max": [32, 3, 32, 32]}},
    }
    meta.update(kw)
    return EngineRecord.from_dict(meta)


def rtx_meta(**kw) -> EngineRecord:
    rtx = dict(path="engines/model.fp32.tensorrt-rtx.plan", family="tensorrt-rtx", library_version="1.7.1.116",
               gpu_name="built without a GPU", compute_capability=None, hardware_compatibility="rtx-default")
    return trt_meta(**{**rtx, **kw})


def refused(meta, version, gpu, **kw) -> str:
    with pytest.raises(EngineCompatibilityError) as info:
        check_engine_compat(meta, version, gpu, **kw)
    msg = str(info.value)
    assert "\n" not in msg and msg.strip() == msg
    return msg


def test_same_library_and_gpu_is_accepted():
    check_engine_compat(trt_meta(), "10.3.0.26", H100, family="tensorrt")
    check_engine_compat(trt_meta(), "10.3.1", H100)  # patch releases of the same minor are fine


@pytest.mark.parametrize("meta", [None, "junk", {"path": "engines/x.plan", "family": "tensorrt"}])
def test_missing_build_record(meta):
    assert "no build record" in refused(meta, "10.3.0", H100)


def test_unknown_family():
    assert "unknown family 'openvino'" in refused(trt_meta(family="openvino"), "10.3.0", H100)


def test_family_mismatch_names_both_and_the_extra():
    msg = refused(rtx_meta(), "10.3.0", H100, family="tensorrt")
    assert "TensorRT-RTX 1.7.1.116" in msg and "TensorRT 10.3.0" in msg
    assert "resnet-deploy[tensorrt-rtx]" in msg and "--family tensorrt" in msg
    msg = refused(trt_meta(), "1.7.1", H100, family="tensorrt-rtx")
    assert "resnet-deploy[tensorrt]" in msg


def test_library_not_installed():
    msg = refused(trt_meta(), None, H100)
    assert "'tensorrt' is not installed" in msg and "resnet-deploy[tensorrt]" in msg


@pytest.mark.parametrize("installed", ["10.4.0", "10.2.9", "11.0.0", "9.3.0"])
def test_major_minor_must_match(installed):
    msg = refused(trt_meta(), installed, H100)
    assert "major.minor must match" in msg and installed in msg and "--version-compat" in msg


def test_version_compatible_engine_runs_on_newer_same_major_only():
    meta = trt_meta(version_compatible=True)
    check_engine_compat(meta, "10.8.0", H100)
    check_engine_compat(meta, "10.3.0", H100)
    assert "within major 10" in refused(meta, "10.2.0", H100)
    assert "within major 10" in refused(meta, "11.0.0", H100)


def test_unreadable_version():
    assert "unreadable library version" in refused(trt_meta(library_version="x.y"), "10.3.0", H100)


def test_no_gpu_is_refused_after_library_checks():
    assert "needs an NVIDIA GPU" in refused(trt_meta(), "10.3.0", None)
    assert "needs an NVIDIA GPU" in refused(rtx_meta(), "1.7.1", None)
    # a version mismatch is reported even without a GPU (it is the first thing to fix)
    assert "major.minor" in refused(trt_meta(), "10.4.0", None)


def test_compute_capability_must_match_without_hardware_compat():
    msg = refused(trt_meta(), "10.3.0", A10)
    assert "compute capability 9.0" in msg and "NVIDIA A10 (compute capability 8.6)" in msg
    assert "--hardware-compat" in msg
    check_engine_compat(trt_meta(compute_capability="8.6", gpu_name="NVIDIA A10"), "10.3.0", A10)


def test_missing_compute_capability_in_record():
    assert "does not record the compute capability" in refused(trt_meta(compute_capability=None), "10.3", H100)


def test_hardware_compatible_engine_needs_ampere_or_newer():
    meta = trt_meta(hardware_compatibility="ampere_plus")
    check_engine_compat(meta, "10.3.0", A10)
    check_engine_compat(meta, "10.3.0", RTX5090)
    assert "Ampere and newer" in refused(meta, "10.3.0", T4)


def test_rtx_default_targets_are_ampere_and_newer():
    for gpu in (A10, H100, RTX5090):
        check_engine_compat(rtx_meta(), "1.7.1.116", gpu)
    assert "compute capability 8.0 and newer" in refused(rtx_meta(), "1.7.1.116", T4)
    assert "major.minor" in refused(rtx_meta(), "1.6.0", A10)


def test_rtx_explicit_targets():
    meta = rtx_meta(target_compute_capabilities=["7.5"])
    check_engine_compat(meta, "1.7.1", T4)
    assert "built for compute capability 7.5" in refused(meta, "1.7.1", A10)


def test_parse_version():
    assert parse_version("10.3.0.26") == (10, 3)
    assert parse_version("11") == (11, 0)
    with pytest.raises(ValueError):
        parse_version("abc")


def test_profile_range():
    assert profile_range(trt_meta()) == (1, 8, 32)
    assert profile_range(trt_meta(profile={})) is None
    assert profile_range(None) is None


def test_batch_inside_profile_is_accepted():
    for n in (1, 7, 32):
        check_batch_shape((n, 3, 32, 32), (3, 32, 32), 1, 32)


@pytest.mark.parametrize(
    ("shape", "needle"),
    [
        ((3, 32, 32), "4-D NCHW"),
        ((2, 32, 32, 3), "[N, 3, 32, 32]"),
        ((2, 3, 64, 64), "[N, 3, 32, 32]"),
        ((0, 3, 32, 32), "batch of 0 is outside"),
        ((33, 3, 32, 32), "batch of 33 is outside"),
    ],
)
def test_bad_shapes_are_one_line_invalid_input(shape, needle):
    with pytest.raises(InvalidInputError) as info:
        check_batch_shape(shape, (3, 32, 32), 1, 32, what="engine e.plan")
    msg = str(info.value)
    assert needle in msg and "\n" not in msg
    if "outside" in needle:
        assert "(1..32)" in msg and "--batch" in msg

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
RTX4090 = GpuInfo(name="NVIDIA GeForce RTX 4090", compute_capability="8.9", memory_mib=24564, driver="575.0")
A100 = GpuInfo(name="NVIDIA A100-SXM4-80GB", compute_capability="8.0", memory_mib=81920, driver="575.0")
H200 = GpuInfo(name="NVIDIA H200", compute_capability="9.0", memory_mib=143771, driver="580.65")


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
    check_engine_compat(trt_meta(library_version="10.3.0"), "10.3.0.0", H100)  # trailing zeros are the same


@pytest.mark.parametrize("installed", ["10.3.1", "10.3.0.27"])
def test_patch_or_build_mismatch_is_refused(installed):
    """'compatible only with the version of TensorRT used to build them' (TensorRT guide): exact match."""
    msg = refused(trt_meta(), installed, H100)
    assert "exact version" in msg and installed in msg and "--version-compat" in msg


@pytest.mark.parametrize("meta", [None, "junk", {"path": "engines/x.plan", "family": "tensorrt"}])
def test_missing_build_record(meta):
    assert "no build record" in refused(meta, "10.3.0.26", H100)


def test_unknown_family():
    assert "unknown family 'openvino'" in refused(trt_meta(family="openvino"), "10.3.0.26", H100)


def test_family_mismatch_names_both_and_the_extra():
    msg = refused(rtx_meta(), "10.3.0.26", H100, family="tensorrt")
    assert "TensorRT-RTX 1.7.1.116" in msg and "TensorRT 10.3.0" in msg
    assert "resnet-deploy[tensorrt-rtx]" in msg and "--family tensorrt" in msg
    msg = refused(trt_meta(), "1.7.1", H100, family="tensorrt-rtx")
    assert "resnet-deploy[tensorrt]" in msg


def test_one_family_table_feeds_build_run_and_manifest():
    """engines/build.py, engines/metadata.py and runtime/trt_compat.py read one table."""
    from resnet_deploy.engines import build as build_mod
    from resnet_deploy.engines.metadata import EngineMeta, record_engine
    from resnet_deploy.runtime.trt_compat import FAMILIES

    assert build_mod.FAMILIES is FAMILIES and build_mod.FAMILY_CHOICES == ("auto", "tensorrt", "tensorrt-rtx")
    assert {f.name: (f.module, f.extra) for f in FAMILIES.values()} == {
        "tensorrt": ("tensorrt", "tensorrt"), "tensorrt-rtx": ("tensorrt_rtx", "tensorrt-rtx")}
    from resnet_deploy.artifact import FileEntry, InputSpec, Manifest, ModelInfo, Preprocessing

    m = Manifest(model=ModelInfo(arch="toy", num_classes=2), input=InputSpec(shape=[-1, 3, 8, 8]),
                 preprocessing=Preprocessing.for_input_size(8))
    for fam in FAMILIES.values():
        meta = EngineMeta(path=f"engines/m.{fam.name}.plan", family=fam.name, library_version="9.9", precision="fp32",
                          key="fp32", source="model.fp32.onnx", source_onnx_sha256="0" * 64, profile={},
                          build_seconds=1.0)
        record_engine(m, FileEntry(path=meta.path, format="tensorrt-engine", precision="fp32", sha256="0" * 64,
                                   size=1), meta)
        assert m.toolchain[fam.module] == "9.9"


def test_library_not_installed():
    msg = refused(trt_meta(), None, H100)
    assert "'tensorrt' is not installed" in msg and "resnet-deploy[tensorrt]" in msg


@pytest.mark.parametrize("installed", ["10.4.0", "10.2.9", "11.0.0", "9.3.0"])
def test_other_versions_are_refused(installed):
    msg = refused(trt_meta(), installed, H100)
    assert "exact version" in msg and installed in msg and "--version-compat" in msg


def test_version_compatible_engine_runs_on_newer_runtimes_nvidia_supports():
    meta = trt_meta(version_compatible=True)
    check_engine_compat(meta, "10.8.0", H100)
    check_engine_compat(meta, "10.3.0.26", H100)
    check_engine_compat(meta, "11.4.0", H100)  # 10 -> 11 is a supported pair (TensorRT 11 support matrix)
    assert "within major 10" in refused(meta, "10.2.0", H100)
    assert "within major 11" in refused(trt_meta(version_compatible=True, library_version="11.1.0"), "12.0.0", H100)
    assert "within major 10" in refused(meta, "9.0.0", H100)


def test_unreadable_version():
    assert "unreadable library version" in refused(trt_meta(library_version="x.y"), "10.3.0.26", H100)


def test_no_gpu_is_refused_after_library_checks():
    assert "needs an NVIDIA GPU" in refused(trt_meta(), "10.3.0.26", None)
    assert "needs an NVIDIA GPU" in refused(rtx_meta(), "1.7.1.116", None)
    # a version mismatch is reported even without a GPU (it is the first thing to fix)
    assert "exact version" in refused(trt_meta(), "10.4.0", None)


def test_compute_capability_must_match_without_hardware_compat():
    msg = refused(trt_meta(), "10.3.0.26", A10)
    assert "compute capability 9.0" in msg and "NVIDIA A10 (compute capability 8.6)" in msg
    assert "--hardware-compat" in msg
    check_engine_compat(trt_meta(compute_capability="8.6", gpu_name="NVIDIA A10"), "10.3.0.26", A10)


def test_missing_compute_capability_in_record():
    assert "does not record the compute capability" in refused(trt_meta(compute_capability=None), "10.3.0.26", H100)


def test_hardware_compatible_engine_needs_ampere_or_newer():
    meta = trt_meta(hardware_compatibility="ampere_plus")
    check_engine_compat(meta, "10.3.0.26", A10)
    check_engine_compat(meta, "10.3.0.26", RTX5090)
    assert "Ampere and newer" in refused(meta, "10.3.0.26", T4)


def test_rtx_default_targets_are_the_rtx_support_matrix():
    """Portable by default across 8.6, 8.9 and 12.0 (RTX support matrix): not A100, H100/H200 or Turing."""
    for gpu in (A10, RTX4090, RTX5090):
        check_engine_compat(rtx_meta(), "1.7.1.116", gpu)
    for gpu in (A100, H100, H200, T4):
        msg = refused(rtx_meta(), "1.7.1.116", gpu)
        assert "runs on compute capability 8.6, 8.9, 12.0" in msg and gpu.name in msg and "--family tensorrt" in msg
    assert "exact version" in refused(rtx_meta(), "1.6.0", A10)
    assert "exact version" in refused(rtx_meta(), "1.7.2.0", A10)
    assert "--version-compat" not in refused(rtx_meta(), "1.7.2.0", A10)  # RTX has no version compatibility


def test_rtx_explicit_targets():
    meta = rtx_meta(target_compute_capabilities=["7.5"])
    check_engine_compat(meta, "1.7.1.116", T4)
    assert "runs on compute capability 7.5" in refused(meta, "1.7.1.116", A10)


def test_parse_version():
    assert parse_version("10.3.0.26") == (10, 3, 0, 26)
    assert parse_version("11") == (11,)
    assert parse_version("10.3.0.post1") == (10, 3, 0)
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

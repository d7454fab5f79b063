"""candidates / resolve / make_runner on a real artifact: ordering, keys, skip reasons, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from resnet_deploy.artifact import load_manifest
from resnet_deploy.errors import BackendUnavailableError, ResNetDeployError
from resnet_deploy.runtime import registry
from resnet_deploy.runtime.ort import OrtCpuRunner
from resnet_deploy.runtime.resolve import candidates, make_runner, parse_spec, resolve


@pytest.fixture(scope="module")
def manifest(artifact_dir: Path):
    return load_manifest(artifact_dir)


def test_candidates_follow_registry_order_and_list_every_file(manifest) -> None:
    cands = candidates(manifest)
    backends = [c.backend for c in cands]
    order = list(registry.BACKENDS)
    assert backends == sorted(backends, key=order.index)
    assert set(backends) == set(order)  # every backend appears, runnable or with a reason
    ort_keys = [c.key for c in cands if c.backend == "onnxruntime"]
    assert ort_keys == ["int8-cpu", "fp32", "int8-tensorrt", "fp16"]  # CPU preference
    ov_keys = [c.key for c in cands if c.backend == "openvino"]
    assert ov_keys[0] == "int8-cpu" and set(ov_keys) == set(ort_keys)
    for c in cands:
        assert c.runnable == (c.skip_reason is None)
        if c.entry is not None:
            assert c.spec == f"{c.backend}:{c.entry.key}"


def test_backend_without_files_is_skipped_with_reason(manifest) -> None:
    [trt] = [c for c in candidates(manifest, ["tensorrt"])]
    assert trt.entry is None and not trt.runnable
    assert trt.skip_reason  # no engine in this artifact


def test_candidates_filter_by_spec(manifest) -> None:
    cands = candidates(manifest, ["openvino:fp32", "onnxruntime"])
    assert [c.spec for c in cands if c.backend == "openvino"] == ["openvino:fp32"]
    assert len([c for c in cands if c.backend == "onnxruntime"]) == 4
    with pytest.raises(ResNetDeployError, match="unknown backend 'nope'"):
        candidates(manifest, ["nope"])


def test_resolve_picks_preferred_file_and_explicit_keys(manifest) -> None:
    c = resolve(manifest, "onnxruntime")
    assert c.spec == "onnxruntime:int8-cpu" and c.runner_cls is OrtCpuRunner
    assert resolve(manifest, "onnxruntime:fp32").entry.path == "model.fp32.onnx"
    assert resolve(manifest, " torch ").entry.path == "model.pt2"
    assert resolve(manifest, "torchscript").entry.format == "torchscript"


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("nope", "unknown backend 'nope'; choose one of: tensorrt"),
        ("onnxruntime:int4", "no 'int4' file for backend 'onnxruntime'; it has: fp16, fp32, int8-cpu"),
        ("", "is empty"),
        ("auto", "chosen by resnet_deploy.runtime.load"),
    ],
)
def test_resolve_errors_are_one_line(manifest, spec: str, match: str) -> None:
    with pytest.raises(ResNetDeployError, match=match) as info:
        resolve(manifest, spec)
    assert "\n" not in str(info.value)


def test_unavailable_backend_names_the_reason(manifest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(OrtCpuRunner, "probe", classmethod(lambda cls: "onnxruntime is not installed"))
    [c] = [c for c in candidates(manifest, ["onnxruntime:fp32"])]
    assert c.skip_reason == "onnxruntime is not installed"
    with pytest.raises(BackendUnavailableError, match="onnxruntime:int8-cpu cannot run here: onnxruntime is not"):
        resolve(manifest, "onnxruntime")
    with pytest.raises(BackendUnavailableError):
        make_runner(".", manifest, c)


def test_parse_spec() -> None:
    assert parse_spec("openvino:int8-cpu") == ("openvino", "int8-cpu")
    assert parse_spec("torch") == ("torch", None)


def test_make_runner_runs(artifact_dir: Path, manifest, test_batch) -> None:
    with make_runner(artifact_dir, manifest, resolve(manifest, "onnxruntime:fp32"), threads=1) as r:
        assert r.name == "onnxruntime:fp32"
        assert r.infer(test_batch).shape == (len(test_batch), 10)
    assert not r.is_active


def test_openvino_prefers_its_own_int8_form_and_int8_cpu_still_names_ort_s(artifact_dir: Path, tmp_path: Path) -> None:
    """With model.int8-openvino.onnx present: openvino picks it, openvino:int8-cpu keeps its file, ORT is unchanged."""
    import shutil

    from resnet_deploy.artifact import make_entry, update_manifest
    from resnet_deploy.runtime.openvino import OpenVINORunner

    art = tmp_path / "art"
    shutil.copytree(artifact_dir, art)
    shutil.copy(art / "model.int8-cpu.onnx", art / "model.int8-openvino.onnx")  # any runnable Q/DQ file will do
    entry = make_entry(art, "model.int8-openvino.onnx", "onnx", "int8", "openvino")
    update_manifest(art, lambda m: m.replace_file(entry))
    m = load_manifest(art)
    ov = [c for c in candidates(m, ["openvino"])]
    assert [c.key for c in ov][:2] == ["int8-openvino", "int8-cpu"]
    assert resolve(m, "openvino:int8-openvino").entry.path == "model.int8-openvino.onnx"
    assert resolve(m, "openvino:int8-cpu").entry.path == "model.int8-cpu.onnx"
    if OpenVINORunner.probe() is None:
        assert resolve(m, "openvino").key == "int8-openvino"
    assert resolve(m, "onnxruntime").key == "int8-cpu"
    assert [c.key for c in candidates(m, ["onnxruntime"])][-1] == "int8-openvino"  # last in ORT's preference

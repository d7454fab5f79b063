"""The Triton repository writer: every config.pbtxt parses with Triton's own schema.

``tritonclient.grpc.model_config_pb2.ModelConfig`` is the ModelConfig protobuf
Triton itself loads; parsing with ``text_format.Parse`` rejects unknown fields,
wrong types and conflicting oneofs, so these tests fail on any config Triton
would refuse to read.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from serve_toy import CLASSES, LABELS, SIZE, build_toy_artifact

from resnet_deploy.artifact import read_manifest, update_manifest
from resnet_deploy.errors import ArtifactError, ResNetDeployError
from resnet_deploy.serve.triton_repo import RepoConfig, profile_max_batch, write_triton_repo

mc = pytest.importorskip("tritonclient.grpc.model_config_pb2")
text_format = pytest.importorskip("google.protobuf.text_format")


def parse(path: Path):
    return text_format.Parse(path.read_text(), mc.ModelConfig())


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write(artifact: Path, out: Path, **kw) -> tuple[object, dict[str, object]]:
    result = write_triton_repo(artifact, RepoConfig(out=out, **kw))
    configs = {name: parse(out / name / "config.pbtxt") for name in result.models}
    return result, configs


def test_onnxruntime_cpu_repository_layout_and_configs(toy_artifact: Path, tmp_path: Path) -> None:
    out = tmp_path / "repo"
    result, cfgs = write(toy_artifact, out, max_batch=8, instances=2, max_queue_delay_us=250)
    assert set(cfgs) == {"resnet", "resnet_preprocess", "resnet_ensemble"}
    net = cfgs["resnet"]
    assert net.name == "resnet" and net.backend == "onnxruntime"
    assert net.default_model_filename == "model.onnx"
    assert net.max_batch_size == 8
    assert [(i.name, i.data_type, list(i.dims)) for i in net.input] == [
        ("input", mc.DataType.TYPE_FP32, [3, SIZE, SIZE])
    ]
    assert [(o.name, o.data_type, list(o.dims), o.label_filename) for o in net.output] == [
        ("logits", mc.DataType.TYPE_FP32, [CLASSES], "labels.txt")
    ]
    assert list(net.dynamic_batching.preferred_batch_size) == [2, 4, 8]
    assert net.dynamic_batching.max_queue_delay_microseconds == 250
    assert [(g.count, g.kind) for g in net.instance_group] == [(2, mc.ModelInstanceGroup.Kind.KIND_CPU)]
    assert not net.optimization.execution_accelerators.gpu_execution_accelerator
    # the network file is the artifact's FP32 ONNX, byte for byte; labels in order
    assert sha(out / "resnet" / "1" / "model.onnx") == sha(toy_artifact / "model.fp32.onnx")
    assert (out / "resnet" / "labels.txt").read_text().splitlines() == LABELS
    assert result.source == "model.fp32.onnx" and result.kind == "cpu"


def test_preprocess_and_ensemble_wiring(toy_artifact: Path, tmp_path: Path) -> None:
    _, cfgs = write(toy_artifact, tmp_path / "repo", max_batch=4)
    pre, ens = cfgs["resnet_preprocess"], cfgs["resnet_ensemble"]
    assert pre.backend == "python" and pre.max_batch_size == 4
    assert [(i.name, i.data_type, list(i.dims)) for i in pre.input] == [("image", mc.DataType.TYPE_STRING, [1])]
    assert [(o.name, list(o.dims)) for o in pre.output] == [("input", [3, SIZE, SIZE])]
    params = {k: v.string_value for k, v in pre.parameters.items()}
    assert params["resize"] == str(int(SIZE * 256 / 224)) and params["crop"] == str(SIZE)
    assert [float(v) for v in params["mean"].split(",")] == pytest.approx([0.485, 0.456, 0.406])
    assert (tmp_path / "repo" / "resnet_preprocess" / "1" / "model.py").is_file()

    assert ens.platform == "ensemble" and ens.max_batch_size == 4
    assert [i.name for i in ens.input] == ["image"] and [o.name for o in ens.output] == ["logits"]
    steps = ens.ensemble_scheduling.step
    assert [s.model_name for s in steps] == ["resnet_preprocess", "resnet"]
    assert all(s.model_version == -1 for s in steps)
    # the tensor produced by step 1 is exactly the one step 2 consumes, and the ensemble's
    # own input/output names are the ends of the chain
    assert dict(steps[0].input_map) == {"image": "image"}
    assert dict(steps[1].input_map) == {"input": steps[0].output_map["input"]}
    assert dict(steps[1].output_map) == {"logits": "logits"}
    assert (tmp_path / "repo" / "resnet_ensemble" / "1").is_dir()  # Triton needs a version dir


@pytest.mark.parametrize(
    ("kind", "precision", "source", "mode"),
    [
        ("cpu", "int8", "model.int8-cpu.onnx", None),
        ("gpu", "int8", "model.int8-tensorrt.onnx", "INT8"),
        ("gpu", "fp16", "model.fp32.onnx", "FP16"),
        ("gpu", "fp32", "model.fp32.onnx", "FP32"),
    ],
)
def test_onnxruntime_precisions_pick_the_right_file_and_accelerator(
    toy_artifact: Path, tmp_path: Path, kind: str, precision: str, source: str, mode: str | None
) -> None:
    result, cfgs = write(toy_artifact, tmp_path / "repo", kind=kind, precision=precision)
    assert result.source == source
    net = cfgs["resnet"]
    accels = net.optimization.execution_accelerators.gpu_execution_accelerator
    if mode is None:
        assert not accels
    else:
        assert [a.name for a in accels] == ["tensorrt"]
        assert accels[0].parameters["precision_mode"] == mode
        assert net.instance_group[0].kind == mc.ModelInstanceGroup.Kind.KIND_GPU
    # the preprocess model stays on CPU whatever the network uses
    assert cfgs["resnet_preprocess"].instance_group[0].kind == mc.ModelInstanceGroup.Kind.KIND_CPU


def test_openvino_cpu_settings(toy_artifact: Path, tmp_path: Path) -> None:
    result, cfgs = write(toy_artifact, tmp_path / "repo", backend="openvino", precision="int8", instances=3)
    net = cfgs["resnet"]
    assert net.backend == "openvino" and net.default_model_filename == "model.onnx"
    assert net.parameters["NUM_STREAMS"].string_value == "3"
    assert net.parameters["PERFORMANCE_HINT"].string_value == "THROUGHPUT"
    assert result.source == "model.int8-cpu.onnx"


def test_openvino_int8_uses_the_openvino_form_when_the_artifact_has_it(toy_artifact: Path, tmp_path: Path) -> None:
    import shutil

    from resnet_deploy.artifact import make_entry

    art = tmp_path / "art"
    shutil.copytree(toy_artifact, art)
    shutil.copy(art / "model.int8-cpu.onnx", art / "model.int8-openvino.onnx")
    update_manifest(art, lambda m: m.replace_file(make_entry(art, "model.int8-openvino.onnx", "onnx", "int8",
                                                             "openvino")))
    result, _ = write(art, tmp_path / "ov", backend="openvino", precision="int8")
    assert result.source == "model.int8-openvino.onnx"
    result, _ = write(art, tmp_path / "ort", backend="onnxruntime", precision="int8")
    assert result.source == "model.int8-cpu.onnx"  # ONNX Runtime keeps the form it fuses


def test_tensorrt_plan_uses_the_tensorrt_engine_and_its_profile(toy_artifact: Path, tmp_path: Path) -> None:
    out = tmp_path / "repo"
    result = write_triton_repo(toy_artifact, RepoConfig(out=out, backend="tensorrt", precision="int8"))
    net = parse(out / "resnet" / "config.pbtxt")
    assert net.platform == "tensorrt_plan" and net.default_model_filename == "model.plan"
    assert net.max_batch_size == 16  # the engine profile's max batch
    assert result.kind == "gpu" and result.source == "engines/model.int8-tensorrt.tensorrt.plan"
    assert (out / "resnet" / "1" / "model.plan").read_bytes() == b"not-a-real-engine-tensorrt"
    with pytest.raises(ResNetDeployError, match="exceeds the engine profile"):
        write_triton_repo(toy_artifact, RepoConfig(out=tmp_path / "r2", backend="tensorrt", precision="int8",
                                                   max_batch=64))


def test_no_dynamic_batching_and_no_preprocess(toy_artifact: Path, tmp_path: Path) -> None:
    result, cfgs = write(toy_artifact, tmp_path / "repo", dynamic_batching=False, preprocess=False)
    assert set(cfgs) == {"resnet"}
    assert not cfgs["resnet"].HasField("dynamic_batching")


def test_profile_max_batch_reads_the_engines_record() -> None:
    shapes = {"min": [1, 3, 8, 8], "opt": [4, 3, 8, 8], "max": [32, 3, 8, 8]}
    assert profile_max_batch({"input": shapes}) == 32
    assert profile_max_batch(shapes) == 32
    assert profile_max_batch(None) is None


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"backend": "tensorflow"}, "unknown Triton backend"),
        ({"precision": "int4"}, "unknown precision"),
        ({"backend": "tensorrt", "kind": "cpu"}, "GPUs only"),
        ({"precision": "fp16"}, "GPU precision"),
        ({"max_batch": 0}, "--max-batch"),
        ({"instances": 0}, "--instances"),
        ({"model_name": "bad name/"}, "not valid"),
    ],
)
def test_bad_options_are_one_line_errors(toy_artifact: Path, tmp_path: Path, kw: dict, match: str) -> None:
    with pytest.raises(ResNetDeployError, match=match) as info:
        write_triton_repo(toy_artifact, RepoConfig(out=tmp_path / "repo", **kw))
    assert "\n" not in str(info.value)
    assert not (tmp_path / "repo").exists()


def test_missing_files_and_rtx_only_engines(tmp_path: Path) -> None:
    plain = build_toy_artifact(tmp_path / "plain", extras=False)
    with pytest.raises(ArtifactError, match="quantize"):
        write_triton_repo(plain, RepoConfig(out=tmp_path / "r1", precision="int8"))
    with pytest.raises(ArtifactError, match="no TensorRT int8 engine"):
        write_triton_repo(plain, RepoConfig(out=tmp_path / "r2", backend="tensorrt", precision="int8"))
    with pytest.raises(ArtifactError, match="does not exist"):
        write_triton_repo(tmp_path / "nowhere", RepoConfig(out=tmp_path / "r3"))
    # an artifact whose only int8 engine is TensorRT-RTX: Triton's tensorrt backend cannot load it
    rtx_only = build_toy_artifact(tmp_path / "rtx", extras=True)
    trt_plan = "engines/model.int8-tensorrt.tensorrt.plan"
    (rtx_only / trt_plan).unlink()

    def drop_trt(m) -> None:
        m.files = [f for f in m.files if f.path != trt_plan]
        m.engines = [e for e in m.engines if e.path != trt_plan]

    update_manifest(rtx_only, drop_trt)
    assert [e.family for e in read_manifest(rtx_only).engines] == ["tensorrt-rtx"]
    with pytest.raises(ArtifactError, match=r"no TensorRT int8 engine \(only TensorRT-RTX engines, which Triton") as info:
        write_triton_repo(rtx_only, RepoConfig(out=tmp_path / "r4", backend="tensorrt", precision="int8"))
    assert "\n" not in str(info.value) and not (tmp_path / "r4").exists()
    # the same artifact with its TensorRT engine kept is accepted: the refusal is about the family
    full = build_toy_artifact(tmp_path / "full", extras=True)
    write_triton_repo(full, RepoConfig(out=tmp_path / "r5", backend="tensorrt", precision="int8"))
    assert (tmp_path / "r5").is_dir()


def test_existing_output_needs_force_and_failed_write_leaves_it_intact(toy_artifact: Path, tmp_path: Path) -> None:
    out = tmp_path / "repo"
    write_triton_repo(toy_artifact, RepoConfig(out=out))
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    with pytest.raises(ResNetDeployError, match="--force"):
        write_triton_repo(toy_artifact, RepoConfig(out=out, precision="fp32"))
    # a run that fails (no int8 file for the tensorrt target here) must not touch the old repo
    plain = build_toy_artifact(tmp_path / "plain", extras=False)
    with pytest.raises(ArtifactError):
        write_triton_repo(plain, RepoConfig(out=out, precision="int8", kind="gpu", force=True))
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    result = write_triton_repo(toy_artifact, RepoConfig(out=out, force=True, preprocess=False))
    assert sorted(p.name for p in out.iterdir()) == ["resnet"] and set(result.models) == {"resnet"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".repo")]  # no temp dirs left


def test_tampered_artifact_is_refused(tmp_path: Path) -> None:
    art = build_toy_artifact(tmp_path / "art", extras=False)
    with open(art / "model.fp32.onnx", "ab") as fh:
        fh.write(b"x")
    with pytest.raises(ArtifactError, match="truncated or replaced|sha256"):
        write_triton_repo(art, RepoConfig(out=tmp_path / "repo"))


def test_no_labels_means_no_label_file(tmp_path: Path) -> None:
    art = build_toy_artifact(tmp_path / "art", extras=False, labels=False)
    _, cfgs = write(art, tmp_path / "repo")
    assert cfgs["resnet"].output[0].label_filename == ""
    assert not (tmp_path / "repo" / "resnet" / "labels.txt").exists()

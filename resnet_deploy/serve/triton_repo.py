"""Write a standard Triton model repository from an artifact.

Layout (``name`` defaults to ``resnet``)::

    model_repository/
      resnet/config.pbtxt            the network (onnxruntime | openvino | tensorrt backend)
      resnet/1/model.onnx            (model.plan for tensorrt)
      resnet/labels.txt              class names, used by Triton's classification extension
      resnet_preprocess/config.pbtxt Python backend: encoded image bytes -> float32 CHW
                                     (uint8 HWC crops when the network is a raw-pixel twin)
      resnet_preprocess/1/model.py   self-contained numpy + Pillow code (triton_preprocess_model.py)
      resnet_ensemble/config.pbtxt   bytes -> preprocess -> network, one request for clients
      resnet_ensemble/1/             (ensembles need an empty version directory)

The whole tree is built in a temp directory beside ``out`` and renamed into
place, so a failed run leaves nothing half-written. Config contents are
produced by ``triton_configs`` (pure data) and rendered by ``pbtxt``.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnet_deploy.artifact import EngineRecord, FileEntry, Manifest, load_manifest, staging_dir
from resnet_deploy.checks import check_bool, check_choice, check_int
from resnet_deploy.errors import ArtifactError, ConfigError, ResNetDeployError
from resnet_deploy.serve import pbtxt
from resnet_deploy.serve.triton_configs import ModelIO, RepoPlan, plan_configs

BACKENDS = ("onnxruntime", "openvino", "tensorrt")
PRECISIONS = ("fp32", "int8", "fp16")
KINDS = ("cpu", "gpu")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_PREPROCESS_SOURCE = Path(__file__).with_name("triton_preprocess_model.py")


@dataclass
class RepoConfig:
    """Options of ``resnet-deploy triton-repo`` (None = derive from the artifact)."""

    out: Path = Path("model_repository")
    backend: str = "onnxruntime"
    precision: str = "fp32"
    max_batch: int | None = None  # default: the engine profile's max (tensorrt) or 32
    instances: int = 1
    dynamic_batching: bool = True
    max_queue_delay_us: int = 100
    kind: str | None = None  # default: gpu for tensorrt, cpu otherwise
    model_name: str = "resnet"
    preprocess: bool = True  # add <name>_preprocess + <name>_ensemble
    force: bool = False
    raw: bool = True  # ship the ONNX file's raw-pixel twin (uint8 NHWC) when the artifact has one

    def __post_init__(self) -> None:
        self.validate()

    @property
    def resolved_kind(self) -> str:
        """``kind``, or the backend's natural one: gpu for tensorrt, cpu otherwise."""
        return self.kind or ("gpu" if self.backend == "tensorrt" else "cpu")

    def validate(self) -> None:
        """One-line ConfigError for nonsense options, before the artifact is read."""
        check_choice(self.backend, "Triton backend", BACKENDS)
        check_choice(self.precision, "precision", PRECISIONS)
        kind = self.resolved_kind
        check_choice(kind, "instance kind", KINDS)
        if self.backend == "tensorrt" and kind != "gpu":
            raise ConfigError("the tensorrt backend runs on GPUs only; drop --kind cpu or use --backend onnxruntime")
        if self.backend == "openvino" and kind != "cpu":
            raise ConfigError("this repository writer targets OpenVINO on CPU; use --kind cpu or --backend onnxruntime")
        if self.precision == "fp16" and kind == "cpu":
            raise ConfigError("fp16 is a GPU precision; use --kind gpu, or fp32/int8 on CPU")
        check_int(self.max_batch, "--max-batch", maximum=4096, allow_none=True,
                  hint="pass e.g. 32, or leave it out for the engine's own limit")
        check_int(self.instances, "--instances", maximum=256, hint="pass e.g. 1")
        check_int(self.max_queue_delay_us, "--max-queue-delay-us", minimum=0, maximum=10_000_000,
                  hint="pass e.g. 100")
        if not isinstance(self.model_name, str) or not _NAME_RE.match(self.model_name):
            raise ConfigError(
                f"model name '{self.model_name}' is not valid; use letters, digits, '.', '_' or '-' (max 64)"
            )
        for flag in ("dynamic_batching", "preprocess", "force", "raw"):
            check_bool(getattr(self, flag), flag)


@dataclass
class RepoResult:
    """What was written, for the CLI summary and for tests."""

    out: Path
    models: dict[str, list[str]] = field(default_factory=dict)  # model name -> files (relative)
    source: str = ""  # artifact file the network came from
    backend: str = ""
    precision: str = ""
    kind: str = ""
    max_batch: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out), "models": self.models, "source": self.source, "backend": self.backend,
            "precision": self.precision, "kind": self.kind, "max_batch": self.max_batch,
        }


def _onnx_entry(m: Manifest, backend: str, precision: str, kind: str, raw: bool = False) -> FileEntry:
    """The ONNX file for (backend, precision, kind); fp16 on GPU uses FP32 ONNX + TensorRT FP16.

    ``raw``: its raw-pixel twin when the artifact has one (CPU only: the GPU files stay
    float-input for TensorRT)."""
    if raw and kind == "cpu":
        target = "cpu" if precision == "int8" else None
        twin = m.file("onnx", precision, target, raw=True)
        if twin is not None:
            return twin
    if precision == "int8":
        target = "tensorrt" if kind == "gpu" else "cpu"
        if backend == "openvino" and m.file("onnx", "int8", "openvino") is not None:
            target = "openvino"  # the form OpenVINO compiles best, from the same ranges (quantize/targets.py)
        entry = m.file("onnx", "int8", target)
        if entry is None:
            raise ArtifactError(
                f"the artifact has no int8 ONNX for target '{target}' (model.int8-{target}.onnx); "
                f"run 'resnet-deploy quantize' first"
            )
        return entry
    entry = m.file("onnx", "fp32")
    if entry is None:
        raise ArtifactError("the artifact has no model.fp32.onnx; run 'resnet-deploy export' first")
    return entry


def _engine(m: Manifest, precision: str) -> tuple[FileEntry, EngineRecord]:
    """The TensorRT (not TensorRT-RTX) engine of this precision, with its manifest record."""
    records = [e for e in m.engines if e.precision == precision]
    usable = [e for e in records if e.family == "tensorrt"]
    if not usable:
        extra = " (only TensorRT-RTX engines, which Triton's tensorrt backend cannot load)" if records else ""
        raise ArtifactError(
            f"the artifact has no TensorRT {precision} engine{extra}; build one on the serving GPU with "
            f"'resnet-deploy build-engine' using the TensorRT version of your Triton container"
        )
    rec = usable[-1]
    entry = next((f for f in m.files if f.path == rec.path), None)
    if entry is None:
        raise ArtifactError(f"engine '{rec.path}' is listed but not in the artifact files; rebuild it")
    return entry, rec


def profile_max_batch(profile: Any) -> int | None:
    """The largest batch an engine profile allows (first dim of its max shape), if recorded."""
    if isinstance(profile, dict):
        for key in ("max", "max_shape", "maxShapes"):
            shape = profile.get(key)
            if isinstance(shape, dict):  # {input_name: shape}
                shape = next(iter(shape.values()), None)
            if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], int):
                return int(shape[0])
        if isinstance(profile.get("max_batch"), int):
            return int(profile["max_batch"])
        for value in profile.values():  # {input_name: {min, opt, max}}
            if isinstance(value, dict) and (found := profile_max_batch(value)):
                return found
    if isinstance(profile, list) and profile:
        return profile_max_batch(profile[-1])
    return None


def _onnx_io(path: Path) -> tuple[str, str, str, str]:
    """(input name, input elem type, output name, output elem type) read from the ONNX graph."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    graph = model.graph
    inits = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in inits]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise ArtifactError(f"{path.name} must have one input and one output; re-export the artifact")

    def elem(v: Any) -> str:
        return onnx.helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type).name

    return inputs[0].name, elem(inputs[0]), graph.output[0].name, elem(graph.output[0])


def _resolve_io(artifact: Path, m: Manifest, cfg: RepoConfig, kind: str) -> tuple[FileEntry, ModelIO, int]:
    """Pick the network file and its I/O contract; return (entry, io, max_batch)."""
    size, channels = m.input.size, m.input.channels
    if cfg.backend == "tensorrt":
        entry, rec = _engine(m, cfg.precision)
        limit = profile_max_batch(rec.profile)
        if cfg.max_batch is not None and limit is not None and cfg.max_batch > limit:
            raise ResNetDeployError(
                f"--max-batch {cfg.max_batch} exceeds the engine profile's max batch {limit}; "
                "lower it or rebuild the engine with a larger profile"
            )
        max_batch = cfg.max_batch or limit or 32
        io = ModelIO(m.input.name, "float32", m.input.output_name, "float32", channels, size, m.model.num_classes)
        return entry, io, max_batch
    entry = _onnx_entry(m, cfg.backend, cfg.precision, kind, cfg.raw)
    spec = entry.input or m.input
    in_name, in_type, out_name, out_type = _onnx_io(artifact / entry.path)
    if (in_name, out_name) != (spec.name, spec.output_name) or in_type != spec.dtype:
        raise ArtifactError(
            f"{entry.path} has I/O {in_name} ({in_type})/{out_name} but the manifest says "
            f"{spec.name} ({spec.dtype})/{spec.output_name}; re-export the artifact"
        )
    layout = "NHWC" if entry.raw else "NCHW"
    io = ModelIO(in_name, in_type, out_name, out_type, channels, size, m.model.num_classes, layout)
    return entry, io, cfg.max_batch or 32


def write_triton_repo(artifact_dir: str | Path, cfg: RepoConfig) -> RepoResult:
    """Write the model repository described by ``cfg`` (atomically) and say what was written."""
    cfg.validate()  # again: fields may have been changed since construction
    kind = cfg.resolved_kind
    artifact = Path(artifact_dir)
    m = load_manifest(artifact)
    entry, io, max_batch = _resolve_io(artifact, m, cfg, kind)
    if cfg.preprocess and m.preprocessing.crop != io.size:
        raise ArtifactError(
            f"manifest preprocessing crops {m.preprocessing.crop} px but the model takes {io.size} px; "
            "re-export the artifact"
        )
    labels = list(m.model.labels or [])
    plan = RepoPlan(
        name=cfg.model_name, backend=cfg.backend, precision=cfg.precision, kind=kind,
        max_batch=max_batch, instances=cfg.instances, dynamic_batching=cfg.dynamic_batching,
        max_queue_delay_us=cfg.max_queue_delay_us, io=io, preprocessing=m.preprocessing,
        has_labels=bool(labels), preprocess=cfg.preprocess,
    )
    configs = plan_configs(plan)
    model_file = "model.plan" if cfg.backend == "tensorrt" else "model.onnx"
    result = RepoResult(
        out=Path(cfg.out), source=entry.path, backend=cfg.backend, precision=cfg.precision,
        kind=kind, max_batch=max_batch,
    )
    with staging_dir(cfg.out, force=cfg.force) as tmp:
        for model_name, config in configs.items():
            mdir = tmp / model_name
            (mdir / "1").mkdir(parents=True)
            (mdir / "config.pbtxt").write_text(pbtxt.dumps(config))
            files = ["config.pbtxt"]
            if model_name == cfg.model_name:
                shutil.copyfile(artifact / entry.path, mdir / "1" / model_file)
                files.append(f"1/{model_file}")
            elif model_name.endswith("_preprocess"):
                shutil.copyfile(_PREPROCESS_SOURCE, mdir / "1" / "model.py")
                files.append("1/model.py")
            if labels and model_name in (cfg.model_name, f"{cfg.model_name}_ensemble"):
                (mdir / "labels.txt").write_text("\n".join(labels) + "\n")
                files.append("labels.txt")
            result.models[model_name] = files
    return result

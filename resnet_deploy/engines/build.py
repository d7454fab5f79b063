"""Build a TensorRT (or TensorRT-RTX) engine from an artifact's ONNX, strongly typed.

TensorRT 11 removed implicit INT8 calibration and the FP16/INT8 builder flags:
precision comes from the graph. So the engine's precision is chosen by picking
the ONNX file (int8 -> ``model.int8-tensorrt.onnx`` with S8S8 Q/DQ, fp16 ->
``model.fp16.onnx``, fp32 -> ``model.fp32.onnx``) and the network is created
strongly typed (TensorRT 10.x needs ``NetworkDefinitionCreationFlag.STRONGLY_TYPED``;
in 11.x and TensorRT-RTX that is the only mode and the flag is kept for
compatibility). One code path serves both modules, which share this API.

APIs followed (Python API reference, docs.nvidia.com/deeplearning/tensorrt/latest
/_static/python-api and .../tensorrt-rtx/latest/_static/python-api):
``Builder.create_network(flags)``, ``OnnxParser(network, logger).parse_from_file``
with ``num_errors``/``get_error(i)`` (``ParserError.code/desc/node/node_name/
node_operator``), ``Builder.create_optimization_profile`` +
``IOptimizationProfile.set_shape(name, min, opt, max)`` +
``IBuilderConfig.add_optimization_profile``, ``set_memory_pool_limit(
MemoryPoolType.WORKSPACE, bytes)``, ``builder_optimization_level``,
``hardware_compatibility_level`` (HardwareCompatibilityLevel.AMPERE_PLUS),
``BuilderFlag.VERSION_COMPATIBLE``, ``create_timing_cache``/``set_timing_cache``/
``get_timing_cache().serialize()``, ``IProgressMonitor``, ``build_serialized_network``;
the flow of NVIDIA/TensorRT samples/python (introductory_parser_samples,
simple_progress_monitor) and Polygraphy's backend/trt/loader.py (``parse_from_file``
so ONNX files with external weights resolve, memory-pool limits). The small
TensorRT adapters (logger, progress monitor, parser errors, timing cache, batch
profile, builder knobs) live in ``builder_parts.py``.

TensorRT-RTX differences found by reading its docs and probing the module:
builds need no GPU (CPU-only AOT); by default its engines run on compute
capability 8.6, 8.9 and 12.0 only (RTX support matrix; not A100/H100/H200), which
``trt_compat.RTX_DEFAULT_CCS`` records and ``select_family('auto')`` respects;
``ITimingCache`` is a deprecated no-op there that would force a GPU query
("Timing Cache Migration"), so no build timing cache is used: its equivalent is
the *runtime* cache of JIT-compiled kernels, which ``runtime/tensorrt.py``
keeps; ``hardware_compatibility_level`` is unsupported (engines are portable by
design); ``BuilderFlag.VERSION_COMPATIBLE`` exists but fails (no lean runtime).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from resnet_deploy._optional import require, try_import
from resnet_deploy.artifact import (
    PRECISIONS,
    FileEntry,
    Manifest,
    install_file,
    read_manifest,
    temp_path,
    update_manifest,
    verify_file,
)
from resnet_deploy.atomic import locked_writer
from resnet_deploy.checks import check_bool, check_choice, check_int
from resnet_deploy.engines.builder_parts import (
    add_profile,
    create_builder,
    format_parser_errors,
    load_timing_cache,
    make_logger,
    make_monitor,
    parser_version,
    save_timing_cache,
    set_builder_knobs,
    strongly_typed_flags,
)
from resnet_deploy.engines.metadata import (
    ENGINE_FORMAT,
    NO_GPU_NAME,
    EngineMeta,
    engine_rel_path,
    profile_shapes,
    record_engine,
)
from resnet_deploy.errors import (
    ArtifactError,
    ConfigError,
    MissingDependencyError,
    ResNetDeployError,
    WorkFailedError,
)
from resnet_deploy.reporter import Reporter, as_reporter
from resnet_deploy.runtime.gpu import gpu_info, no_gpu_reason
from resnet_deploy.runtime.trt_compat import FAMILIES, RTX_DEFAULT_CCS, rtx_can_run

FAMILY_CHOICES = ("auto", *FAMILIES)

# precision -> (format, precision, target) of the source ONNX, and the command that makes it
_SOURCES = {
    "fp32": (("onnx", "fp32", None), "run 'resnet-deploy export ... --out ARTIFACT' first"),
    "fp16": (("onnx", "fp16", None), "run 'resnet-deploy quantize ARTIFACT --fp16' first"),
    "int8": (("onnx", "int8", "tensorrt"), "run 'resnet-deploy quantize ARTIFACT --targets tensorrt' first"),
}
_SOURCE_NAMES = {"fp32": "model.fp32.onnx", "fp16": "model.fp16.onnx", "int8": "model.int8-tensorrt.onnx"}


@dataclass
class EngineConfig:
    """What to build: precision, family, the batch profile and builder knobs."""

    precision: str = "fp32"  # fp32 | fp16 | int8 (selects the ONNX file)
    family: str = "auto"  # auto (tensorrt when it can build here, else tensorrt-rtx) | tensorrt | tensorrt-rtx
    min_batch: int = 1
    opt_batch: int = 8
    max_batch: int = 32
    workspace_mib: int | None = None
    opt_level: int | None = None  # builder optimisation level 0..5 (TensorRT default 3)
    timing_cache: Path | None = None  # loaded if present, saved after the build (TensorRT only)
    hardware_compatible: bool = False  # TensorRT: run on any Ampere+ GPU
    version_compatible: bool = False  # TensorRT: run on later TensorRT of the same major

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """One-line ConfigError for nonsense options, before any work (again in ``build_engine``)."""
        check_choice(self.precision, "precision", PRECISIONS)
        check_choice(self.family, "family", FAMILY_CHOICES)
        b = (self.min_batch, self.opt_batch, self.max_batch)
        for what, value in zip(("MIN", "OPT", "MAX"), b, strict=True):
            check_int(value, f"--batch {what}", maximum=4096, hint="pass MIN,OPT,MAX like 1,8,32")
        if not (b[0] <= b[1] <= b[2]):
            raise ConfigError(f"--batch must satisfy MIN <= OPT <= MAX, got {b[0]},{b[1]},{b[2]}; "
                              "pass e.g. 1,8,32")
        check_int(self.workspace_mib, "--workspace (MiB)", maximum=1 << 20, allow_none=True,
                  hint="pass e.g. 4096, or leave it out for TensorRT's default")
        check_int(self.opt_level, "--opt-level", minimum=0, maximum=5, allow_none=True,
                  hint="pass e.g. 3 (TensorRT's default)")
        for flag in ("hardware_compatible", "version_compatible"):
            check_bool(getattr(self, flag), flag)
        if self.timing_cache is not None and Path(self.timing_cache).is_dir():
            raise ConfigError(f"--timing-cache '{self.timing_cache}' is a directory; give a file path")


@dataclass
class EngineResult:
    """The engine written into the artifact, its manifest record and anything worth telling."""

    path: Path
    entry: FileEntry
    meta: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    timing_cache: Path | None = None

    @property
    def family(self) -> str:
        return str(self.meta["family"])

    @property
    def build_seconds(self) -> float:
        return float(self.meta["build_seconds"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": str(self.path),
            "size": self.entry.size,
            "sha256": self.entry.sha256,
            **self.meta,
            "notes": list(self.notes),
            "timing_cache": str(self.timing_cache) if self.timing_cache else None,
        }


def select_family(requested: str = "auto") -> tuple[str, ModuleType]:
    """(family, module): an explicit family must import; auto prefers TensorRT when it can build here."""
    if requested in FAMILIES:
        fam = FAMILIES[requested]
        return requested, require(fam.module, extra=fam.extra, purpose=f"building {fam.label} engines")
    trt = try_import("tensorrt")
    gpu = gpu_info()
    if trt is not None and gpu is not None:
        return "tensorrt", trt
    rtx = try_import("tensorrt_rtx")
    if rtx is not None and gpu is not None and not rtx_can_run(RTX_DEFAULT_CCS, gpu.cc_tuple):
        raise ResNetDeployError(
            f"this GPU ({gpu.name}, compute capability {gpu.compute_capability}) cannot run TensorRT-RTX "
            f"engines (they run on {', '.join(RTX_DEFAULT_CCS)}); pip install 'resnet-deploy[tensorrt]' "
            "(or [tensorrt-cu13] for drivers r580+) to build TensorRT engines here, or pass --family tensorrt-rtx to build for another GPU"
        )
    if rtx is not None:
        return "tensorrt-rtx", rtx
    if trt is not None:
        raise ResNetDeployError(
            f"TensorRT needs an NVIDIA GPU to build engines ({no_gpu_reason()}); build on a GPU host "
            "or pip install 'resnet-deploy[tensorrt-rtx]' to build without one"
        )
    raise MissingDependencyError(
        "no TensorRT module is installed (tensorrt or tensorrt_rtx); pip install 'resnet-deploy[tensorrt]' "
        "(CUDA 12; [tensorrt-cu13] for drivers r580+) on a GPU host, or 'resnet-deploy[tensorrt-rtx]' to build without a GPU"
    )


def source_entry(manifest: Manifest, precision: str) -> FileEntry:
    """The ONNX file an engine of ``precision`` is built from, or a one-line 'make it first'."""
    (fmt, prec, target), how = _SOURCES[precision]
    entry = manifest.file(fmt, prec, target)
    if entry is None:
        raise ArtifactError(f"artifact has no {_SOURCE_NAMES[precision]} for a {precision} engine; {how}")
    return entry


@locked_writer("build-engine")
def build_engine(
    artifact_dir: str | os.PathLike[str], config: EngineConfig,
    reporter: Reporter | Callable[[str], None] | None = None,
) -> EngineResult:
    """Build ``engines/model.<key>.<family>.plan`` into the artifact and record it in the manifest.

    ``reporter`` hears the steps and the builder's top-level phases in plain text
    (a ``Reporter`` or a ``fn(message)`` callback); without one no progress monitor is attached.
    """
    config.validate()
    art = Path(artifact_dir)
    manifest = read_manifest(art)
    src = source_entry(manifest, config.precision)
    verify_file(art, src)
    family, trt = select_family(config.family)
    label = f"{FAMILIES[family].label} {trt.__version__}"
    notes: list[str] = []
    gpu = gpu_info()
    _check_family_options(family, config, gpu)
    say = as_reporter(reporter).info
    chw = [int(v) for v in manifest.input.shape[1:]]
    name = manifest.input.name
    say(f"parsing {src.path} with {label}")

    logger = make_logger(trt)
    builder = create_builder(trt, logger, label)
    network, _parser = _parse_network(trt, builder, logger, art, src, config, label)
    _check_network_input(network, name, chw, config, src.path)
    bconfig = builder.create_builder_config()
    shapes = profile_shapes(name, chw, config.min_batch, config.opt_batch, config.max_batch)[name]
    add_profile(builder, bconfig, logger, name, shapes, label)
    set_builder_knobs(trt, bconfig, config.workspace_mib, config.opt_level)
    hw_level = _apply_compat_flags(trt, bconfig, family, config, notes)
    cache = _timing_cache(bconfig, family, config, notes)
    monitor = make_monitor(trt, say) if reporter is not None else None
    if monitor is not None:
        bconfig.progress_monitor = monitor

    say(f"building the {config.precision} engine (batch {config.min_batch}..{config.max_batch})")
    plan, seconds = _build_plan(builder, network, bconfig, logger, label, src.path)
    saved_cache = save_timing_cache(bconfig, cache, Path(config.timing_cache), notes) if cache is not None else None

    rel = engine_rel_path(src.key, family)
    entry = _install_plan(art, plan, rel, src, family)
    meta = _engine_meta(
        rel, family, trt, config, src, {name: shapes}, seconds, gpu if family == "tensorrt" else None, hw_level,
    )
    update_manifest(art, lambda m: record_engine(m, entry, meta))
    say(f"wrote {rel} ({entry.size / 1e6:.1f} MB) in {seconds:.1f} s")
    return EngineResult(path=art / rel, entry=entry, meta=meta.to_dict(), notes=notes, timing_cache=saved_cache)


def _check_family_options(family: str, config: EngineConfig, gpu: Any) -> None:
    """Refuse what the chosen family cannot do here, before any parsing."""
    if family == "tensorrt" and gpu is None:
        raise ResNetDeployError(
            f"--family tensorrt needs an NVIDIA GPU to build ({no_gpu_reason()}); "
            "use --family tensorrt-rtx to build without one"
        )
    if family == "tensorrt-rtx" and config.version_compatible:
        raise ResNetDeployError(
            "--version-compat is not available with TensorRT-RTX (it ships no lean runtime); "
            "drop it or build with --family tensorrt"
        )


def _parse_network(
    trt: ModuleType, builder: Any, logger: Any, art: Path, src: FileEntry, config: EngineConfig, label: str,
) -> tuple[Any, Any]:
    """(network, parser) for the source ONNX; the caller keeps the parser alive until the build
    is done (it owns the weights the network points at)."""
    network = builder.create_network(strongly_typed_flags(trt))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(art / src.path)):
        raise ArtifactError(
            f"{label} cannot parse {src.path}: {format_parser_errors(parser)}; re-create it with "
            f"{_SOURCES[config.precision][1].removeprefix('run ').removesuffix(' first')}"
        )
    return network, parser


def _build_plan(builder: Any, network: Any, bconfig: Any, logger: Any, label: str, src: str) -> tuple[Any, float]:
    """(serialized plan, build seconds), or a one-line WorkFailedError with the builder's last error."""
    t0 = time.perf_counter()
    plan = builder.build_serialized_network(network, bconfig)
    seconds = round(time.perf_counter() - t0, 3)
    if plan is None or plan.nbytes == 0:
        raise WorkFailedError(
            f"{label} could not build an engine from {src}: {logger.last_error()}; "
            "fix what that TensorRT error says (if the GPU ran out of memory, lower the largest batch)"
        )
    return plan, seconds


def _install_plan(art: Path, plan: Any, rel: str, src: FileEntry, family: str) -> FileEntry:
    """Write the plan to a temp file in the artifact, fsync it and move it to ``rel``."""
    with temp_path(art, suffix=".plan") as tmp:
        with open(tmp, "wb") as fh:
            fh.write(plan)
            fh.flush()
            os.fsync(fh.fileno())
        return install_file(
            art, tmp, rel, ENGINE_FORMAT, precision=src.precision, target=src.target,
            family=family, source=src.path,
        )


def _engine_meta(
    rel: str, family: str, trt: ModuleType, config: EngineConfig, src: FileEntry,
    profile: dict[str, dict[str, list[int]]], seconds: float, build_gpu: Any, hw_level: str,
) -> EngineMeta:
    """The manifest's engine record; ``build_gpu`` is the GPU a TensorRT build is tied to (None for RTX)."""
    return EngineMeta(
        path=rel,
        family=family,
        library_version=str(trt.__version__),
        precision=config.precision,
        key=src.key,
        source=src.path,
        source_onnx_sha256=src.sha256,
        profile=profile,
        build_seconds=seconds,
        gpu_name=build_gpu.name if build_gpu else NO_GPU_NAME,
        compute_capability=build_gpu.compute_capability if build_gpu else None,
        hardware_compatibility=hw_level,
        target_compute_capabilities=list(RTX_DEFAULT_CCS) if family == "tensorrt-rtx" else [],
        version_compatible=bool(config.version_compatible),
        builder_optimization_level=config.opt_level,
        workspace_mib=config.workspace_mib,
        parser_version=parser_version(trt),
    )


def _check_network_input(network: Any, name: str, chw: list[int], config: EngineConfig, src: str) -> None:
    inputs = {network.get_input(i).name: network.get_input(i) for i in range(network.num_inputs)}
    if name not in inputs:
        raise ArtifactError(
            f"{src} has no input named '{name}' (inputs: {', '.join(inputs) or 'none'}); re-export the artifact"
        )
    dims = [int(d) for d in inputs[name].shape]
    if len(dims) != 4 or any(d not in (-1, c) for d, c in zip(dims[1:], chw, strict=False)):
        raise ArtifactError(
            f"{src} input '{name}' has shape {dims} but the manifest says [N, {', '.join(map(str, chw))}]; "
            "re-export the artifact"
        )
    if dims[0] != -1 and not (config.min_batch == config.opt_batch == config.max_batch == dims[0]):
        raise ResNetDeployError(
            f"{src} has a fixed batch of {dims[0]}; use --batch {dims[0]},{dims[0]},{dims[0]} "
            "or re-export with a dynamic batch"
        )


def _apply_compat_flags(trt: ModuleType, bconfig: Any, family: str, config: EngineConfig, notes: list[str]) -> str:
    """Set hardware/version compatibility where the module supports it; returns the recorded level."""
    if family == "tensorrt-rtx":
        if config.hardware_compatible:
            notes.append(f"TensorRT-RTX engines are portable across compute capability {', '.join(RTX_DEFAULT_CCS)} "
                         "by design; --hardware-compat adds nothing")
        return "rtx-default"
    level = "none"
    if config.hardware_compatible:
        levels = getattr(trt, "HardwareCompatibilityLevel", None)
        if levels is None or not hasattr(levels, "AMPERE_PLUS"):
            raise ResNetDeployError(f"TensorRT {trt.__version__} has no hardware compatibility; drop --hardware-compat")
        bconfig.hardware_compatibility_level = levels.AMPERE_PLUS
        level = "ampere_plus"
    if config.version_compatible:
        flag = getattr(trt.BuilderFlag, "VERSION_COMPATIBLE", None)
        if flag is None:
            raise ResNetDeployError(f"TensorRT {trt.__version__} has no version compatibility; drop --version-compat")
        bconfig.set_flag(flag)
    return level


def _timing_cache(bconfig: Any, family: str, config: EngineConfig, notes: list[str]) -> Any:
    """TensorRT: a timing cache from/to ``config.timing_cache``. TensorRT-RTX: none (see module doc)."""
    if config.timing_cache is None:
        return None
    if family == "tensorrt-rtx":
        notes.append("TensorRT-RTX has no build timing cache (a deprecated no-op there); --timing-cache "
                     "ignored. Its equivalent, the runtime kernel cache, is kept by the tensorrt runner")
        return None
    return load_timing_cache(bconfig, Path(config.timing_cache), notes)

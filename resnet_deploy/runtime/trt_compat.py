"""Can this engine run here? Pure decisions, made before any engine is deserialised.

A TensorRT plan is tied to the library that built it and (unless built
hardware-compatible) to the GPU's compute capability; deserialising a
mismatched plan fails with an obscure log line or, worse, crashes. The
manifest records what the engine needs (``engines/metadata.py`` writes it), so
the runner can refuse with one clear line instead. Rules, from the TensorRT
developer guide ("Version Compatibility", "Hardware Compatibility") and the
TensorRT-RTX guide ("CPU-Only AOT and TensorRT-RTX Engines"):

- the engine family (TensorRT vs TensorRT-RTX) must match the installed module;
- TensorRT: major.minor must match the installed library, unless the engine
  was built version-compatible (then the same major and a newer-or-equal
  library is enough);
- TensorRT: the GPU's compute capability must equal the build GPU's, unless the
  engine was built hardware-compatible ("ampere_plus": any CC >= 8.0);
- TensorRT-RTX engines are built without a GPU and run on CC 8.0 and newer by
  default, or on the compute capabilities listed at build time;
- and there must be a GPU at all.

Also here: the input-shape check against an engine's optimisation profile.
"""

from __future__ import annotations

from collections.abc import Sequence

from resnet_deploy.artifact import EngineRecord, FileEntry, Manifest
from resnet_deploy.errors import EngineCompatibilityError, InvalidInputError
from resnet_deploy.runtime.gpu import GpuInfo, parse_cc

# family -> (python module, pip extra, display name)
FAMILIES: dict[str, tuple[str, str, str]] = {
    "tensorrt": ("tensorrt", "tensorrt", "TensorRT"),
    "tensorrt-rtx": ("tensorrt_rtx", "tensorrt-rtx", "TensorRT-RTX"),
}
RTX_DEFAULT_MIN_CC = (8, 0)  # TensorRT-RTX default targets: Ampere and newer (Turing needs SM75 set)
AMPERE_PLUS_MIN_CC = (8, 0)


def family_module(family: str) -> str:
    return FAMILIES[family][0] if family in FAMILIES else family


def family_extra(family: str) -> str:
    return FAMILIES[family][1] if family in FAMILIES else family


def family_label(family: str) -> str:
    return FAMILIES[family][2] if family in FAMILIES else family


def parse_version(text: str) -> tuple[int, int]:
    """'10.3.0.26' -> (10, 3); raises ValueError on nonsense."""
    parts = str(text).strip().split(".")
    return int(parts[0]), int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def engine_meta(manifest: Manifest, entry: FileEntry) -> EngineRecord | None:
    """The ``manifest.engines`` record for an engine file, or None."""
    return manifest.engine(entry.path)


def check_engine_compat(
    meta: EngineRecord | None,
    library_version: str | None,
    gpu: GpuInfo | None,
    *,
    family: str | None = None,
) -> None:
    """Raise EngineCompatibilityError (one line) unless the engine can run here.

    ``family`` is the family of the installed library whose version is
    ``library_version`` (None: assume the engine's own family, version None =
    that library is not installed).
    """
    if not isinstance(meta, EngineRecord) or not meta.family or not meta.library_version:
        path = meta.path if isinstance(meta, EngineRecord) else "this engine"
        raise EngineCompatibilityError(
            f"engine '{path}' has no build record in the manifest (family, library version); "
            "rebuild it with 'resnet-deploy build-engine'"
        )
    path = meta.path
    built_family = meta.family
    built_label = f"{family_label(built_family)} {meta.library_version}"
    if built_family not in FAMILIES:
        raise EngineCompatibilityError(
            f"engine '{path}' has unknown family '{built_family}'; rebuild it with 'resnet-deploy build-engine'"
        )
    here = family or built_family
    if here != built_family:
        raise EngineCompatibilityError(
            f"engine '{path}' was built with {built_label} but this host has {family_label(here)}"
            f"{' ' + library_version if library_version else ''}; install "
            f"'resnet-deploy[{family_extra(built_family)}]' or rebuild with --family {here}"
        )
    if not library_version:
        raise EngineCompatibilityError(
            f"engine '{path}' needs {built_label} but Python module '{family_module(built_family)}' "
            f"is not installed; pip install 'resnet-deploy[{family_extra(built_family)}]'"
        )
    _check_version(meta, path, built_label, library_version)
    if gpu is None:
        raise EngineCompatibilityError(
            f"engine '{path}' needs an NVIDIA GPU and none was found (nvidia-smi/CUDA driver); "
            "run it on a GPU host or use a CPU backend such as onnxruntime"
        )
    _check_gpu(meta, path, gpu)


def _check_version(meta: EngineRecord, path: str, built_label: str, installed: str) -> None:
    try:
        built_v, here_v = parse_version(meta.library_version), parse_version(installed)
    except (ValueError, IndexError):
        raise EngineCompatibilityError(
            f"engine '{path}' records an unreadable library version {meta.library_version!r}; rebuild it"
        ) from None
    label = family_label(meta.family)
    if meta.version_compatible:
        if here_v[0] != built_v[0] or here_v < built_v:
            raise EngineCompatibilityError(
                f"engine '{path}' is version-compatible from {built_label} within major "
                f"{built_v[0]}, but {label} {installed} is installed; rebuild it with this version"
            )
        return
    if here_v != built_v:
        raise EngineCompatibilityError(
            f"engine '{path}' was built with {built_label} but {label} {installed} is installed "
            f"(major.minor must match); rebuild it here or build with --version-compat"
        )


def _check_gpu(meta: EngineRecord, path: str, gpu: GpuInfo) -> None:
    here = gpu.cc_tuple
    here_s = f"{gpu.name} (compute capability {gpu.compute_capability})"
    if meta.family == "tensorrt-rtx":
        targets = meta.target_compute_capabilities
        if targets:
            if not any(_cc(t) == here for t in targets):
                raise EngineCompatibilityError(
                    f"engine '{path}' was built for compute capability {', '.join(map(str, targets))} "
                    f"but this GPU is {here_s}; rebuild it for this GPU"
                )
        elif here < RTX_DEFAULT_MIN_CC:
            raise EngineCompatibilityError(
                f"TensorRT-RTX engine '{path}' targets compute capability 8.0 and newer but this GPU is "
                f"{here_s}; rebuild it for this GPU"
            )
        return
    level = (meta.hardware_compatibility or "none").lower()
    if level in ("ampere_plus", "ampere-plus"):
        if here < AMPERE_PLUS_MIN_CC:
            raise EngineCompatibilityError(
                f"engine '{path}' is hardware-compatible for Ampere and newer (compute capability >= 8.0) "
                f"but this GPU is {here_s}; rebuild it on this GPU"
            )
        return
    built = meta.compute_capability
    if not built:
        raise EngineCompatibilityError(
            f"engine '{path}' does not record the compute capability it was built for; rebuild it"
        )
    if _cc(built) != here:
        raise EngineCompatibilityError(
            f"engine '{path}' was built on {meta.gpu_name or 'a GPU'} (compute capability {built}) "
            f"but this GPU is {here_s}; rebuild it here or build with --hardware-compat"
        )


def _cc(value: object) -> tuple[int, int]:
    try:
        return parse_cc(str(value))
    except ValueError:
        return (-1, -1)


def check_batch_shape(
    shape: Sequence[int],
    chw: Sequence[int],
    min_batch: int,
    max_batch: int,
    *,
    what: str = "engine",
) -> None:
    """Raise InvalidInputError (one line) unless ``shape`` is [N, C, H, W] inside the profile."""
    shape = tuple(int(s) for s in shape)
    if len(shape) != 4:
        raise InvalidInputError(
            f"input must be a 4-D NCHW batch [N, {', '.join(map(str, chw))}], got shape {list(shape)}"
        )
    if tuple(shape[1:]) != tuple(int(c) for c in chw):
        raise InvalidInputError(
            f"input must be [N, {', '.join(map(str, chw))}] for this {what}, got {list(shape)}"
        )
    n = shape[0]
    if not (min_batch <= n <= max_batch):
        raise InvalidInputError(
            f"batch of {n} is outside the {what}'s optimisation profile ({min_batch}..{max_batch}); "
            f"split the batch or rebuild with --batch MIN,OPT,MAX covering {n}"
        )


def profile_range(meta: EngineRecord | None, input_name: str = "input") -> tuple[int, int, int] | None:
    """(min, opt, max) batch of an engine record's profile, or None if it is not recorded."""
    prof = meta.profile.get(input_name) if meta is not None else None
    if not prof:
        return None
    return prof["min"][0], prof["opt"][0], prof["max"][0]

"""Can this engine run here? Pure decisions, made before any engine is deserialised.

A TensorRT plan is tied to the library that built it and (unless built
hardware-compatible) to the GPU's compute capability; deserialising a
mismatched plan fails with an obscure log line or, worse, crashes. The
manifest records what the engine needs (``engines/metadata.py`` writes it), so
the runner can refuse with one clear line instead. Rules, from the TensorRT
developer guide ("Version Compatibility", "Hardware Compatibility") and the
TensorRT-RTX guide ("CPU-Only AOT and TensorRT-RTX Engines"):

- the engine family (TensorRT vs TensorRT-RTX) must match the installed module;
- the library version must match exactly ("By default, TensorRT engines are
  compatible only with the version of TensorRT used to build them"; TensorRT-RTX:
  "engines are not compatible between different releases"), unless a TensorRT
  engine was built version-compatible: then any newer-or-equal runtime of the
  same major, or the next major where NVIDIA's support matrix allows it
  (8 -> 10, 10 -> 11);
- TensorRT: the GPU's compute capability must equal the build GPU's, unless the
  engine was built hardware-compatible ("ampere_plus": any CC >= 8.0);
- TensorRT-RTX engines run on the compute capabilities they were built for: by
  default 8.6, 8.9 and 12.0 (the RTX support matrix, 1.0-1.7: "portable across
  devices with compute capabilities 8.6, 8.9, and 12.0"); not A100 (8.0) or
  H100/H200 (9.0); Turing (7.5) only when targeted explicitly;
- and there must be a GPU at all.

Also here: the input-shape check against an engine's optimisation profile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from resnet_deploy.artifact import EngineRecord, FileEntry, Manifest
from resnet_deploy.errors import EngineCompatibilityError, InvalidInputError
from resnet_deploy.runtime.gpu import GpuInfo, parse_cc


@dataclass(frozen=True)
class TrtFamily:
    """One engine family: the one table the build side, the run side and the manifest share."""

    name: str  # "tensorrt" | "tensorrt-rtx" (manifest value, --family choice, plan file suffix)
    module: str  # the Python module that builds and runs it
    extra: str  # the pip extra that installs it
    label: str  # what messages call it


FAMILIES: dict[str, TrtFamily] = {
    "tensorrt": TrtFamily("tensorrt", "tensorrt", "tensorrt", "TensorRT"),
    "tensorrt-rtx": TrtFamily("tensorrt-rtx", "tensorrt_rtx", "tensorrt-rtx", "TensorRT-RTX"),
}
# TensorRT-RTX engines built without explicit targets run on these (RTX support matrix, note under "Supported Hardware")
RTX_DEFAULT_CCS: tuple[str, ...] = ("8.6", "8.9", "12.0")
AMPERE_PLUS_MIN_CC = (8, 0)
# version-compatible plans across a major boundary that NVIDIA supports (TensorRT 11 support matrix)
CROSS_MAJOR_OK = {(8, 10), (10, 11)}


def family_module(family: str) -> str:
    return FAMILIES[family].module if family in FAMILIES else family


def family_extra(family: str) -> str:
    return FAMILIES[family].extra if family in FAMILIES else family


def family_label(family: str) -> str:
    return FAMILIES[family].label if family in FAMILIES else family


def rtx_can_run(targets: Sequence[str] | None, cc: tuple[int, int]) -> bool:
    """Can a TensorRT-RTX engine built for ``targets`` (empty: the defaults) run on compute capability ``cc``?"""
    return any(_cc(t) == cc for t in (targets or RTX_DEFAULT_CCS))


def parse_version(text: str) -> tuple[int, ...]:
    """'10.3.0.26' -> (10, 3, 0, 26); '11' -> (11,); raises ValueError on nonsense."""
    parts = str(text).strip().split(".")
    out = [int(parts[0])]
    for part in parts[1:]:
        if not part.isdigit():
            break
        out.append(int(part))
    return tuple(out)


def same_version(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """Equal up to trailing zeros ('10.3' == '10.3.0'; '10.3.0' != '10.3.1')."""
    n = max(len(a), len(b))
    return a + (0,) * (n - len(a)) == b + (0,) * (n - len(b))


def null_object_message(what: str, label: str, logger: Any, exc: BaseException | None) -> str:
    """One line for a null Builder/Runtime: the logged cause and the usual fix (driver vs wheel)."""
    logged = logger.last_error() if hasattr(logger, "last_error") else ""
    cause = logged if logged and logged != "no error was logged" else (str(exc).splitlines()[0] if exc else "")
    return (
        f"{label} could not create its {what} ({cause or 'no reason logged'}); the NVIDIA driver is "
        "probably missing or older than this wheel's CUDA needs: check nvidia-smi, or install the "
        "wheel for your driver (resnet-deploy[tensorrt-cu12] for drivers < r580)"
    )


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
    if meta.version_compatible and meta.family == "tensorrt":
        major_ok = here_v[0] == built_v[0] or (built_v[0], here_v[0]) in CROSS_MAJOR_OK
        if not major_ok or here_v < built_v:
            raise EngineCompatibilityError(
                f"engine '{path}' is version-compatible from {built_label} within major "
                f"{built_v[0]}, but {label} {installed} is installed; rebuild it with this version"
            )
        return
    if not same_version(here_v, built_v):
        raise EngineCompatibilityError(
            f"engine '{path}' was built with {built_label} but {label} {installed} is installed "
            f"(plans need the exact version that built them); rebuild it here"
            + (" or build with --version-compat" if meta.family == "tensorrt" else "")
        )


def _check_gpu(meta: EngineRecord, path: str, gpu: GpuInfo) -> None:
    here = gpu.cc_tuple
    here_s = f"{gpu.name} (compute capability {gpu.compute_capability})"
    if meta.family == "tensorrt-rtx":
        targets = [str(t) for t in meta.target_compute_capabilities]
        if not rtx_can_run(targets, here):
            which = ", ".join(targets or RTX_DEFAULT_CCS)
            raise EngineCompatibilityError(
                f"TensorRT-RTX engine '{path}' runs on compute capability {which} but this GPU is {here_s} "
                "(TensorRT-RTX supports RTX-class GPUs, not A100/H100/H200); build a TensorRT engine "
                "with --family tensorrt on this GPU"
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
            f"input must be a 4-D NCHW batch [N, {', '.join(map(str, chw))}], got shape {list(shape)}; "
            "preprocess the images into one such batch"
        )
    if tuple(shape[1:]) != tuple(int(c) for c in chw):
        raise InvalidInputError(
            f"input must be [N, {', '.join(map(str, chw))}] for this {what}, got {list(shape)}; "
            "resize the images to the size this model was exported for"
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

"""The artifact directory and its manifest: the contract between build and run side.

Everything the pipeline produces lands in one directory described by
``manifest.json``. The build side (export, quantize, engines) adds files and
results; the run side (runtime, bench, serve) only reads it and never needs
PyTorch or the original checkpoint. Every file is listed with its sha256 so a
tampered, truncated or missing file is refused on load.

Writes are atomic: a new artifact is built in a hidden temp directory beside
the target and renamed at the end (``staging_dir``); files added later are
written to a temp name and ``os.replace``d, and the manifest is rewritten the
same way (``update_manifest``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnet_deploy.atomic import (  # noqa: F401 - re-exported: artifact writers use them
    check_output_dir,
    make_readable,
    publish_dir,
    staging_dir,
    temp_path,
)
from resnet_deploy.errors import ArtifactError

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"

FORMATS = (
    "onnx",
    "torchscript",
    "exported-program",
    "tensorrt-engine",
    "openvino-ir",
    "json",
    "labels",
    "other",
)
PRECISIONS = ("fp32", "fp16", "int8")


@dataclass
class FileEntry:
    """One file of the artifact (path relative to the artifact directory)."""

    path: str
    format: str
    precision: str = "fp32"
    target: str | None = None  # INT8 Q/DQ flavour: "cpu" (U8S8) or "tensorrt" (S8S8)
    size: int = 0
    sha256: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Short name used in reports and backend specs, e.g. ``fp32`` or ``int8-cpu``."""
        return f"{self.precision}-{self.target}" if self.target else self.precision


@dataclass
class InputSpec:
    """The model's input/output contract: names, layout, dtype, shape (-1 = dynamic batch)."""

    name: str = "input"
    output_name: str = "logits"
    layout: str = "NCHW"
    dtype: str = "float32"
    shape: list[int] = field(default_factory=lambda: [-1, 3, 224, 224])
    batch_axis_name: str = "batch"

    @property
    def channels(self) -> int:
        return int(self.shape[1])

    @property
    def size(self) -> int:
        return int(self.shape[2])


@dataclass
class Preprocessing:
    """How a raw image becomes the model's input (see ``resnet_deploy.preprocess``)."""

    resize: int = 256  # shorter side is resized to this
    crop: int = 224  # then a centre crop of crop x crop
    mean: list[float] = field(default_factory=lambda: [0.485, 0.456, 0.406])
    std: list[float] = field(default_factory=lambda: [0.229, 0.224, 0.225])
    channel_order: str = "RGB"
    interpolation: str = "bilinear"
    scale: float = 1.0 / 255.0  # uint8 -> [0, 1] before mean/std

    @classmethod
    def for_input_size(cls, size: int) -> Preprocessing:
        """ImageNet convention scaled to ``size``: resize to size*256/224, centre-crop size."""
        return cls(resize=int(size * 256 / 224), crop=int(size))


@dataclass
class ModelInfo:
    """What model this artifact holds."""

    arch: str
    num_classes: int
    variant: str = "v1.5"
    params: int = 0
    gmacs: float = 0.0
    checkpoint_sha256: str | None = None
    labels: list[str] | None = None


@dataclass
class Manifest:
    """The artifact's description; later stages fill the optional sections."""

    model: ModelInfo
    input: InputSpec = field(default_factory=InputSpec)
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    files: list[FileEntry] = field(default_factory=list)
    parity: dict[str, Any] = field(default_factory=dict)  # key -> metrics
    calibration: dict[str, Any] | None = None
    quantization: dict[str, Any] = field(default_factory=dict)
    engines: list[dict[str, Any]] = field(default_factory=list)
    bench: dict[str, Any] = field(default_factory=dict)
    selection: dict[str, Any] | None = None
    toolchain: dict[str, str] = field(default_factory=dict)
    created_at: str = field(default_factory=lambda: now_iso())
    schema_version: int = SCHEMA_VERSION

    # -- queries ---------------------------------------------------------
    def find(
        self, format: str | None = None, precision: str | None = None, target: str | None = None
    ) -> list[FileEntry]:
        """All file entries matching the given fields (None matches anything)."""
        out = []
        for f in self.files:
            if format is not None and f.format != format:
                continue
            if precision is not None and f.precision != precision:
                continue
            if target is not None and f.target != target:
                continue
            out.append(f)
        return out

    def file(
        self, format: str, precision: str = "fp32", target: str | None = None
    ) -> FileEntry | None:
        """The single entry for (format, precision, target), or None."""
        for f in self.files:
            if f.format == format and f.precision == precision and f.target == target:
                return f
        return None

    def replace_file(self, entry: FileEntry) -> None:
        """Add ``entry``, dropping any previous entry with the same path."""
        self.files = [f for f in self.files if f.path != entry.path] + [entry]

    # -- (de)serialisation ----------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return {"schema_version": d.pop("schema_version"), **d}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Manifest:
        try:
            version = int(d.get("schema_version", -1))
        except (TypeError, ValueError):
            version = -1
        if version != SCHEMA_VERSION:
            raise ArtifactError(
                f"manifest schema_version {d.get('schema_version')!r} is not supported "
                f"(this resnet-deploy reads version {SCHEMA_VERSION}); re-export the artifact"
            )
        try:
            return cls(
                model=ModelInfo(**d["model"]),
                input=InputSpec(**d.get("input", {})),
                preprocessing=Preprocessing(**d.get("preprocessing", {})),
                files=[FileEntry(**f) for f in d.get("files", [])],
                parity=d.get("parity", {}) or {},
                calibration=d.get("calibration"),
                quantization=d.get("quantization", {}) or {},
                engines=d.get("engines", []) or [],
                bench=d.get("bench", {}) or {},
                selection=d.get("selection"),
                toolchain=d.get("toolchain", {}) or {},
                created_at=d.get("created_at", ""),
                schema_version=version,
            )
        except (KeyError, TypeError) as exc:
            raise ArtifactError(f"manifest is malformed ({exc}); re-export the artifact") from None


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def toolchain_versions() -> dict[str, str]:
    """Versions of the libraries that matter for reproducing an artifact (no heavy imports)."""
    import platform
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("torch", "onnx", "onnxruntime", "onnxruntime-gpu", "onnxscript", "resnet-deploy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def make_entry(
    artifact_dir: str | os.PathLike[str],
    rel_path: str,
    format: str,
    precision: str = "fp32",
    target: str | None = None,
    **extra: Any,
) -> FileEntry:
    """A FileEntry for a file already inside ``artifact_dir`` (size and sha256 computed)."""
    p = Path(artifact_dir) / rel_path
    return FileEntry(
        path=rel_path,
        format=format,
        precision=precision,
        target=target,
        size=p.stat().st_size,
        sha256=sha256_file(p),
        extra=dict(extra),
    )


def save_manifest(manifest: Manifest, artifact_dir: str | os.PathLike[str]) -> Path:
    """Write ``manifest.json`` atomically (temp file, fsync, rename)."""
    d = Path(artifact_dir)
    target = d / MANIFEST_NAME
    fd, tmp = tempfile.mkstemp(prefix=".manifest.", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(manifest.to_dict(), fh, indent=2, sort_keys=False, default=_json_default)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        make_readable(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return target


def _json_default(o: Any) -> Any:
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def read_manifest(artifact_dir: str | os.PathLike[str]) -> Manifest:
    """Parse ``manifest.json`` without checking files (use ``load_manifest`` to verify)."""
    d = Path(artifact_dir)
    if not d.exists():
        raise ArtifactError(f"artifact directory '{d}' does not exist; run 'resnet-deploy export' first")
    if not d.is_dir():
        raise ArtifactError(f"'{d}' is a file, not an artifact directory; pass the directory 'resnet-deploy export' made")
    mpath = d / MANIFEST_NAME
    if not mpath.is_file():
        raise ArtifactError(f"'{d}' has no {MANIFEST_NAME}; it is not a resnet-deploy artifact")
    try:
        data = json.loads(mpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{mpath} is not valid JSON ({exc.__class__.__name__}); re-export the artifact") from None
    if not isinstance(data, dict):
        raise ArtifactError(f"{mpath} is not a manifest object; re-export the artifact")
    return Manifest.from_dict(data)


def verify_file(artifact_dir: str | os.PathLike[str], entry: FileEntry) -> None:
    """Refuse a missing, truncated or modified file with a one-line ArtifactError."""
    p = Path(artifact_dir) / entry.path
    if not p.is_file():
        raise ArtifactError(f"artifact file '{entry.path}' is missing from {artifact_dir}; re-export the artifact")
    size = p.stat().st_size
    if entry.size and size != entry.size:
        raise ArtifactError(
            f"artifact file '{entry.path}' is {size} bytes but the manifest says {entry.size} "
            "(truncated or replaced); re-export the artifact"
        )
    if entry.sha256 and sha256_file(p) != entry.sha256:
        raise ArtifactError(
            f"artifact file '{entry.path}' fails its sha256 check (modified or corrupt); re-export the artifact"
        )


def load_manifest(artifact_dir: str | os.PathLike[str], verify: bool = True) -> Manifest:
    """Read and validate the manifest; with ``verify`` check every file's size and sha256."""
    m = read_manifest(artifact_dir)
    if verify:
        for entry in m.files:
            verify_file(artifact_dir, entry)
    return m


def update_manifest(
    artifact_dir: str | os.PathLike[str], fn: Callable[[Manifest], None]
) -> Manifest:
    """Read the manifest, let ``fn`` mutate it, and save it atomically."""
    m = read_manifest(artifact_dir)
    fn(m)
    save_manifest(m, artifact_dir)
    return m


def install_file(
    artifact_dir: str | os.PathLike[str],
    src: str | os.PathLike[str],
    rel_path: str,
    format: str,
    precision: str = "fp32",
    target: str | None = None,
    **extra: Any,
) -> FileEntry:
    """Move a finished file into the artifact atomically and return its entry.

    ``src`` should be on the same filesystem (e.g. made by ``temp_path``) so the
    final ``os.replace`` is atomic; the manifest is not touched here.
    """
    dest = Path(artifact_dir) / rel_path
    dest.parent.mkdir(parents=True, exist_ok=True)
    make_readable(src)
    os.replace(src, dest)
    return make_entry(artifact_dir, rel_path, format, precision, target, **extra)

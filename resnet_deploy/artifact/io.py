"""Reading and writing an artifact directory: manifest I/O, file integrity, containment.

Every file the manifest lists must stay inside the artifact directory once
resolved (no ``..``, no absolute path, no symlink leading out): a manifest that
points elsewhere is refused on read, before any file is opened. Each file's size
and sha256 is checked by ``load_manifest``/``verify_file``. The manifest is
written atomically (temp file, fsync, rename) with its digest.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from resnet_deploy.artifact.core import FileEntry
from resnet_deploy.artifact.fields import FIX
from resnet_deploy.artifact.manifest import DIGEST_FIELD, Manifest, manifest_digest
from resnet_deploy.atomic import make_readable, write_text_atomic
from resnet_deploy.errors import ArtifactError
from resnet_deploy.paths import dir_problem

MANIFEST_NAME = "manifest.json"


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


def resolve_inside(artifact_dir: str | os.PathLike[str], rel_path: str, name: str = "path") -> Path:
    """``artifact_dir / rel_path`` resolved; ArtifactError if it leads outside the directory."""
    root = Path(artifact_dir).resolve()
    p = (root / rel_path).resolve()
    if p != root and root not in p.parents:
        raise ArtifactError(
            f"manifest field {name} '{rel_path}' resolves outside the artifact directory "
            f"(symlink or path leading out); {FIX}"
        )
    return p


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


def manifest_json(manifest: Manifest) -> dict[str, Any]:
    """The manifest as it is written: plain JSON values plus the digest field.

    The dict is also read back through ``Manifest.from_dict``, so a writer can
    never save a manifest the run side would refuse.
    """
    data = json.loads(json.dumps(manifest.to_dict(), default=_json_default))
    Manifest.from_dict(data)
    data[DIGEST_FIELD] = manifest_digest(data)
    return data


def save_manifest(manifest: Manifest, artifact_dir: str | os.PathLike[str]) -> Path:
    """Write ``manifest.json`` atomically (temp file, fsync, rename; see ``atomic.write_text_atomic``)."""
    target = Path(artifact_dir) / MANIFEST_NAME
    return write_text_atomic(target, json.dumps(manifest_json(manifest), indent=2) + "\n")


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
    """Parse and check ``manifest.json`` (fields, digest, containment) without hashing files."""
    d = Path(artifact_dir)
    problem = dir_problem(d)
    if problem == "does not exist":
        raise ArtifactError(f"artifact directory '{d}' does not exist; run 'resnet-deploy export' first")
    if problem == "is a file, not a directory":
        raise ArtifactError(f"'{d}' is a file, not an artifact directory; pass the directory 'resnet-deploy export' made")
    if problem is not None:
        raise ArtifactError(f"artifact directory '{d}' {problem}; pass the directory 'resnet-deploy export' made")
    mpath = d / MANIFEST_NAME
    if not mpath.is_file():
        raise ArtifactError(f"'{d}' has no {MANIFEST_NAME}; it is not a resnet-deploy artifact")
    try:
        data = json.loads(mpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{mpath} is not valid JSON ({exc.__class__.__name__}); {FIX}") from exc
    if not isinstance(data, dict):
        raise ArtifactError(f"{mpath} is not a manifest object; {FIX}")
    m = Manifest.from_dict(data)
    for i, entry in enumerate(m.files):
        resolve_inside(d, entry.path, f"files[{i}].path")
    return m


def verify_file(artifact_dir: str | os.PathLike[str], entry: FileEntry) -> None:
    """Refuse a missing, truncated, modified or outside-pointing file with a one-line ArtifactError."""
    p = resolve_inside(artifact_dir, entry.path, "files[].path")
    if not p.is_file():
        raise ArtifactError(f"artifact file '{entry.path}' is missing from {artifact_dir}; {FIX}")
    size = p.stat().st_size
    if entry.size and size != entry.size:
        raise ArtifactError(
            f"artifact file '{entry.path}' is {size} bytes but the manifest says {entry.size} "
            f"(truncated or replaced); {FIX}"
        )
    if entry.sha256 and sha256_file(p) != entry.sha256:
        raise ArtifactError(
            f"artifact file '{entry.path}' fails its sha256 check (modified or corrupt); {FIX}"
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

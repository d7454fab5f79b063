"""Atomic writes: build in a hidden temp file or directory beside the target, then rename.

A failed or interrupted run therefore leaves the previous state intact and
nothing half-written. Used for artifacts, reports, Triton repositories, the
sample-model cache and single files (``replacing``, ``write_*_atomic``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from resnet_deploy.errors import ResNetDeployError


def make_readable(path: str | os.PathLike[str], directory: bool = False) -> None:
    """Give a mkstemp/mkdtemp result (0600/0700) the usual umask mode, so a server running as
    another user (e.g. Triton in a container) can read the artifact."""
    mask = os.umask(0o022)
    os.umask(mask)
    os.chmod(path, (0o777 if directory else 0o666) & ~mask)


@contextlib.contextmanager
def temp_path(artifact_dir: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """A temp file path inside ``artifact_dir`` that is removed unless moved away."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=artifact_dir)
    os.close(fd)
    try:
        yield Path(tmp)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


@contextlib.contextmanager
def replacing(path: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success it is fsynced, made readable and renamed onto ``path``.

    The one way to (re)write a single file: an exception leaves the old file as it was.
    Creates the parent folder (caches that several processes share live in new folders).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with temp_path(target.parent, suffix=suffix or target.suffix) as tmp:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        make_readable(tmp)
        os.replace(tmp, target)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` by temp file + rename (never half-written)."""
    with replacing(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` by temp file + rename (never half-written)."""
    return write_bytes_atomic(path, text.encode(encoding))


def check_output_dir(out_dir: str | os.PathLike[str], force: bool, *, marker: str | None = None) -> Path:
    """Validate where a new directory goes, before any work is done and without creating anything.

    With ``marker`` (e.g. ``manifest.json``), ``force`` only replaces a directory that
    is empty or holds that file: never a user's unrelated directory.
    """
    out = Path(out_dir)
    if out.exists() and not force:
        raise ResNetDeployError(f"output directory '{out}' already exists; pass --force to replace it")
    if out.exists() and not out.is_dir():
        raise ResNetDeployError(f"output path '{out}' exists and is not a directory; choose another --out")
    if marker and out.is_dir() and any(out.iterdir()) and not (out / marker).is_file():
        raise ResNetDeployError(
            f"'{out}' is not empty and is not a resnet-deploy artifact (no {marker}); "
            "--force only replaces artifacts, choose another --out"
        )
    anc = out.resolve().parent
    while not anc.exists():
        anc = anc.parent
    if not anc.is_dir():
        raise ResNetDeployError(f"cannot create '{out}': '{anc}' is a file; choose another --out")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise ResNetDeployError(f"output location '{anc}' is not writable; choose another --out")
    return out


def make_parent_dir(out_dir: str | os.PathLike[str]) -> Path:
    """Create the parent of ``out_dir`` (where its temp siblings go); returns it."""
    parent = Path(out_dir).resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ResNetDeployError(f"cannot create '{parent}' ({exc.strerror}); choose another --out") from exc
    return parent


def publish_dir(src: str | os.PathLike[str], out_dir: str | os.PathLike[str], force: bool = False) -> Path:
    """Move a finished directory to ``out_dir`` by rename; replaces an old one only with ``force``."""
    out = check_output_dir(out_dir, force)
    parent = make_parent_dir(out)
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=parent))
        os.replace(out, old / "x")
        os.replace(src, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(src, out)
    return out


@contextlib.contextmanager
def staging_dir(out_dir: str | os.PathLike[str], force: bool = False, *,
                marker: str | None = None) -> Iterator[Path]:
    """Build a new artifact in a hidden sibling temp dir; rename to ``out_dir`` on success.

    On any exception (or Ctrl-C) the temp dir is removed and ``out_dir`` is left
    as it was, so a failed run leaves nothing half-written.
    """
    out = check_output_dir(out_dir, force, marker=marker)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=make_parent_dir(out)))
    try:
        make_readable(tmp, directory=True)
        yield tmp
        publish_dir(tmp, out, force)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

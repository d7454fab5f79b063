"""Atomic writes: build in a hidden temp file or directory beside the target, then rename.

A failed or interrupted run therefore leaves the previous state intact and
nothing half-written. Used for artifacts, reports and Triton repositories.
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


def check_output_dir(out_dir: str | os.PathLike[str], force: bool) -> Path:
    """Validate where a new artifact goes, before any work is done."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ResNetDeployError(
            f"--out '{out}' is an existing file, not a directory; choose another --out (--force never replaces files)"
        )
    if out.exists() and not force:
        raise ResNetDeployError(f"output directory '{out}' already exists; pass --force to replace it")
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ResNetDeployError(f"cannot create '{parent}' ({exc.strerror}); choose another --out") from None
    if not os.access(parent, os.W_OK):
        raise ResNetDeployError(f"output directory '{parent}' is not writable; choose another --out")
    return out


def publish_dir(src: str | os.PathLike[str], out_dir: str | os.PathLike[str], force: bool = False) -> Path:
    """Move a finished directory to ``out_dir`` by rename; replaces an old one only with ``force``."""
    out = check_output_dir(out_dir, force)
    parent = out.resolve().parent
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=parent))
        os.replace(out, old / "x")
        os.replace(src, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(src, out)
    return out


@contextlib.contextmanager
def staging_dir(out_dir: str | os.PathLike[str], force: bool = False) -> Iterator[Path]:
    """Build a new artifact in a hidden sibling temp dir; rename to ``out_dir`` on success.

    On any exception (or Ctrl-C) the temp dir is removed and ``out_dir`` is left
    as it was, so a failed run leaves nothing half-written.
    """
    out = check_output_dir(out_dir, force)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.resolve().parent))
    try:
        make_readable(tmp, directory=True)
        yield tmp
        publish_dir(tmp, out, force)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

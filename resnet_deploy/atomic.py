"""Atomic writes: build in a hidden temp file or directory beside the target, then rename.

A failed or interrupted run therefore leaves the previous state intact and
nothing half-written. Used for artifacts, reports, Triton repositories, the
sample-model cache and single files (``replacing``, ``write_*_atomic``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from resnet_deploy.errors import ResNetDeployError

F = TypeVar("F", bound=Callable[..., Any])


def make_readable(path: str | os.PathLike[str], directory: bool = False) -> None:
    """Give a mkstemp/mkdtemp result (0600/0700) the usual umask mode, so a server running as
    another user (e.g. Triton in a container) can read the artifact."""
    mask = os.umask(0o022)
    os.umask(mask)
    os.chmod(path, (0o777 if directory else 0o666) & ~mask)


@contextlib.contextmanager
def temp_path(artifact_dir: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """A temp file path inside ``artifact_dir`` that is removed unless moved away."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=artifact_dir)
    except OSError as exc:
        raise write_failure(exc, artifact_dir) or exc from None
    os.close(fd)
    try:
        yield Path(tmp)
    except Exception as exc:
        err = write_failure(exc, artifact_dir)
        if err is None or err is exc:
            raise
        raise err from None
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
    if out.exists() and not out.is_dir():
        raise ResNetDeployError(
            f"--out '{out}' is an existing file, not a directory; choose another --out (--force never replaces files)"
        )
    if out.exists() and not force:
        raise ResNetDeployError(f"output directory '{out}' already exists; pass --force to replace it")
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
        with artifact_lock(out, "replace the artifact (--force)"):  # not under a quantize/bench writer
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
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=make_parent_dir(out)))
    except OSError as exc:
        raise write_failure(exc, out.resolve().parent) or exc from exc
    try:
        make_readable(tmp, directory=True)
        yield tmp
        publish_dir(tmp, out, force)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        err = write_failure(exc, out.resolve().parent) if isinstance(exc, Exception) else None
        if err is None or err is exc:
            raise
        raise err from None


# -- out of space / OS write errors ------------------------------------------------------
# errno values that mean "this location cannot take the write" rather than a bug.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}
# The text C++ writers (torch's zip writer, onnx) put in the RuntimeError they raise instead.
_WRITE_TEXTS = ("no space left on device", "file write failed", "disk quota exceeded")


class WriteError(ResNetDeployError):
    """A file could not be written (disk full, quota, read-only filesystem): exit 2."""


def free_bytes(path: str | os.PathLike[str]) -> int:
    """Free bytes on the filesystem holding ``path`` (or its nearest existing parent)."""
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free
    except OSError:
        return -1


def _human(n: int) -> str:
    if n < 0:
        return "unknown"
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} bytes"


def shown_path(path: str | os.PathLike[str]) -> str:
    """``path`` as the user knows it: hidden staging/work directories (``.NAME.tmp-xyz``,
    ``.tmp-quantize-xyz``) are replaced by the directory they become or live in."""
    parts: list[str] = []
    for part in Path(path).parts:
        if part.startswith(".") and ".tmp-" in part:
            name = part[1:].split(".tmp-")[0]
            if name.startswith("tmp-") or not name:
                continue  # a work dir inside the artifact: drop it
            part = name
        parts.append(part)
    return str(Path(*parts)) if parts else str(path)


OUT_ADVICE = "free space or choose another --out"


def write_failure(
    exc: BaseException, path: str | os.PathLike[str], advice: str = OUT_ADVICE
) -> WriteError | None:
    """The one-line error for an exception caused by a full/read-only disk anywhere in its chain, else None."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, WriteError):
            return cur
        reason = None
        if isinstance(cur, OSError) and cur.errno in _WRITE_ERRNOS:
            reason = cur.strerror or os.strerror(cur.errno)
        elif isinstance(cur, (OSError, RuntimeError)) and any(t in str(cur).lower() for t in _WRITE_TEXTS):
            reason = "no space left on device"
        if reason is not None:
            where = shown_path(getattr(cur, "filename", None) or path)
            return WriteError(
                f"could not write '{where}' ({reason}; {_human(free_bytes(path))} free there); {advice}"
            )
        cur = cur.__cause__ or cur.__context__
    return None


def ensure_free(path: str | os.PathLike[str], need: int, what: str) -> None:
    """Refuse to start a write that cannot fit (used before C++ writers that abort on a full disk)."""
    free = free_bytes(path)
    if 0 <= free < need:
        raise WriteError(
            f"not enough space to write {what} in '{shown_path(path)}': needs about {_human(need)}, "
            f"{_human(free)} free; free space or choose another --out"
        )


# -- one writer per artifact ---------------------------------------------------------------
LOCK_NAME = ".resnet-deploy.lock"
LOCK_TIMEOUT_ENV = "RESNET_DEPLOY_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 600.0
_HELD: set[str] = set()  # artifacts this process holds (flock would block on a second open file)


class LockedError(ResNetDeployError):
    """Another writer holds the artifact longer than we may wait."""


def lock_timeout() -> float:
    raw = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_LOCK_TIMEOUT
    except ValueError:
        raise ResNetDeployError(
            f"{LOCK_TIMEOUT_ENV}='{raw}' is not a number of seconds; set it like 600 or unset it"
        ) from None


@contextlib.contextmanager
def artifact_lock(
    artifact_dir: str | os.PathLike[str],
    what: str,
    on_wait: Callable[[str], None] | None = None,
    timeout: float | None = None,
) -> Iterator[None]:
    """Hold the artifact's exclusive writer lock (fcntl.flock on a file beside the manifest).

    A second writer waits (saying so once through ``on_wait``) up to ``timeout``
    seconds (default $RESNET_DEPLOY_LOCK_TIMEOUT or 600; 0 fails fast), then
    raises LockedError. The lock file is removed on release; the inode check
    after locking makes that safe against a writer that opened the old file.
    A directory without a manifest is not locked (its writer reports that itself).
    """
    art = Path(artifact_dir)
    key = str(art.resolve())
    if not (art / "manifest.json").is_file() or key in _HELD:  # nothing to guard, or ours already
        yield
        return
    limit = lock_timeout() if timeout is None else timeout
    path = art / LOCK_NAME
    deadline = time.monotonic() + limit
    told = False
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise write_failure(exc, art, "make it writable or copy the artifact elsewhere") or ResNetDeployError(
                f"cannot write into artifact '{art}' ({exc.strerror}); check its permissions or copy it elsewhere"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            if time.monotonic() >= deadline:
                raise LockedError(
                    f"artifact '{art}' is being written by another process ({holder}); "
                    f"wait for it to finish and run again, or raise {LOCK_TIMEOUT_ENV} (now {limit:g} s)"
                ) from None
            if not told and on_wait is not None:
                on_wait(f"waiting for another writer of '{art}' ({holder}) to finish (up to {limit:g} s)")
                told = True
            time.sleep(0.2)
            continue
        if _same_file(fd, path):
            break
        os.close(fd)  # locked a file that its previous holder already removed: retry on the new one
    _HELD.add(key)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}: {what}\n".encode())
        yield
    finally:
        _HELD.discard(key)
        with contextlib.suppress(OSError):
            if _same_file(fd, path):
                os.unlink(path)
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _read_holder(fd: int) -> str:
    try:
        return os.pread(fd, 200, 0).decode(errors="replace").strip() or "pid unknown"
    except OSError:
        return "pid unknown"


def locked_writer(what: str) -> Callable[[F], F]:
    """Decorator for ``fn(artifact_dir, config, ...)``: run under ``artifact_lock`` and turn a
    full-disk failure anywhere inside into one WriteError line."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def inner(artifact_dir: Any, config: Any = None, *args: Any, **kwargs: Any) -> Any:
            reporter = kwargs.get("reporter", args[0] if args else None)
            with artifact_lock(artifact_dir, what, on_wait=_say(reporter)):
                try:
                    return fn(artifact_dir, config, *args, **kwargs)
                except Exception as exc:
                    err = write_failure(exc, artifact_dir, "free space or copy the artifact to a bigger disk")
                    if err is None or err is exc:
                        raise
                    raise err from exc

        return inner  # type: ignore[return-value]

    return wrap


def _say(reporter: Any) -> Callable[[str], None]:
    """Where a waiting writer says so: the caller's Reporter (or callback), else stderr."""
    from resnet_deploy.reporter import as_reporter

    if reporter is not None:
        return as_reporter(reporter).note
    return lambda msg: print(f"note: {msg}", file=sys.stderr, flush=True)

"""The files the bad-input catalogue points the CLI at, built once per session.

A tiny ONNX artifact (tests/tiny_onnx_artifact.py: 8x8 input, 4 classes, no
torch needed), good/broken/huge images, empty and looping folders, a plain
file, and helpers for the disk-full (tmpfs) and lock-holder cases.
"""

from __future__ import annotations

import contextlib
import os
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tiny_onnx_artifact import write_tiny_manifest, write_tiny_onnx

from resnet_deploy.artifact import make_entry

ROOT = Path(__file__).resolve().parents[2]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_big_png(path: Path, width: int, height: int) -> Path:
    """A valid all-black grayscale PNG of any size, written without decoding it in memory
    (~400 KB on disk for 20000x20000, which decodes to 400 MB)."""
    row = b"\0" * (width + 1)  # filter byte + pixels
    comp = zlib.compressobj(1)
    parts = [comp.compress(row) for _ in range(height)]
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", b"".join(parts))
    path.write_bytes(png + _png_chunk(b"IEND", b""))
    return path


def build_world(root: Path) -> dict[str, str]:
    """Every path a case may name, by placeholder key."""
    from PIL import Image

    art = root / "art"
    art.mkdir()
    write_tiny_onnx(art / "model.fp32.onnx")
    write_tiny_manifest(art, [make_entry(art, "model.fp32.onnx", "onnx", "fp32")])
    rng = np.random.default_rng(0)
    good = root / "good.png"
    Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(good)
    full = good.read_bytes()
    (root / "truncated.png").write_bytes(full[: len(full) // 2])
    (root / "empty.jpg").write_bytes(b"")
    (root / "text.jpg").write_text("not an image\n")
    write_big_png(root / "huge.png", 20000, 20000)
    (root / "emptydir").mkdir()
    (root / "textdir").mkdir()
    (root / "textdir" / "notes.txt").write_text("x")
    (root / "corruptdir").mkdir()
    (root / "corruptdir" / "a.png").write_bytes(full[: len(full) // 3])
    (root / "corruptdir" / "b.jpg").write_text("nope")
    loopdir = root / "loopdir" / "cls" / "sub"
    loopdir.mkdir(parents=True)
    Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(root / "loopdir" / "cls" / "a.png")
    os.symlink("..", loopdir / "up")
    os.symlink("loop", root / "loop")  # a symlink to itself: ELOOP
    (root / "afile").write_text("a plain file\n")
    (root / "emptyfile").write_bytes(b"")
    notart = root / "notart"
    notart.mkdir()
    (notart / "keep.txt").write_text("someone else's data\n")
    bad_manifests = write_bad_manifests(root, art)
    return {
        **bad_manifests,
        "art": str(art), "good": str(good), "huge": str(root / "huge.png"),
        "truncated": str(root / "truncated.png"), "empty_img": str(root / "empty.jpg"),
        "text_img": str(root / "text.jpg"), "emptydir": str(root / "emptydir"),
        "textdir": str(root / "textdir"), "corruptdir": str(root / "corruptdir"),
        "loopdir": str(root / "loopdir"), "loop": str(root / "loop"), "afile": str(root / "afile"),
        "emptyfile": str(root / "emptyfile"), "notart": str(notart), "missing": str(root / "no" / "such"),
        "root": str(root),
    }


def _copy_with_manifest(root: Path, art: Path, name: str, edit: Callable[[dict], None], resign: bool = True) -> str:
    """A copy of ``art`` whose manifest.json was edited by hand (re-signed unless ``resign`` is False)."""
    import json
    import shutil

    from resnet_deploy.artifact.manifest import DIGEST_FIELD, manifest_digest

    out = root / name
    shutil.copytree(art, out)
    data = json.loads((out / "manifest.json").read_text())
    edit(data)
    if resign:
        data.pop(DIGEST_FIELD, None)
        data[DIGEST_FIELD] = manifest_digest(data)
    (out / "manifest.json").write_text(json.dumps(data, indent=2))
    return str(out)


def write_bad_manifests(root: Path, art: Path) -> dict[str, str]:
    """Artifacts whose manifest points outside, was edited, or carries bad fields (issue 13 items 1, 5)."""
    outside = root / "outside"
    outside.mkdir()
    write_tiny_onnx(outside / "model.fp32.onnx")
    files0 = (lambda d, **kv: d["files"][0].update(kv))  # noqa: E731 - table helper

    made = {
        "m_traversal": _copy_with_manifest(root, art, "m_traversal", lambda d: files0(d, path="../outside/model.fp32.onnx")),
        "m_absolute": _copy_with_manifest(root, art, "m_absolute", lambda d: files0(d, path=str(outside / "model.fp32.onnx"))),
        "m_passwd": _copy_with_manifest(root, art, "m_passwd", lambda d: files0(d, path="../../../../etc/passwd")),
        "m_unsigned_edit": _copy_with_manifest(root, art, "m_unsigned_edit",
                                               lambda d: d["model"].update(num_classes=5), resign=False),
        "m_crop": _copy_with_manifest(root, art, "m_crop", lambda d: d["preprocessing"].update(crop=-5)),
        "m_classes": _copy_with_manifest(root, art, "m_classes", lambda d: d["model"].update(num_classes="ten")),
        "m_mean": _copy_with_manifest(root, art, "m_mean", lambda d: d["preprocessing"].update(mean=[0.5, 0.5])),
        "m_std": _copy_with_manifest(root, art, "m_std", lambda d: d["preprocessing"].update(std=[0, 0, 0])),
        "m_schema": _copy_with_manifest(root, art, "m_schema", lambda d: d.update(schema_version=2)),
        "m_symlink": _copy_with_manifest(root, art, "m_symlink", lambda d: None),
    }
    link = Path(made["m_symlink"]) / "model.fp32.onnx"
    link.unlink()
    os.symlink(outside / "model.fp32.onnx", link)  # same bytes, but outside the artifact
    return made


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    pid: int  # also the session id: the run was started in its own session


def cli(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120) -> Result:
    """``resnet-deploy ARGS`` as a real process in its own session (so leftover processes can be found)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from resnet_deploy.cli import main; main()", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env, cwd=cwd, start_new_session=True,
    )
    out, err = proc.communicate(timeout=timeout)
    return Result(proc.returncode, out, err, proc.pid)


def session_processes(sid: int) -> list[int]:
    """Pids still running in session ``sid`` (a finished CLI run must leave none)."""
    import psutil

    out = []
    for pid in psutil.pids():
        with contextlib.suppress(OSError):
            if os.getsid(pid) == sid and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
    return out


def leftovers(*dirs: str | Path) -> list[str]:
    """Staging/work dirs, temp files and lock files under ``dirs`` (non-recursive beyond one level)."""
    found = []
    for d in dirs:
        d = Path(d)
        if not d.is_dir():
            continue
        for p in [*d.iterdir(), *(q for c in d.iterdir() if c.is_dir() and not c.is_symlink() for q in c.iterdir())]:
            name = p.name
            if ".tmp-" in name or name.startswith(".tmp") or name.endswith(".lock") or ".old-" in name:
                found.append(str(p))
    return found


@contextlib.contextmanager
def tmpfs(where: Path, size: str, fill_to_free: int | None = None) -> Iterator[Path]:
    """A small tmpfs at ``where`` (needs root); optionally filled until ``fill_to_free`` bytes are free."""
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=True)
    try:
        if fill_to_free is not None:
            import shutil

            free = shutil.disk_usage(where).free
            with open(where / "filler", "wb") as fh, contextlib.suppress(OSError):
                fh.write(b"\0" * max(0, free - fill_to_free))
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def can_mount_tmpfs() -> str | None:
    """None when this process may mount a tmpfs (root on Linux), else why not."""
    if sys.platform != "linux":
        return "tmpfs mounts need Linux"
    if os.geteuid() != 0:
        return "disk-full cases mount a small tmpfs, which needs root"
    return None


@contextlib.contextmanager
def lock_holder(artifact: str) -> Iterator[None]:
    """Another process holding the artifact's writer lock for the duration."""
    code = (
        "import signal, sys, time\nfrom resnet_deploy.atomic import artifact_lock\n"
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # release and remove the lock file\n"
        "with artifact_lock(sys.argv[1], 'test holder'):\n    print('held', flush=True)\n    time.sleep(120)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, artifact], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        time.sleep(0.05)

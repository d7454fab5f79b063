"""The bad-input catalogue: one table of user mistakes and faults, each run through the real CLI.

Every case runs ``resnet-deploy ...`` as its own process and asserts the exit
code, exactly one ``error:`` line on stderr (with the expected words), no
traceback, and that nothing was left behind: no staging/work dirs or lock files
beside the artifact or in the working directory, no process of the run still
alive, and the shared artifact unchanged. Disk-full cases mount a small tmpfs
(root only; skipped with the reason elsewhere). Cases that need no process (array
inputs to the Python API) are in the second table. The manifest helper adds its
cases (path traversal, digest, field types) to ``MANIFEST_CASES``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bad_input_world import (
    build_world,
    can_mount_tmpfs,
    cli,
    leftovers,
    lock_holder,
    session_processes,
    tmpfs,
)

from resnet_deploy.errors import InvalidInputError


@dataclass(frozen=True)
class Case:
    """argv with {placeholders} from the world; the expected exit code and words of the error line."""

    id: str
    argv: tuple[str, ...]
    code: int = 2
    words: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    special: str | None = None  # "tmpfs:<size>[:full]" or "locked"


def C(id: str, argv: str | tuple[str, ...], *words: str, code: int = 2,  # noqa: N802 - a table row
      env: dict[str, str] | None = None, special: str | None = None) -> Case:
    args = tuple(argv.split()) if isinstance(argv, str) else argv
    return Case(id, args, code, words, env or {}, special)


ADVICE = "free space or"
CASES: list[Case] = [
    # -- export: options and paths ------------------------------------------------------
    C("export-unknown-arch", "export -a resnet7 --out {root}/x", "resnet7"),
    C("export-input-size-small", "export -a resnet20 --input-size 7 --out {root}/x", "input size", "from 32"),
    C("export-input-size-text", "export -a resnet20 --input-size abc --out {root}/x", "--input-size", "abc"),
    C("export-out-empty", ("export", "-a", "resnet20", "--out", ""), "--out", "is empty"),
    C("export-out-blank", ("export", "-a", "resnet20", "--out", "   "), "--out", "is empty"),
    C("export-out-is-file", "export -a resnet20 --out {afile}", "existing file", "choose another --out"),
    C("export-out-is-file-force", "export -a resnet20 --out {afile} --force", "existing file", "never replaces"),
    C("export-out-exists", "export -a resnet20 --out {art}", "already exists", "--force"),
    C("export-out-foreign-force", "export -a resnet20 --out {notart} --force", "not a resnet-deploy artifact"),
    C("export-out-under-file", "export -a resnet20 --out {afile}/sub", "is a file", "choose another --out"),
    C("export-weights-missing", "export -a resnet20 --weights {missing} --out {root}/x", "does not exist"),
    C("export-weights-dir", "export -a resnet20 --weights {emptydir} --out {root}/x", "is a directory"),
    C("export-weights-loop", "export -a resnet20 --weights {loop} --out {root}/x", "symlink loop"),
    C("export-weights-device", "export -a resnet20 --weights /dev/zero --out {root}/x", "not a regular file"),
    C("export-weights-empty", "export -a resnet20 --weights {emptyfile} --out {root}/x", "empty"),
    C("export-weights-text", "export -a resnet20 --weights {afile} --out {root}/x", "afile"),
    C("export-labels-dir", "export -a resnet20 --labels {emptydir} --out {root}/x", "is a directory"),
    C("export-labels-empty", "export -a resnet20 --labels {emptyfile} --out {root}/x", "empty"),
    C("export-labels-missing", "export -a resnet20 --labels {missing} --out {root}/x", "does not exist"),
    C("export-formats-bogus", "export -a resnet20 --formats onnx,bogus --out {root}/x", "bogus"),
    C("export-opset-old", "export -a resnet20 --opset 3 --out {root}/x", "opset"),
    C("export-num-classes-zero", "export -a resnet20 --num-classes 0 --out {root}/x", "num"),
    C("export-int8-calib-missing", "export -a resnet20 --int8 --calib-data {missing} --out {root}/x", "does not exist"),
    C("export-disk-1m", "export -a resnet20 --formats onnx --out {fs}/new", "not enough space", ADVICE,
      special="tmpfs:1m"),
    C("export-disk-3m-pt2", "export -a resnet20 --formats exported-program --out {fs}/new", "model.pt2",
      "not enough space", ADVICE, special="tmpfs:3m"),
    C("export-disk-3m-all", "export -a resnet20 --out {fs}/new", "not enough space", ADVICE, special="tmpfs:3m"),
    # -- quantize --------------------------------------------------------------------------
    C("quantize-calib-size-zero", "quantize {art} --calib-size 0", "calib", "positive"),
    C("quantize-calib-size-text", "quantize {art} --calib-size x", "--calib-size", "'x'"),
    C("quantize-calib-missing", "quantize {art} --calib-data {missing}", "does not exist"),
    C("quantize-calib-device", "quantize {art} --calib-data /dev/zero", "not a regular file"),
    C("quantize-calib-loop", "quantize {art} --calib-data {loop}", "symlink loop"),
    C("quantize-calib-empty-dir", "quantize {art} --calib-data {emptydir}", "is empty", "put images"),
    C("quantize-calib-text-only", "quantize {art} --calib-data {textdir}", "no image files", "supported"),
    C("quantize-calib-all-corrupt", "quantize {art} --calib-data {corruptdir} --targets cpu", "no usable images",
      "replace"),
    C("quantize-targets-bogus", "quantize {art} --targets cpu,bogus", "bogus"),
    C("quantize-max-drop-text", "quantize {art} --max-drop abc", "--max-drop", "abc"),
    C("quantize-artifact-missing", "quantize {missing}", "does not exist"),
    C("quantize-artifact-is-file", "quantize {afile}", "afile"),
    C("quantize-locked", "quantize {art} --targets cpu", "being written by another process", "wait",
      env={"RESNET_DEPLOY_LOCK_TIMEOUT": "0"}, special="locked"),
    C("quantize-disk-full", "quantize {fs}/art --targets cpu --calib-size 4", "could not write", "free space",
      special="tmpfs:2m:full"),
    C("quantize-read-only-fs", "quantize {fs}/art --targets cpu --calib-size 4", "Read-only file system",
      "copy the artifact elsewhere", special="tmpfs:4m:ro"),
    # -- bench -------------------------------------------------------------------------------
    C("bench-batch-sizes-zero", "bench {art} --batch-sizes 0", "--batch-sizes", "1,8,32"),
    C("bench-batch-sizes-text", "bench {art} --batch-sizes a,b", "--batch-sizes"),
    C("bench-time-budget-negative", "bench {art} --time-budget -1", "--time-budget", "pass"),
    C("bench-out-empty", ("bench", "{art}", "--out", ""), "--out", "is empty"),
    C("bench-artifact-missing", "bench {missing}", "does not exist"),
    C("bench-backend-bogus", "bench {art} --backends bogus", "bogus"),
    C("bench-disk-full", "bench {art} --backends onnxruntime:fp32 --batch-sizes 1 --iterations 3 --warmup 1 "
      "--no-peer --no-plots --out {fs}/report", "could not write", ADVICE, special="tmpfs:1m:full"),
    # -- predict: every kind of bad image ----------------------------------------------------
    C("predict-image-missing", "predict {art} {missing}", "does not exist"),
    C("predict-image-device", "predict {art} /dev/zero", "not a regular file"),
    C("predict-image-loop", "predict {art} {loop}", "symlink loop"),
    C("predict-image-empty", "predict {art} {empty_img}", "empty (0 bytes)"),
    C("predict-image-text", "predict {art} {text_img}", "cannot be decoded", "JPEG"),
    C("predict-image-truncated", "predict {art} {truncated}", "truncated or corrupt"),
    C("predict-image-huge", "predict {art} {huge}", "400,000,000 pixels", "above the limit", "downscale"),
    C("predict-max-pixels-env", "predict {art} {good}", "16x16", "above the limit of 100",
      env={"RESNET_DEPLOY_MAX_PIXELS": "100"}),
    C("predict-max-pixels-env-bad", "predict {art} {good}", "RESNET_DEPLOY_MAX_PIXELS", "unset",
      env={"RESNET_DEPLOY_MAX_PIXELS": "lots"}),
    C("predict-folder-empty", "predict {art} {emptydir}", "no image files", "put images"),
    C("predict-artifact-missing", "predict {missing} {good}", "does not exist"),
    C("predict-top-k-zero", "predict {art} {good} --top-k 0", "top-k"),
    C("predict-backend-bogus", "predict {art} {good} --backend bogus", "bogus"),
    # -- build-engine, serve, triton-repo --------------------------------------------------
    C("engine-batch-zero", "build-engine {art} --batch 0", "batch"),
    C("engine-batch-text", "build-engine {art} --batch a,b,c", "--batch"),
    C("engine-artifact-missing", "build-engine {missing}", "does not exist"),
    C("serve-port-out-of-range", "serve {art} --http-port 70000", "--http-port", "65535"),
    C("serve-artifact-missing", "serve {missing} --http-port 0 --grpc-port 0 --metrics-port 0", "does not exist"),
    C("serve-model-name-bad", ("serve", "{art}", "--model-name", "bad name!"), "model name"),
    C("triton-repo-out-empty", ("triton-repo", "{art}", "--out", ""), "--out", "is empty"),
    C("triton-repo-out-is-file", "triton-repo {art} --out {afile} --force", "existing file"),
    C("triton-repo-disk-full", "triton-repo {art} --out {fs}/repo", "could not write", ADVICE,
      special="tmpfs:1m:full"),
    # -- usage ------------------------------------------------------------------------------
    C("unknown-option", "predict {art} {good} --bogus", "--bogus"),
    C("missing-argument", "predict", "Missing argument"),
]

# Cases of the manifest hardening (path containment, manifest digest, field checks) go here;
# they use the same runner and the same assertions.
MANIFEST_CASES: list[Case] = [
    C("manifest-path-traversal", "predict {m_traversal} {good}", "files[0].path", "re-export"),
    C("manifest-path-absolute", "predict {m_absolute} {good}", "files[0].path", "re-export"),
    C("manifest-path-etc-passwd", "bench {m_passwd} --no-peer", "files[0].path", "re-export"),
    C("manifest-symlink-out", "predict {m_symlink} {good}", "model.fp32.onnx", "re-export"),
    C("manifest-edited-unsigned", "predict {m_unsigned_edit} {good}", "digest", "re-export"),
    C("manifest-crop-negative", "predict {m_crop} {good}", "preprocessing.crop", "re-export"),
    C("manifest-classes-text", "bench {m_classes} --no-peer", "model.num_classes", "re-export"),
    C("manifest-mean-short", "predict {m_mean} {good}", "preprocessing.mean", "re-export"),
    C("manifest-std-zero", "predict {m_std} {good}", "preprocessing.std", "re-export"),
    C("manifest-schema-2", ("serve", "{m_schema}", "--http-port", "0", "--grpc-port", "0", "--metrics-port", "0"),
      "schema", "re-export"),
]

ALL = CASES + MANIFEST_CASES


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return build_world(tmp_path_factory.mktemp("bad_inputs"))


def _digest(d: str) -> str:
    h = hashlib.sha256()
    for p in sorted(Path(d).rglob("*")):
        h.update(p.name.encode() + (p.read_bytes() if p.is_file() else b"<dir>"))
    return h.hexdigest()


def _fill(argv: tuple[str, ...], paths: dict[str, str]) -> list[str]:
    return [a.format(**paths) for a in argv]


def _run(case: Case, world: dict[str, str], tmp_path: Path) -> tuple[Any, dict[str, str], list[str]]:
    """Run the case (setting up tmpfs / a lock holder when needed); returns (result, paths, dirs to scan)."""
    paths = dict(world)
    scan = [world["art"], world["root"], str(tmp_path)]
    if case.special is None:
        return cli(_fill(case.argv, paths), env=case.env, cwd=tmp_path), paths, scan
    if case.special == "locked":
        with lock_holder(world["art"]):
            return cli(_fill(case.argv, paths), env=case.env, cwd=tmp_path), paths, scan
    _, size, *rest = case.special.split(":")
    if reason := can_mount_tmpfs():
        pytest.skip(reason)
    fs = tmp_path / "fs"
    with tmpfs(fs, size) as mnt:
        paths["fs"] = str(mnt)
        if "{fs}/art" in " ".join(case.argv):
            shutil.copytree(world["art"], mnt / "art")
        if rest == ["full"]:  # leave (almost) nothing free
            with open(mnt / "filler", "wb") as fh, contextlib.suppress(OSError):
                fh.write(b"\0" * (shutil.disk_usage(mnt).free - 2048))
        if rest == ["ro"]:
            subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        res = cli(_fill(case.argv, paths), env=case.env, cwd=tmp_path)
        left = leftovers(mnt)
        assert not left, f"left behind on the full disk: {left}"
        assert not (mnt / "art").exists() or "manifest.json" in os.listdir(mnt / "art")
    return res, paths, scan


@pytest.mark.parametrize("case", ALL, ids=[c.id for c in ALL])
def test_bad_input(case: Case, world: dict[str, str], tmp_path: Path) -> None:
    before = _digest(world["art"])
    res, _, scan = _run(case, world, tmp_path)
    err_lines = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert res.returncode == case.code, f"exit {res.returncode}, stderr:\n{res.stderr[-2000:]}"
    assert len(err_lines) == 1, f"want exactly one error: line, got:\n{res.stderr[-2000:]}"
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout
    line = err_lines[0]
    for word in case.words:
        assert word in line, f"{word!r} not in {line!r}"
    assert ";" in line or "(see '" in line, f"no 'what to do' half: {line!r}"
    assert not leftovers(*scan), f"left behind: {leftovers(*scan)}"
    assert not session_processes(res.pid), "a process of the run is still alive"
    assert _digest(world["art"]) == before, "a failed run changed the shared artifact"


# -- the Python API: array inputs and in-memory images (no process needed) ---------------------
def _png_bytes(path: str) -> bytes:
    return Path(path).read_bytes()


API_CASES: list[tuple[str, Callable[[dict[str, str]], Any], str]] = [
    ("zeros-0x0x3", lambda w: np.zeros((0, 0, 3), np.uint8), "zero size"),
    ("zeros-5x0x3", lambda w: np.zeros((5, 0, 3), np.uint8), "zero size"),
    ("zeros-0x5", lambda w: np.zeros((0, 5), np.uint8), "zero size"),
    ("zeros-1x0x0x3", lambda w: np.zeros((1, 0, 0, 3), np.uint8), "zero size"),
    ("zeros-0x5x5x3", lambda w: np.zeros((0, 5, 5, 3), np.uint8), "no images"),
    ("float-empty-batch", lambda w: np.zeros((0, 3, 8, 8), np.float32), "empty"),
    ("huge-png-bytes", lambda w: _png_bytes(w["huge"]), "above the limit"),
    ("truncated-bytes", lambda w: _png_bytes(w["truncated"]), "truncated or corrupt"),
    ("text-bytes", lambda w: b"not an image at all", "cannot be decoded"),
    ("empty-bytes", lambda w: b"", "empty"),
    ("pil-0x0", lambda w: __import__("PIL.Image", fromlist=["Image"]).new("RGB", (0, 0)), "zero size"),
    ("dir-path", lambda w: w["emptydir"], "is a directory"),
    ("loop-path", lambda w: w["loop"], "symlink loop"),
    ("nan-input", lambda w: np.full((1, 3, 8, 8), np.nan, np.float32), "NaN"),
]


@pytest.fixture(scope="module")
def predictor(world: dict[str, str]):
    from resnet_deploy.runtime.predictor import load

    with load(world["art"], backend="onnxruntime:fp32", threads=1) as p:
        yield p


@pytest.mark.parametrize("name,make,words", API_CASES, ids=[c[0] for c in API_CASES])
def test_bad_api_input(predictor, world: dict[str, str], name: str, make: Callable, words: str) -> None:
    with pytest.raises(InvalidInputError, match=words):
        predictor.predict(make(world))


def test_serve_image_handler_refuses_bad_images(predictor, world: dict[str, str]) -> None:
    """The serve image model decodes through the same bounded path: bad bytes are InvalidInputError (HTTP 400)."""
    from resnet_deploy.serve.handlers import decode_images

    for data, words in ((_png_bytes(world["huge"]), "above the limit"), (b"junk", "cannot be decoded"),
                        (_png_bytes(world["truncated"]), "truncated")):
        with pytest.raises(InvalidInputError, match=words):
            decode_images(np.array([[data]], dtype=object), predictor.preprocessing)


def test_max_pixels_is_configurable(world: dict[str, str]) -> None:
    from resnet_deploy.runtime.predictor import load

    with load(world["art"], backend="onnxruntime:fp32", threads=1, max_pixels=100) as small, \
            pytest.raises(InvalidInputError, match="above the limit of 100"):
        small.predict(world["good"])
    with load(world["art"], backend="onnxruntime:fp32", threads=1, max_pixels=256) as exact:
        assert len(exact.predict(world["good"])) == 1  # 16x16 = 256 pixels: at the bound is fine


def test_symlink_loop_in_image_folder_counts_each_file_once(world: dict[str, str]) -> None:
    from resnet_deploy.artifact import Preprocessing
    from resnet_deploy.data.imagefolder import ImageFolderSource

    src = ImageFolderSource(Path(world["loopdir"]), Preprocessing.for_input_size(8))
    assert len(src) == 1

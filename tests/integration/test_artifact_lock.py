"""One writer per artifact: two real quantize processes on one artifact both keep their result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from bad_input_world import ROOT, build_world, lock_holder

from resnet_deploy.atomic import LOCK_NAME, LockedError, artifact_lock


@pytest.fixture()
def art(tmp_path: Path) -> Path:
    return Path(build_world(tmp_path)["art"])


def _quantize(art: Path, target: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", "from resnet_deploy.cli import main; main()", "quantize", str(art),
         "--targets", target, "--calib-size", "8"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.mark.slow
def test_two_concurrent_quantize_runs_keep_both_results(art: Path) -> None:
    procs = [_quantize(art, "cpu"), _quantize(art, "tensorrt")]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-2000:]
    listed = {f["path"] for f in json.loads((art / "manifest.json").read_text())["files"]}
    for name in ("model.int8-cpu.onnx", "model.int8-tensorrt.onnx", "calibration.json"):
        assert (art / name).is_file(), f"{name} is gone"
        assert name in listed, f"{name} is not in the manifest"
    assert not (art / LOCK_NAME).exists()
    assert not [p.name for p in art.iterdir() if p.name.startswith(".tmp")]
    # The second writer saw the first one's calibration (it ran after it, under the lock).
    assert sum("reused calibration.json" in o + e for o, e in outs) == 1


def test_second_writer_fails_fast_with_one_line(art: Path) -> None:
    with lock_holder(str(art)), pytest.raises(LockedError, match="being written by another process"), \
            artifact_lock(art, "test", timeout=0):
        pass
    assert not (art / LOCK_NAME).exists()


def test_second_writer_waits_and_says_so(art: Path) -> None:
    said: list[str] = []
    got = threading.Event()
    with lock_holder(str(art)):
        def writer() -> None:
            with artifact_lock(art, "test", on_wait=said.append, timeout=60):
                got.set()

        t = threading.Thread(target=writer)
        t.start()
        time.sleep(0.6)
        assert not got.is_set() and len(said) == 1 and "waiting for another writer" in said[0]
    t.join(timeout=30)
    assert got.is_set()
    assert not (art / LOCK_NAME).exists()


def test_lock_is_reentrant_in_one_process_and_skips_non_artifacts(art: Path, tmp_path: Path) -> None:
    with artifact_lock(art, "outer"), artifact_lock(art, "inner", timeout=0):
        assert (art / LOCK_NAME).exists()
    with artifact_lock(tmp_path / "nothing-here", "x"):
        assert not (tmp_path / "nothing-here").exists()


def test_a_waiting_writer_tells_the_callers_reporter(art: Path) -> None:
    """A decorated stage (quantize, build-engine) says it waits through its own reporter, not stderr."""
    from resnet_deploy.atomic import locked_writer
    from resnet_deploy.reporter import RecordingReporter

    @locked_writer("test-stage")
    def stage(artifact_dir: Path, config: object, reporter: object = None) -> str:
        return "done"

    rec = RecordingReporter()
    result: list[str] = []
    with lock_holder(str(art)):
        t = threading.Thread(target=lambda: result.append(stage(art, None, reporter=rec)))
        t.start()
        time.sleep(0.6)
        assert not result and any("waiting for another writer" in n for n in rec.texts("note"))
    t.join(timeout=30)
    assert result == ["done"]

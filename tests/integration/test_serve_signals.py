"""``resnet-deploy serve`` stopped by SIGTERM/SIGINT at any moment of start-up leaves nothing behind.

Each run is a real CLI process on loopback (free ports: port 0) with its own
TMPDIR, so PyTriton's workspace and model folders can be checked; the signal is
sent at a chosen moment: just after the handlers are installed (read from
/proc/<pid>/status), while Triton and its stubs start, and once serving. Asserted:
exit 0 (SIGTERM) or 130 (SIGINT), every descendant seen during the run gone,
no new /dev/shm segment of the run, and an empty TMPDIR (apart from
onnxruntime's own '.ses' session-id file, which it writes to TMPDIR by design).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bad_input_world import ROOT, build_world

psutil = pytest.importorskip("psutil")
pytest.importorskip("pytriton")

ORT_SESSION_FILE = ".ses"


@pytest.fixture(scope="module")
def art(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_world(tmp_path_factory.mktemp("serve_signals"))["art"]


def _catches_sigterm(pid: int) -> bool:
    """True once the process has a handler for SIGTERM (SigCgt bit 15 in /proc/PID/status)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = int(next(ln.split()[1] for ln in text.splitlines() if ln.startswith("SigCgt:")), 16)
    return bool(mask & (1 << (signal.SIGTERM - 1)))


def _descendants(proc: psutil.Process) -> set[int]:
    try:
        return {c.pid for c in proc.children(recursive=True)}
    except psutil.Error:
        return set()


def _run(art: str, tmp: Path, moment: str, sig: int) -> tuple[int, str, set[int], set[int], set[str]]:
    shm_before = set(os.listdir("/dev/shm"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp)}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from resnet_deploy.cli import main; main()", "serve", art, "--http-port", "0",
         "--grpc-port", "0", "--metrics-port", "0", "--backend", "onnxruntime:fp32", "--threads", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    ps = psutil.Process(proc.pid)
    seen: set[int] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        seen |= _descendants(ps)
        if moment == "installed" and _catches_sigterm(proc.pid):
            time.sleep(0.5)
            break
        if moment == "starting" and len(seen) >= 1:  # Triton (or its first helper) is being spawned
            break
        if moment == "ready" and _ready(proc):
            break
        time.sleep(0.02)
    seen |= _descendants(ps)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    time.sleep(0.3)
    alive = {p for p in seen if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE}
    new_shm = {n for n in set(os.listdir("/dev/shm")) - shm_before if str(proc.pid) in n}
    return proc.returncode, err, seen, alive, new_shm


def _ready(proc: subprocess.Popen[str]) -> bool:
    """The CLI prints 'serving' on stderr when ready; peek without blocking."""
    import select

    assert proc.stderr is not None
    if select.select([proc.stderr], [], [], 0)[0]:
        line = proc.stderr.readline()
        return "serving" in line
    return False


@pytest.mark.slow
@pytest.mark.parametrize(
    "moment,sig,code",
    [
        ("installed", signal.SIGTERM, 0),
        ("starting", signal.SIGTERM, 0),
        ("ready", signal.SIGTERM, 0),
        ("starting", signal.SIGINT, 130),
    ],
    ids=["sigterm-at-start", "sigterm-while-triton-starts", "sigterm-when-serving", "sigint-while-triton-starts"],
)
def test_serve_stops_cleanly_on_signal(art: str, tmp_path: Path, moment: str, sig: int, code: int) -> None:
    rc, err, seen, alive, new_shm = _run(art, tmp_path, moment, sig)
    assert rc == code, err[-2000:]
    if moment != "installed":
        assert seen, "the signal was meant to land after serve had started child processes"
    assert "Traceback" not in err
    assert not alive, f"processes left running: {[(p, psutil.Process(p).name()) for p in alive]}"
    assert not new_shm, f"shared memory left: {new_shm}"
    left = [p.name for p in tmp_path.iterdir() if p.name != ORT_SESSION_FILE]
    assert not left, f"temporary files left in TMPDIR: {left}"

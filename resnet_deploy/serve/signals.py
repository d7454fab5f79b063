"""SIGTERM / SIGINT for ``serve``, handled from the first instant.

The default actions kill the process mid-start-up and orphan what was already
spawned (tritonserver, its Python stubs, PyTriton's shared-memory helper, the
workspace under /tmp). Instead the first signal is *recorded*: start-up stops
at its next checkpoint (or, inside Triton's own start, once it returns) and
everything started so far is stopped and removed; once serving, the signal
stops the server. A second signal forces an immediate KeyboardInterrupt.
Exit codes: 0 after SIGTERM (a requested stop), 130 after SIGINT (Ctrl-C).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequested(BaseException):
    """Raised at a start-up checkpoint after SIGTERM/SIGINT (a BaseException: not an error)."""


class StopSignals:
    """Records the first SIGTERM/SIGINT; the serving loop polls ``requested`` and stops
    outside the handler (a handler that blocks for the drain could be re-entered)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def install(self) -> StopSignals:
        """Take over SIGTERM/SIGINT (main thread only; elsewhere signals cannot be handled)."""
        if not self._previous and threading.current_thread() is threading.main_thread():
            for sig in _SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, handler)
        self._previous.clear()

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def checkpoint(self) -> None:
        """Abort start-up here if a stop was asked for."""
        if self.signum is not None:
            raise StopRequested()

    @property
    def exit_code(self) -> int:
        return 130 if self.signum == signal.SIGINT else 0

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.signum is not None:  # second signal: the user insists
            raise KeyboardInterrupt
        self.signum = signum


# The CLI installs this one before parsing anything (see ``resnet_deploy.cli.main``).
EARLY = StopSignals()


def child_pids() -> set[int]:
    """Pids of this process's descendants now (to tell later which ones ``serve`` started)."""
    import psutil

    return {p.pid for p in psutil.Process().children(recursive=True)}


def reap_children(keep: set[int], timeout_s: float = 5.0) -> list[int]:
    """Terminate (then kill) descendants not in ``keep`` that still run; returns their pids.

    A safety net after Triton's own stop: nothing ``serve`` started may outlive it.
    """
    import psutil

    kids = [p for p in psutil.Process().children(recursive=True) if p.pid not in keep]
    for p in kids:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    _, alive = psutil.wait_procs(kids, timeout=timeout_s)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(alive, timeout=timeout_s)
    return [p.pid for p in kids]

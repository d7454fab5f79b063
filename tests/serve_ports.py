"""Start test servers on ports the OS picked, retrying when another process takes one first.

Triton cannot be told to bind port 0 and report the port it got (it refuses two
endpoints on port 0, and logs ``127.0.0.1:0`` for one), so a free port has to be
picked and released before Triton binds it. Another process may take it in
between; Triton then logs ``already in use`` and exits. These helpers recognise
exactly that failure and start again on fresh ports; any other failure is raised
at once. No test uses a fixed port.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from resnet_deploy.serve.environment import find_free_port

T = TypeVar("T")
CLASH = "already in use"  # what Triton logs when a port it was given is taken
ATTEMPTS = 4


class PortClash(Exception):
    """A port picked free was taken by another process before the server bound it."""


def clashed(*texts: str | Path | None) -> bool:
    """True if any of these log texts (or log files) says a port was already in use."""
    for text in texts:
        if isinstance(text, Path):
            text = text.read_text(errors="replace") if text.is_file() else ""
        if text and CLASH in text:
            return True
    return False


def retry_on_port_clash(start: Callable[[int], T], attempts: int = ATTEMPTS) -> T:
    """``start(attempt)`` until it does not raise PortClash (the number lets callers use fresh logs)."""
    last: PortClash | None = None
    for attempt in range(attempts):
        try:
            return start(attempt)
        except PortClash as exc:
            last = exc
    raise AssertionError(f"ports were taken by other processes {attempts} times in a row: {last}")


def distinct_free_ports(n: int) -> list[int]:
    """``n`` different ports the OS reports free now (to be bound soon, see the module doc)."""
    ports: list[int] = []
    while len(ports) < n:
        port = find_free_port()
        if port not in ports:
            ports.append(port)
    return ports

"""A null-safe view of ``QuantizeConfig.progress``.

Like the export stage, ``progress`` may be an ``Output``-like object (``info``,
``status``, ``progress``: the CLI passes its ``cli._common.Output``), a plain
callback taking one message string, or None.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any


class Progress:
    """Forwards to an ``Output``-like object (info/status/progress) or does nothing."""

    def __init__(self, sink: Any = None) -> None:
        self.sink = sink
        self.notes: list[str] = []

    def info(self, message: str) -> None:
        if self.sink is not None and hasattr(self.sink, "info"):
            self.sink.info(message)
        elif callable(self.sink):
            self.sink(message)

    def note(self, message: str) -> None:
        """Something the user should know; also kept for the result (JSON)."""
        self.notes.append(message)
        self.info(f"[yellow]note:[/yellow] {message}")

    @contextlib.contextmanager
    def status(self, message: str) -> Iterator[None]:
        if self.sink is not None and hasattr(self.sink, "status"):
            with self.sink.status(message):
                yield
        else:
            if callable(self.sink):
                self.sink(message)
            yield

    @contextlib.contextmanager
    def bar(self, description: str, total: int | None) -> Iterator[Callable[[int], None]]:
        if self.sink is not None and hasattr(self.sink, "progress"):
            with self.sink.progress(description, total=total) as advance:
                yield advance
        else:
            yield lambda n=1: None

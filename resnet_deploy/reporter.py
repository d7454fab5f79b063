"""One channel for what library code tells the user: info, note, warn, status, progress.

Library code talks plain text to a ``Reporter`` and never formats for a
terminal; the CLI's ``Output`` implements the protocol with rich, tests and
services can pass ``NullReporter`` (the default) or ``CallbackReporter``.
Polygraphy's single ``G_LOGGER`` is the model: one place decides how a message
looks, every module just says it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Protocol, runtime_checkable

Advance = Callable[[int], None]


@runtime_checkable
class Reporter(Protocol):
    """What library code may say. Messages are plain text, one line each."""

    def info(self, message: str) -> None:
        """Ordinary progress text."""

    def note(self, message: str) -> None:
        """Something the user should know about the result (kept for --json summaries)."""

    def warn(self, message: str) -> None:
        """Something probably wrong that did not stop the work."""

    def status(self, message: str) -> contextlib.AbstractContextManager[None]:
        """A step without a natural count (a spinner while the block runs)."""

    def progress(self, description: str, total: int | None) -> contextlib.AbstractContextManager[Advance]:
        """A step with a count; yields ``advance(n)``."""


class NullReporter:
    """Says nothing; the default for library calls and services."""

    def info(self, message: str) -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        pass

    @contextlib.contextmanager
    def status(self, message: str) -> Iterator[None]:
        yield

    @contextlib.contextmanager
    def progress(self, description: str, total: int | None) -> Iterator[Advance]:
        yield lambda n=1: None


class CallbackReporter(NullReporter):
    """Sends every message to ``fn`` as plain text ("note: ...", "warning: ...")."""

    def __init__(self, fn: Callable[[str], None]) -> None:
        self.fn = fn

    def info(self, message: str) -> None:
        self.fn(message)

    def note(self, message: str) -> None:
        self.fn(f"note: {message}")

    def warn(self, message: str) -> None:
        self.fn(f"warning: {message}")

    @contextlib.contextmanager
    def status(self, message: str) -> Iterator[None]:
        self.fn(message)
        yield


class RecordingReporter(NullReporter):
    """Keeps every message as (kind, text); for tests and --json summaries."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    def info(self, message: str) -> None:
        self.messages.append(("info", message))

    def note(self, message: str) -> None:
        self.messages.append(("note", message))

    def warn(self, message: str) -> None:
        self.messages.append(("warn", message))

    @contextlib.contextmanager
    def status(self, message: str) -> Iterator[None]:
        self.messages.append(("status", message))
        yield

    def texts(self, kind: str | None = None) -> list[str]:
        return [t for k, t in self.messages if kind is None or k == kind]


class NoteKeeper:
    """Forwards everything to ``inner`` and keeps a copy of each note (for --json summaries)."""

    def __init__(self, inner: Reporter | None = None) -> None:
        self.inner: Reporter = inner if inner is not None else NullReporter()
        self.notes: list[str] = []

    def info(self, message: str) -> None:
        self.inner.info(message)

    def note(self, message: str) -> None:
        self.notes.append(message)
        self.inner.note(message)

    def warn(self, message: str) -> None:
        self.inner.warn(message)

    def status(self, message: str) -> contextlib.AbstractContextManager[None]:
        return self.inner.status(message)

    def progress(self, description: str, total: int | None) -> contextlib.AbstractContextManager[Advance]:
        return self.inner.progress(description, total)


def as_reporter(obj: Reporter | Callable[[str], None] | None) -> Reporter:
    """A Reporter from a Reporter, a plain ``fn(message)`` callback, or None."""
    if obj is None:
        return NullReporter()
    if isinstance(obj, Reporter):
        return obj
    if callable(obj):
        return CallbackReporter(obj)
    raise TypeError(f"expected a Reporter or a callable, got {type(obj).__name__}")

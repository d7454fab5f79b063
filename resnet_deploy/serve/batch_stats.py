"""What the image model's callable did while a server ran: batches, their size, and its busy share.

Serving throughput on a small host is set less by the model than by what happens between
Triton batches: PyTriton hands each batch from Triton to the Python stub to our process and
back, and while that runs our callable waits. Triton's own metrics sum compute time per
request, which cannot give the callable's busy time once batches differ in size, so the
callable keeps its own tally. ``serve`` prints it when it stops (``--json``: a
``{"status": "stopped", ...}`` line) and ``benchmarks/end_to_end.py`` reports it beside the
serve figure.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class BatchStats:
    """A thread-safe tally of callable runs (every instance adds to the same one)."""

    batches: int = 0
    items: int = 0
    busy_s: float = 0.0
    first_start: float | None = None
    last_end: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, items: int, start: float, end: float) -> None:
        """One callable run of ``items`` images from ``start`` to ``end`` (``time.perf_counter``)."""
        with self._lock:
            self.batches += 1
            self.items += items
            self.busy_s += end - start
            self.first_start = start if self.first_start is None else min(self.first_start, start)
            self.last_end = end if self.last_end is None else max(self.last_end, end)

    def timed(self, items: int) -> _Timer:
        """``with stats.timed(n): ...`` records one run around the block."""
        return _Timer(self, items)

    def to_dict(self) -> dict[str, Any]:
        """Counts, mean batch size, and (from the first batch's start to the last one's end) the share of
        time a callable ran and the mean wait between batches; summed over instances."""
        span = (self.last_end - self.first_start) if self.batches and self.last_end and self.first_start else 0.0
        out: dict[str, Any] = {"batches": self.batches, "items": self.items,
                               "mean_batch": round(self.items / self.batches, 3) if self.batches else None,
                               "span_s": round(span, 3), "busy_s": round(self.busy_s, 3)}
        out["busy_share"] = round(self.busy_s / span, 4) if span > 0 else None
        out["mean_gap_ms"] = (round(1e3 * max(0.0, span - self.busy_s) / (self.batches - 1), 3)
                              if self.batches > 1 else None)
        return out

    def line(self) -> str:
        """One human line for the server's stop message."""
        d = self.to_dict()
        if not d["batches"]:
            return "image model: no requests"
        text = f"image model: {d['items']} images in {d['batches']} batches (mean {d['mean_batch']:.2f})"
        if d["busy_share"] is not None:
            text += (f"; callable busy {100 * d['busy_share']:.0f} % of {d['span_s']:.1f} s, "
                     f"{d['mean_gap_ms']:.1f} ms between batches on average")
        return text


class _Timer:
    def __init__(self, stats: BatchStats, items: int) -> None:
        self.stats, self.items = stats, items

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.stats.record(self.items, self.start, time.perf_counter())

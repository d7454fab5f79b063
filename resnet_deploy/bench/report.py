"""The benchmark report: plain dataclasses -> JSON. Every other format renders this JSON.

One ``BackendRow`` per backend spec (ok, skipped with the reason, or failed with
the error) and one ``BenchReport`` per run, with the machine, the exact command
and configuration, the harness overhead and the peer comparison. ``summary()``
is the small part that goes into ``manifest.bench`` (no raw samples).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from resnet_deploy.artifact import BenchRowSummary, BenchSummary
from resnet_deploy.bench.stats import BatchResult

SCHEMA = "resnet-deploy.bench/1"
PEER_BACKEND = "openvino-nncf"
RAW_SAMPLES_CAP = 5000  # batch-1 samples kept in the JSON for plots


@dataclass
class BackendRow:
    """One backend spec's results; ``status`` is ok | skipped | failed."""

    spec: str
    backend: str
    status: str
    key: str | None = None
    reason: str | None = None
    file: str | None = None
    precision: str | None = None
    device: str = "cpu"
    threads: int | None = None
    peer: bool = False
    activate_s: float | None = None
    batches: list[BatchResult] = field(default_factory=list)
    skipped_batches: dict[str, str] = field(default_factory=dict)
    scenarios: dict[str, Any] = field(default_factory=dict)
    memory: dict[str, Any] | None = None
    drift: dict[str, Any] | None = None
    samples_ms: list[float] = field(default_factory=list)  # raw batch-1 latencies
    noise: dict[str, Any] | None = None  # other processes' CPU use while timing (bench.noise)
    isolation: dict[str, Any] | None = None  # the timed child process (bench.isolated)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def at(self, batch: int) -> BatchResult | None:
        return next((b for b in self.batches if b.batch == batch), None)

    @property
    def p50_ms(self) -> float | None:
        b = self.at(1)
        return b.latency.p50 if b else None

    @property
    def best(self) -> BatchResult | None:
        return max(self.batches, key=lambda b: b.throughput) if self.batches else None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["batches"] = [b.to_dict() for b in self.batches]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BackendRow:
        d = dict(d)
        d["batches"] = [BatchResult.from_dict(b) for b in d.get("batches", [])]
        return cls(**d)


@dataclass
class BenchReport:
    """A whole benchmark run (see module docstring)."""

    artifact: str
    model: dict[str, Any]
    machine: dict[str, Any]
    config: dict[str, Any]
    rows: list[BackendRow] = field(default_factory=list)
    reference: str | None = None
    harness: dict[str, Any] = field(default_factory=dict)
    peer_comparison: dict[str, Any] | None = None
    selection: dict[str, Any] | None = None
    live_server: dict[str, Any] | None = None  # the Server scenario against a real serve (bench.live_server)
    notes: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    created_at: str = ""
    seconds: float = 0.0
    schema: str = SCHEMA

    def row(self, spec: str) -> BackendRow | None:
        return next((r for r in self.rows if r.spec == spec), None)

    @property
    def ok_rows(self) -> list[BackendRow]:
        return [r for r in self.rows if r.ok]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["rows"] = [r.to_dict() for r in self.rows]
        return {"schema": d.pop("schema"), **d}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BenchReport:
        d = dict(d)
        d["rows"] = [BackendRow.from_dict(r) for r in d.get("rows", [])]
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=_default)

    def summary_record(self) -> BenchSummary:
        """What goes into ``manifest.bench``: headline numbers per row, no raw samples."""
        m = self.machine
        return BenchSummary(
            created_at=self.created_at,
            report=self.files.get("json"),
            machine={k: m.get(k) for k in ("hostname", "cpu_model", "cores_usable", "cpu_flags", "gpus")},
            threads=self.config.get("threads"),
            reference=self.reference,
            rows={r.spec: _row_summary(r) for r in self.rows},
            peer_comparison=self.peer_comparison,
            harness_overhead_pct=self.harness.get("overhead_pct"),
        )

    def summary(self) -> dict[str, Any]:
        """``summary_record`` as JSON."""
        return self.summary_record().to_dict()


def _default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def load_report(path: str | os.PathLike[str]) -> BenchReport:
    return BenchReport.from_dict(json.loads(Path(path).read_text()))


def _best_by(rows: list[BackendRow], batch: int, metric: str) -> BackendRow | None:
    have = [r for r in rows if r.at(batch) is not None]
    if not have:
        return None
    if metric == "latency":
        return min(have, key=lambda r: r.at(batch).latency.p50)  # type: ignore[union-attr]
    return max(have, key=lambda r: r.at(batch).throughput)  # type: ignore[union-attr]


def peer_comparison(rows: list[BackendRow], throughput_batch: int = 16) -> dict[str, Any] | None:
    """Our best INT8 row vs the NNCF peer: batch-1 p50 ratio (<1 = we are faster) and
    batch-``throughput_batch`` images/s ratio (>1 = we are faster), same run, same threads.

    Falls back to all our rows when none is INT8, and to the largest batch both
    measured when ``throughput_batch`` was not measured.
    """
    peer = next((r for r in rows if r.peer and r.ok), None)
    if peer is None:
        return None
    ours = [r for r in rows if r.ok and not r.peer]
    int8 = [r for r in ours if r.precision == "int8"]
    pool, scope = (int8, "int8") if int8 else (ours, "all")
    out: dict[str, Any] = {"peer": peer.spec, "scope": scope}
    fast = _best_by(pool, 1, "latency")
    if fast is not None and peer.at(1) is not None:
        a, b = fast.at(1).latency.p50, peer.at(1).latency.p50  # type: ignore[union-attr]
        out["latency"] = {"backend": fast.spec, "batch": 1, "ours_p50_ms": a, "peer_p50_ms": b,
                          "ratio": a / b if b > 0 else None}
    common = sorted({b.batch for b in peer.batches} & {b.batch for r in pool for b in r.batches})
    if common:
        bs = throughput_batch if throughput_batch in common else common[-1]
        top = _best_by(pool, bs, "throughput")
        if top is not None:
            a, b = top.at(bs).throughput, peer.at(bs).throughput  # type: ignore[union-attr]
            out["throughput"] = {"backend": top.spec, "batch": bs, "ours": a, "peer": b,
                                 "ratio": a / b if b > 0 else None}
    same = same_runtime(ours, peer, throughput_batch)
    if same:
        out["same_runtime"] = same
    return out


def same_runtime(ours: list[BackendRow], peer: BackendRow, throughput_batch: int = 16) -> dict[str, Any] | None:
    """Our OpenVINO INT8 row vs the peer (also OpenVINO): the file forms compared on one runtime.

    The row is the one OpenVINO prefers (``OpenVINORunner.preferred_keys``: the
    ``int8-openvino`` form when the artifact has it), whether or not it is our fastest.
    """
    from resnet_deploy.runtime.openvino import OpenVINORunner

    order = OpenVINORunner.preferred_keys
    rows = [r for r in ours if r.backend == "openvino" and r.precision == "int8" and r.key in order]
    if not rows:
        return None
    row = min(rows, key=lambda r: order.index(r.key or ""))
    out: dict[str, Any] = {"backend": row.spec}
    if row.at(1) is not None and peer.at(1) is not None:
        a, b = row.at(1).latency.p50, peer.at(1).latency.p50  # type: ignore[union-attr]
        out["latency"] = {"batch": 1, "ours_p50_ms": a, "peer_p50_ms": b, "ratio": a / b if b > 0 else None}
    bs = throughput_batch if row.at(throughput_batch) and peer.at(throughput_batch) else None
    if bs is not None:
        a, b = row.at(bs).throughput, peer.at(bs).throughput  # type: ignore[union-attr]
        out["throughput"] = {"batch": bs, "ours": a, "peer": b, "ratio": a / b if b > 0 else None}
    return out


def _row_summary(r: BackendRow) -> BenchRowSummary:
    """One row's headline numbers: batch-1 latency, best throughput, drift, memory, server QPS."""
    if not r.ok:
        return BenchRowSummary(status=r.status, reason=r.reason)
    s = BenchRowSummary(status=r.status)
    b1, best = r.at(1), r.best
    if b1 is not None:
        s.p50_ms, s.p90_ms, s.p99_ms = b1.latency.p50, b1.latency.p90, b1.latency.p99
    if best is not None:
        s.best_throughput, s.best_batch = best.throughput, best.batch
    drift = r.drift or {}
    s.top1, s.top5, s.agreement = drift.get("top1"), drift.get("top5"), drift.get("agreement")
    s.max_abs, s.cosine_mean = drift.get("max_abs"), drift.get("cosine_mean")
    if r.memory:
        s.rss_peak_mb, s.gpu_peak_mb = r.memory.get("rss_peak_mb"), r.memory.get("gpu_peak_mb")
    if "server" in r.scenarios:
        s.server_max_qps = r.scenarios["server"].get("max_rate_qps")
    return s

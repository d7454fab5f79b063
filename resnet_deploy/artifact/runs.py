"""Run-side sections: engine build records, the last benchmark's summary, the selection.

``EngineRecord`` is what ``runtime.trt_compat`` checks before a plan file is
deserialised; ``Selection`` is what ``runtime.load(backend="auto")`` follows.
Both are typed so a hand-edited manifest fails on read with the field's name,
not later inside TensorRT or the runner.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from resnet_deploy.artifact.core import PRECISIONS, now_iso
from resnet_deploy.artifact.fields import Fields, a_str, field_error, is_int, opt_metric, reader

NO_GPU_NAME = "built without a GPU"


def _dim(name: str, v: Any) -> int:
    if not is_int(v) or v < 1:
        raise field_error(name, "a positive integer", v)
    return v


def _profile_entry(name: str, v: Any) -> dict[str, list[int]]:
    """{min, opt, max}: each an [N, C, H, W] shape of positive integers."""
    f = Fields(v, name)
    return {k: f.list(k, _dim, length=4) for k in ("min", "opt", "max")}


@dataclass
class EngineRecord:
    """One ``manifest.engines`` record: where a TensorRT plan was built and what it needs."""

    path: str
    family: str  # "tensorrt" | "tensorrt-rtx"
    library_version: str
    precision: str
    key: str  # source file key: fp32, fp16, int8-tensorrt
    source: str  # the ONNX file it was built from
    source_onnx_sha256: str
    profile: dict[str, dict[str, list[int]]]
    build_seconds: float
    gpu_name: str = NO_GPU_NAME
    compute_capability: str | None = None
    hardware_compatibility: str = "none"  # "none" | "ampere_plus" | "rtx-default"
    version_compatible: bool = False
    target_compute_capabilities: list[str] = field(default_factory=list)  # TensorRT-RTX only
    builder_optimization_level: int | None = None
    workspace_mib: int | None = None
    parser_version: str | None = None
    built_at: str = field(default_factory=now_iso)

    @classmethod
    def read(cls, f: Fields) -> EngineRecord:
        return cls(
            path=f.path("path"),
            family=f.str("family", nonempty=True),
            library_version=f.str("library_version", nonempty=True),
            precision=f.str("precision", choices=PRECISIONS),
            key=f.str("key", nonempty=True),
            source=f.path("source"),
            source_onnx_sha256=f.str("source_onnx_sha256"),
            profile=f.map("profile", _profile_entry),
            build_seconds=f.num("build_seconds", min=0),
            gpu_name=f.str("gpu_name", NO_GPU_NAME),
            compute_capability=f.str("compute_capability", None),
            hardware_compatibility=f.str("hardware_compatibility", "none"),
            version_compatible=f.bool("version_compatible", False),
            target_compute_capabilities=f.list("target_compute_capabilities", a_str, []),
            builder_optimization_level=f.int("builder_optimization_level", None, min=0),
            workspace_mib=f.int("workspace_mib", None, min=1),
            parser_version=f.str("parser_version", None),
            built_at=f.str("built_at", ""),
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "engines[]") -> EngineRecord:
        return cls.read(Fields(d, where))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_ROW_NUMBERS = ("p50_ms", "p90_ms", "p99_ms", "best_throughput", "top1", "top5", "agreement",
                "max_abs", "cosine_mean", "rss_peak_mb", "gpu_peak_mb", "server_max_qps")


@dataclass
class BenchRowSummary:
    """Headline numbers of one backend spec in the last benchmark (None: not measured)."""

    status: str
    reason: str | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    best_throughput: float | None = None
    best_batch: int | None = None
    top1: float | None = None
    top5: float | None = None
    agreement: float | None = None
    max_abs: float | None = None
    cosine_mean: float | None = None
    rss_peak_mb: float | None = None
    gpu_peak_mb: float | None = None
    server_max_qps: float | None = None

    @classmethod
    def read(cls, f: Fields) -> BenchRowSummary:
        nums = {k: opt_metric(f.name(k), f.data.get(k)) for k in _ROW_NUMBERS}
        return cls(status=f.str("status", choices=("ok", "skipped", "failed")),
                   reason=f.str("reason", None), best_batch=f.int("best_batch", None, min=1), **nums)

    def to_dict(self) -> dict[str, Any]:
        """Only what was measured, as the benchmark wrote it."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass
class BenchSummary:
    """The last benchmark in brief (the full report is the ``report`` JSON file)."""

    created_at: str = ""
    report: str | None = None  # path of the report JSON (may lie outside the artifact: --out)
    machine: dict[str, Any] = field(default_factory=dict)
    threads: int | None = None
    reference: str | None = None
    rows: dict[str, BenchRowSummary] = field(default_factory=dict)
    peer_comparison: dict[str, Any] | None = None
    harness_overhead_pct: float | None = None

    @classmethod
    def read(cls, f: Fields) -> BenchSummary:
        return cls(
            created_at=f.str("created_at", ""),
            report=f.str("report", None),
            machine=f.obj("machine", {}),
            threads=f.int("threads", None, min=1),
            reference=f.str("reference", None),
            rows=f.map("rows", reader(BenchRowSummary), {}),
            peer_comparison=f.obj("peer_comparison", None),
            harness_overhead_pct=f.num("harness_overhead_pct", None, finite=False),
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "bench") -> BenchSummary:
        return cls.read(Fields(d, where))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["rows"] = {k: r.to_dict() for k, r in self.rows.items()}
        return d


@dataclass
class Selection:
    """The recorded choice of backend, followed by ``runtime.load(backend="auto")``.

    ``bench --select`` writes one with strategy min-latency/max-throughput (followed
    before anything else); ``export --int8``/``quantize`` write one with strategy
    ``probe`` that only ranks the CPU INT8 candidates (``metrics`` maps each probed
    spec to its batch-1 p50 in ms, None when it failed). ``host`` is the CPU
    signature (``host.cpu_signature``) of the machine that measured it.
    """

    backend: str  # a backend spec such as onnxruntime:int8-cpu
    strategy: str = ""
    file: str | None = None
    max_drop: float | None = None
    reason: str = ""
    metrics: dict[str, float | None] = field(default_factory=dict)
    threads: int | None = None
    created_at: str = ""
    host: dict[str, Any] | None = None  # CPU signature where it was measured; None: not recorded

    @classmethod
    def read(cls, f: Fields) -> Selection:
        return cls(
            backend=f.str("backend", nonempty=True),
            strategy=f.str("strategy", ""),
            file=f.path("file", None),
            max_drop=f.num("max_drop", None, min=0),
            reason=f.str("reason", ""),
            metrics=f.map("metrics", opt_metric, {}),
            threads=f.int("threads", None, min=1),
            created_at=f.str("created_at", ""),
            host=f.obj("host", None),
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "selection") -> Selection:
        return cls.read(Fields(d, where))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

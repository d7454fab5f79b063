"""Build-side result sections: parity, calibration, quantization (typed, checked on read).

Drift numbers use ``resnet_deploy.metrics.Drift``, the one record shared with
bench and reports; schema-1 artifacts written before the names were unified
(``cosine``/``top1_fp32``/``top5_fp32``) are read through ``Drift.from_dict`` and
written back with the new names.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from resnet_deploy.artifact.fields import Fields, a_metric, a_str, an_int, field_error, reader
from resnet_deploy.metrics import LEGACY_DRIFT_KEYS, Drift

CALIBRATION_METHODS = ("entropy", "minmax", "percentile")


@dataclass
class ParityRecord:
    """How closely one exported/converted file reproduces the reference logits."""

    max_abs: float
    max_rel: float
    rel_to_range: float
    top1_agreement: float
    n: int
    passed: bool
    tolerance: dict[str, float] = field(default_factory=dict)

    @classmethod
    def read(cls, f: Fields) -> ParityRecord:
        return cls(
            max_abs=f.num("max_abs", finite=False),
            max_rel=f.num("max_rel", finite=False),
            rel_to_range=f.num("rel_to_range", finite=False),
            top1_agreement=f.num("top1_agreement", min=0, max=1),
            n=f.int("n", min=0),
            passed=f.bool("passed"),
            tolerance=f.map("tolerance", a_metric, {}),
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "parity") -> ParityRecord:
        return cls.read(Fields(d, where))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def read_drift(f: Fields) -> Drift:
    """A ``metrics.Drift`` from its manifest record, legacy key names included."""
    data = {LEGACY_DRIFT_KEYS.get(k, k): v for k, v in f.data.items()}
    g = Fields(data, f.where)
    return Drift(
        n=g.int("n", min=0),
        labelled=g.bool("labelled"),
        agreement=g.num("agreement", min=0, max=1),
        max_abs=g.num("max_abs", finite=False),
        cosine_mean=g.num("cosine_mean", finite=False),
        mean_abs=g.num("mean_abs", None, finite=False),
        cosine_min=g.num("cosine_min", None, finite=False),
        top1=g.num("top1", None, min=0, max=1),
        top5=g.num("top5", None, min=0, max=1),
        ref_top1=g.num("ref_top1", None, min=0, max=1),
        ref_top5=g.num("ref_top5", None, min=0, max=1),
    )


def as_drift(d: Drift | dict[str, Any], where: str = "drift") -> Drift:
    """A Drift from a Drift or a drift dict (either key set), checked like a manifest record."""
    return d if isinstance(d, Drift) else read_drift(Fields(d, where))


@dataclass
class Calibration:
    """The one calibration run every INT8 target's ranges come from (``calibration.json``)."""

    method: str
    count: int
    dataset: str
    dataset_sha256: str
    file: str = "calibration.json"
    percentile: float | None = None
    seconds: float = 0.0
    tensors: int = 0

    @classmethod
    def read(cls, f: Fields) -> Calibration:
        return cls(
            method=f.str("method", choices=CALIBRATION_METHODS),
            count=f.int("count", min=1),
            dataset=f.str("dataset"),
            dataset_sha256=f.str("dataset_sha256"),
            file=f.path("file", "calibration.json"),
            percentile=f.num("percentile", None, min=0, max=100),
            seconds=f.num("seconds", 0.0, min=0),
            tensors=f.int("tensors", 0, min=0),
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "calibration") -> Calibration:
        return cls.read(Fields(d, where))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class QuantTarget:
    """How one INT8 target's model was emitted (``quantization.targets.<target>``)."""

    file: str
    activations: str = ""
    weights: str = ""
    format: str = "QDQ"
    description: str = ""
    size: int = 0
    size_ratio: float = 0.0
    fusion: dict[str, int] | None = None  # cpu only: Conv fused into int8 kernels by ORT
    max_drop: float | None = None
    rounds: int = 1
    created_at: str = ""

    @classmethod
    def read(cls, f: Fields) -> QuantTarget:
        return cls(
            file=f.path("file"),
            activations=f.str("activations", ""),
            weights=f.str("weights", ""),
            format=f.str("format", "QDQ"),
            description=f.str("description", ""),
            size=f.int("size", 0, min=0),
            size_ratio=f.num("size_ratio", 0.0, min=0),
            fusion=f.map("fusion", an_int, None),
            max_drop=f.num("max_drop", None, min=0),
            rounds=f.int("rounds", 1, min=1),
            created_at=f.str("created_at", ""),
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Fp16Record:
    """The FP16 model (FP32 inputs/outputs kept) and its parity against FP32."""

    file: str
    parity: ParityRecord
    keep_io_types: bool = True

    @classmethod
    def read(cls, f: Fields) -> Fp16Record:
        return cls(
            file=f.path("file"),
            parity=f.section("parity", ParityRecord.read),
            keep_io_types=f.bool("keep_io_types", True),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "keep_io_types": self.keep_io_types, "parity": self.parity.to_dict()}


@dataclass
class Quantization:
    """Everything ``quantize`` recorded: per target, drift per model key, FP16, the report file."""

    targets: dict[str, QuantTarget] = field(default_factory=dict)
    drift: dict[str, Drift] = field(default_factory=dict)  # key: int8-cpu, int8-tensorrt, int8-openvino
    excluded_nodes: dict[str, list[str]] = field(default_factory=dict)
    fp16: Fp16Record | None = None
    report: str | None = None

    def drop_target(self, target: str) -> None:
        """Forget everything recorded about one INT8 target."""
        self.targets.pop(target, None)
        self.drift.pop(f"int8-{target}", None)
        self.drift.pop(f"int8-{target}-raw", None)
        self.excluded_nodes.pop(target, None)

    @classmethod
    def read(cls, f: Fields) -> Quantization:
        return cls(
            targets=f.map("targets", reader(QuantTarget), {}),
            drift=f.map("drift", lambda n, v: read_drift(Fields(v, n)), {}),
            excluded_nodes=f.map("excluded_nodes", _names, {}),
            fp16=f.section("fp16", Fp16Record.read, None),
            report=f.path("report", None),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "targets": {k: t.to_dict() for k, t in self.targets.items()},
            "drift": {k: d.to_dict() for k, d in self.drift.items()},
            "excluded_nodes": {k: list(v) for k, v in self.excluded_nodes.items()},
            "fp16": self.fp16.to_dict() if self.fp16 else None,
            "report": self.report,
        }


def _names(name: str, v: Any) -> list[str]:
    if not isinstance(v, list):
        raise field_error(name, "a list of node names", v)
    return [a_str(f"{name}[{i}]", x) for i, x in enumerate(v)]

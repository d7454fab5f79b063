"""The export-time sections: what model, how to feed it, which files (typed, checked on read)."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import re
from dataclasses import dataclass, field
from typing import Any

from resnet_deploy.artifact.fields import Fields, a_str, check_number, field_error, is_int

FORMATS = (
    "onnx",
    "torchscript",
    "exported-program",
    "tensorrt-engine",
    "openvino-ir",
    "json",
    "labels",
    "other",
)
PRECISIONS = ("fp32", "fp16", "int8")
CHANNEL_ORDERS = ("RGB", "BGR")
INTERPOLATIONS = ("bilinear", "bicubic", "nearest", "lanczos")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def _sha256(f: Fields, key: str, default: Any = "") -> Any:
    """A hex sha256, or the default ("" / None) when not recorded."""
    v = f.str(key, default)
    if v and not _SHA256.fullmatch(v):
        raise field_error(f.name(key), "a 64-digit lowercase hex sha256", v)
    return v


@dataclass
class FileEntry:
    """One file of the artifact (path relative to the artifact directory)."""

    path: str
    format: str
    precision: str = "fp32"
    target: str | None = None  # INT8 Q/DQ flavour: "cpu" (U8S8), "tensorrt" (S8S8), "openvino"
    size: int = 0
    sha256: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # The file's own input contract when it differs from the manifest's (raw-pixel files:
    # uint8 NHWC); None means ``Manifest.input``.
    input: InputSpec | None = None

    @property
    def raw(self) -> bool:
        """A raw-pixel file: uint8 NHWC input with the preprocessing folded in (``raw_input``)."""
        return self.input is not None and self.input.dtype == "uint8"

    @property
    def key(self) -> str:
        """Short name used in reports and backend specs, e.g. ``fp32``, ``int8-cpu``, ``int8-cpu-raw``."""
        base = f"{self.precision}-{self.target}" if self.target else self.precision
        return base + ("-raw" if self.raw else "")

    @classmethod
    def read(cls, f: Fields) -> FileEntry:
        return cls(
            path=f.path("path"),
            format=f.str("format", choices=FORMATS),
            precision=f.str("precision", "fp32", choices=PRECISIONS),
            target=f.str("target", None, nonempty=True),
            size=f.int("size", 0, min=0),
            sha256=_sha256(f, "sha256"),
            extra=f.obj("extra", {}),
            input=f.section("input", InputSpec.read, None),
        )

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if self.input is None:  # files without their own contract are written as before
            d.pop("input")
        return d


def _shape_dim(name: str, v: Any) -> int:
    if not is_int(v) or (v < 1 and v != -1):
        raise field_error(name, "a positive integer or -1 (dynamic)", v)
    return v


@dataclass
class InputSpec:
    """The model's input/output contract: names, layout, dtype, shape (-1 = dynamic batch)."""

    name: str = "input"
    output_name: str = "logits"
    layout: str = "NCHW"
    dtype: str = "float32"
    shape: list[int] = field(default_factory=lambda: [-1, 3, 224, 224])
    batch_axis_name: str = "batch"

    @property
    def channels(self) -> int:
        return int(self.shape[3] if self.layout == "NHWC" else self.shape[1])

    @property
    def size(self) -> int:
        return int(self.shape[1] if self.layout == "NHWC" else self.shape[2])

    @classmethod
    def read(cls, f: Fields) -> InputSpec:
        shape = f.list("shape", _shape_dim, [-1, 3, 224, 224], length=4)
        if -1 in shape[1:]:
            raise field_error(f.name("shape"), "[N, C, H, W] (or [N, H, W, C]) with only N dynamic (-1)", shape)
        return cls(
            name=f.str("name", "input", nonempty=True),
            output_name=f.str("output_name", "logits", nonempty=True),
            layout=f.str("layout", "NCHW", nonempty=True),
            dtype=f.str("dtype", "float32", nonempty=True),
            shape=shape,
            batch_axis_name=f.str("batch_axis_name", "batch", nonempty=True),
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _mean(name: str, v: Any) -> float:
    return check_number(name, v)


def _std(name: str, v: Any) -> float:
    return check_number(name, v, positive=True)


@dataclass
class Preprocessing:
    """How a raw image becomes the model's input (see ``resnet_deploy.preprocess``)."""

    resize: int = 256  # shorter side is resized to this
    crop: int = 224  # then a centre crop of crop x crop
    mean: list[float] = field(default_factory=lambda: [0.485, 0.456, 0.406])
    std: list[float] = field(default_factory=lambda: [0.229, 0.224, 0.225])
    channel_order: str = "RGB"
    interpolation: str = "bilinear"
    scale: float = 1.0 / 255.0  # uint8 -> [0, 1] before mean/std

    @classmethod
    def for_input_size(cls, size: int) -> Preprocessing:
        """ImageNet convention scaled to ``size``: resize to size*256/224, centre-crop size."""
        return cls(resize=int(size * 256 / 224), crop=int(size))

    @classmethod
    def read(cls, f: Fields) -> Preprocessing:
        d = cls()
        return cls(
            resize=f.int("resize", d.resize, min=1),
            crop=f.int("crop", d.crop, min=1),
            mean=f.list("mean", _mean, d.mean, length=3),
            std=f.list("std", _std, d.std, length=3),
            channel_order=f.str("channel_order", d.channel_order, choices=CHANNEL_ORDERS),
            interpolation=f.str("interpolation", d.interpolation, choices=INTERPOLATIONS),
            scale=f.num("scale", d.scale, positive=True),
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class ModelInfo:
    """What model this artifact holds."""

    arch: str
    num_classes: int
    variant: str = "v1.5"
    params: int = 0
    gmacs: float = 0.0
    checkpoint_sha256: str | None = None
    labels: list[str] | None = None

    @classmethod
    def read(cls, f: Fields) -> ModelInfo:
        return cls(
            arch=f.str("arch", nonempty=True),
            num_classes=f.int("num_classes", min=1),
            variant=f.str("variant", "v1.5", nonempty=True),
            params=f.int("params", 0, min=0),
            gmacs=f.num("gmacs", 0.0, min=0),
            checkpoint_sha256=_sha256(f, "checkpoint_sha256", None),
            labels=f.list("labels", a_str, None),
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

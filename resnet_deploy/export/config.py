"""Export options and result, and the cheap checks that run before any work starts.

Everything a user can get wrong (format names, opset, input size, class count,
label file, weights path, output directory) is checked here without importing
torch, so a typo costs milliseconds and leaves nothing behind.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resnet_deploy.artifact import MANIFEST_NAME, FileEntry, Manifest, Preprocessing
from resnet_deploy.atomic import check_output_dir
from resnet_deploy.checks import check_bool, check_int, check_nonempty_str, check_number, parse_int
from resnet_deploy.errors import ConfigError, ModelError, ResNetDeployError
from resnet_deploy.paths import file_problem

if TYPE_CHECKING:
    from resnet_deploy.models.archs import ArchSpec

# format name -> (file name inside the artifact, manifest format)
EXPORT_FORMATS: dict[str, str] = {
    "onnx": "model.fp32.onnx",
    "torchscript": "model.torchscript.pt",
    "exported-program": "model.pt2",
}
DEFAULT_FORMATS: tuple[str, ...] = ("onnx", "torchscript", "exported-program")
_ALIASES = {
    "ts": "torchscript",
    "jit": "torchscript",
    "pt2": "exported-program",
    "exported_program": "exported-program",
    "exportedprogram": "exported-program",
    "torch-export": "exported-program",
}
MIN_INPUT_SIZE = 32
MAX_INPUT_SIZE = 4096

@dataclass
class ExportConfig:
    """What to export and where; see ``export_artifact``."""

    arch: str
    weights: str | os.PathLike[str] | None = None
    num_classes: int | None = None  # None: from the checkpoint's head, the labels, or the arch
    input_size: int | None = None  # None: the architecture's default (224, or 32 for CIFAR nets)
    variant: str = "v1.5"  # "v1.5" (torchvision, stride on the 3x3) or "v1" (paper)
    formats: str | Sequence[str] = ("onnx",)  # names or "onnx,torchscript"
    opset: int | None = None  # None: the dynamo exporter's default
    out: str | os.PathLike[str] | None = None  # None: artifacts/<arch>
    force: bool = False
    new_head: bool = False
    preprocessing: Preprocessing | None = None  # None: Preprocessing.for_input_size(S)
    labels: str | os.PathLike[str] | Sequence[str] | None = None  # file (one per line) or list
    parity_data: Any = None  # data spec (str/path) or float32 NCHW array, added to the parity batch
    parity_limit: int = 32  # images taken from parity_data
    parity_rel_tol: float = 1e-3  # FP32 gate: max |diff| <= parity_rel_tol x reference logit range

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Value checks (no file is read): a config with a typo cannot be built."""
        from resnet_deploy.export.onnx import check_opset

        spec = _arch_spec(self.arch)
        parse_formats(self.formats)
        check_int(self.opset, "opset", allow_none=True, hint="pass e.g. 18, or leave --opset out")
        check_opset(self.opset)
        size = check_input_size(self.input_size, spec.default_input_size)
        check_variant(self.variant)
        check_int(self.num_classes, "num_classes", maximum=1_000_000, allow_none=True, hint="pass e.g. 10")
        for flag in ("force", "new_head"):
            check_bool(getattr(self, flag), flag)
        if self.new_head and self.weights is None:
            raise ConfigError("--new-head needs --weights (the backbone to keep); pass a checkpoint")
        if self.new_head and self.num_classes is None and self.labels is None:
            raise ConfigError("--new-head needs --num-classes (or --labels) to size the new classifier; pass e.g. --num-classes 10")
        check_int(self.parity_limit, "parity_limit", hint="pass e.g. 32")
        check_number(self.parity_rel_tol, "parity tolerance", minimum=0.0, hint="pass e.g. 1e-3")
        if self.preprocessing is not None and int(self.preprocessing.crop) != size:
            raise ConfigError(
                f"preprocessing crops {self.preprocessing.crop} px but the input size is {size}; make them equal"
            )

    def resolve(self) -> ExportPlan:
        """The typed plan: names canonical, defaults filled in, labels read, weights and --out checked."""
        self.validate()
        spec = _arch_spec(self.arch)
        labels = read_labels(self.labels)
        weights = check_weights_path(self.weights)
        out = Path(self.out) if self.out is not None else Path("artifacts") / spec.name
        check_output_dir(out, self.force, marker=MANIFEST_NAME)
        return ExportPlan(
            arch=spec.name, formats=parse_formats(self.formats), opset=self.opset,
            size=check_input_size(self.input_size, spec.default_input_size),
            labels=None if labels is None else tuple(labels), num_classes=self.num_classes,
            weights=weights, out=out,
        )


@dataclass(frozen=True)
class ExportPlan:
    """What ``export_artifact`` will do, resolved from an ExportConfig before any heavy import."""

    arch: str  # the table's canonical name
    formats: tuple[str, ...]  # canonical format names, in order
    opset: int | None
    size: int  # square input side
    labels: tuple[str, ...] | None
    num_classes: int | None  # None: from the checkpoint's head, the labels, or the arch
    weights: Path | None
    out: Path


@dataclass
class ExportResult:
    """What was written: the artifact directory, its manifest and per-step timings."""

    out_dir: Path
    manifest: Manifest
    files: list[FileEntry]
    parity: dict[str, dict[str, Any]]
    timings: dict[str, float] = field(default_factory=dict)  # step -> seconds
    seconds: float = 0.0
    load_report: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (the CLI's --json output)."""
        m = self.manifest
        return {
            "out_dir": str(self.out_dir),
            "arch": m.model.arch,
            "num_classes": m.model.num_classes,
            "variant": m.model.variant,
            "input_shape": list(m.input.shape),
            "params": m.model.params,
            "gmacs": m.model.gmacs,
            "files": [
                {"path": f.path, "format": f.format, "precision": f.precision, "size": f.size,
                 "sha256": f.sha256, **({"opset": f.extra["opset"]} if "opset" in f.extra else {})}
                for f in self.files
            ],
            "parity": self.parity,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "seconds": round(self.seconds, 3),
        }


def parse_formats(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """'onnx,pt2' or ['onnx'] -> canonical, de-duplicated names; a one-line error on anything else."""
    if value is None:
        return DEFAULT_FORMATS
    items = value.split(",") if isinstance(value, str) else list(value)
    out: list[str] = []
    for raw in items:
        name = str(raw).strip().lower()
        if not name:
            continue
        name = _ALIASES.get(name, name)
        if name not in EXPORT_FORMATS:
            raise ResNetDeployError(
                f"unknown export format '{str(raw).strip()}'; choose from {', '.join(EXPORT_FORMATS)}"
            )
        if name not in out:
            out.append(name)
    if not out:
        raise ResNetDeployError(f"no export format given; choose from {', '.join(EXPORT_FORMATS)}")
    return tuple(out)


def check_input_size(size: Any, default: int) -> int:
    """The square input side (CLI text allowed); ResNet's five stride-2 stages need at least 32 pixels."""
    if size is None:
        return default
    value = parse_int(size, "input size", minimum=MIN_INPUT_SIZE, maximum=MAX_INPUT_SIZE, hint="pass e.g. 224")
    return default if value is None else value


def read_labels(labels: str | os.PathLike[str] | Sequence[str] | None) -> list[str] | None:
    """Class names from a text file (one per line) or a list; blank lines at the end are dropped."""
    if labels is None:
        return None
    if isinstance(labels, (str, os.PathLike)):
        p = Path(labels)
        problem = file_problem(p)
        if problem is not None:
            raise ResNetDeployError(f"labels file '{p}' {problem}; pass a text file with one class name per line")
        try:
            lines = p.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ResNetDeployError(f"cannot read labels file '{p}' ({type(exc).__name__}); pass UTF-8 text") from exc
    else:
        lines = [str(x) for x in labels]
    names = [ln.strip() for ln in lines]
    while names and not names[-1]:
        names.pop()
    if not names:
        raise ResNetDeployError("the labels file is empty; pass one class name per line")
    if any(not n for n in names):
        raise ResNetDeployError("the labels file has blank lines between names; pass one class name per line")
    return names


def check_weights_path(weights: str | os.PathLike[str] | None) -> Path | None:
    """Fail fast on a missing weights file (its content is checked when it is loaded)."""
    if weights is None:
        return None
    p = Path(weights).expanduser()
    problem = file_problem(p)
    if problem is not None:
        raise ResNetDeployError(f"weights file '{p}' {problem}; pass a .pth or .safetensors file")
    return p


def check_variant(variant: str) -> str:
    """'v1.5' or 'v1' (where the bottleneck's stride sits), or a one-line ModelError."""
    from resnet_deploy.models.registry import STRIDE_VARIANTS

    if variant not in STRIDE_VARIANTS:
        raise ModelError(f"unknown ResNet variant '{variant}'; choose v1.5 (torchvision) or v1 (paper)")
    return variant


def _arch_spec(arch: Any) -> ArchSpec:
    from resnet_deploy.models.registry import get_arch

    check_nonempty_str(arch, "architecture (--arch)", hint="pass e.g. resnet50 (see 'resnet-deploy models')")
    return get_arch(arch)

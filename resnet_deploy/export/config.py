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
from typing import Any

from resnet_deploy.artifact import MANIFEST_NAME, FileEntry, Manifest, Preprocessing
from resnet_deploy.errors import ModelError, ResNetDeployError
from resnet_deploy.paths import file_problem

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

# ``progress`` is either a callback taking a step description, or an object with a
# ``status(message)`` context manager (resnet_deploy.cli._common.Output).
Progress = Any


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
    progress: Progress | None = None


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


def check_int(value: Any, what: str, minimum: int, maximum: int | None = None) -> int:
    """An integer option in range, or a one-line error (bools and floats are refused)."""
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise ResNetDeployError(f"{what} must be an integer, got '{value}'; pass a whole number") from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ResNetDeployError(f"{what} must be an integer, got {value!r}; pass a whole number")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"from {minimum} to {maximum}" if maximum is not None else f">= {minimum}"
        raise ResNetDeployError(f"{what} must be {bound}, got {value}; pass a value in that range")
    return value


def check_input_size(size: Any, default: int) -> int:
    """The square input side; ResNet's five stride-2 stages need at least 32 pixels."""
    if size is None:
        return default
    return check_int(size, "input size", MIN_INPUT_SIZE, MAX_INPUT_SIZE)


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
            raise ResNetDeployError(f"cannot read labels file '{p}' ({type(exc).__name__}); pass UTF-8 text") from None
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


def precheck_out_dir(out: Path, force: bool) -> None:
    """Refuse an output location that cannot work, without creating anything yet."""
    if out.exists() and not out.is_dir():
        raise ResNetDeployError(
            f"--out '{out}' is an existing file, not a directory; choose another --out (--force never replaces files)"
        )
    if out.exists() and not force:
        raise ResNetDeployError(f"output directory '{out}' already exists; pass --force to replace it")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST_NAME).is_file():
        # --force replaces the whole directory: never do that to something that is not ours
        raise ResNetDeployError(
            f"'{out}' is not empty and is not a resnet-deploy artifact (no {MANIFEST_NAME}); "
            "--force only replaces artifacts, choose another --out"
        )
    anc = out.resolve().parent
    while not anc.exists():
        anc = anc.parent
    if not anc.is_dir():
        raise ResNetDeployError(f"cannot create '{out}': '{anc}' is a file; choose another --out")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise ResNetDeployError(f"output location '{anc}' is not writable; choose another --out")


def check_variant(variant: str) -> str:
    from resnet_deploy.models.registry import VERSIONS

    if variant not in VERSIONS:
        raise ModelError(f"unknown ResNet variant '{variant}'; choose v1.5 (torchvision) or v1 (paper)")
    return variant

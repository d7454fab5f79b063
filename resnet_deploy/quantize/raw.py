"""Raw-pixel twins of the quantised files (uint8 NHWC input; ``resnet_deploy.raw_input``).

Every emitted CPU INT8 target (not the TensorRT ones: engines are built from the
float-input files) gets ``model.int8-<target>-raw.onnx``, folded from that
target's own Q/DQ file: the same calibration ranges (tensor names after the first
conv are unchanged), no second calibration pass. Its drift against FP32 is
measured on the eval images' own pixels (recovered from the normalised crops)
and recorded as ``quantization.drift.int8-<target>-raw``. An artifact exported
before raw files existed also gets ``model.fp32-raw.onnx`` here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from resnet_deploy.artifact import FileEntry, Manifest, install_file
from resnet_deploy.errors import ResNetDeployError
from resnet_deploy.metrics import Drift, drift_metrics
from resnet_deploy.quantize.evaluate import run_logits
from resnet_deploy.raw_input import (
    RAW_PARITY_TOL,
    fixed_pixels,
    normalize_pixels,
    pixels_of,
    raw_file_name,
    raw_input_spec,
    write_raw,
)
from resnet_deploy.reporter import Reporter


@dataclass
class RawFile:
    """One raw-pixel file written into the work directory, with what was measured on it."""

    source: str  # the float-input file it was folded from
    path: Path
    precision: str
    target: str | None
    drift: Drift | None = None  # INT8: against FP32 on the eval pixels
    parity: dict[str, Any] | None = None  # FP32: against the float-input file

    @property
    def name(self) -> str:
        return self.path.name


def emit_raw_int8(
    int8_paths: dict[str, Path], prepared: Path, manifest: Manifest, work: Path, x: np.ndarray,
    ref: np.ndarray, labels: np.ndarray | None, batch_size: int, rep: Reporter,
) -> list[RawFile]:
    """Fold each target's Q/DQ file into its raw twin and measure it on the eval pixels."""
    pix = pixels_of(x, manifest.preprocessing)
    if pix is None:
        rep.note("the eval data is not 8-bit images: raw-pixel INT8 drift is not measured")
    out = []
    for target, path in int8_paths.items():
        if target.startswith("tensorrt"):  # engines are built from the float-input file; no CPU runtime wants S8S8
            continue
        dst = work / raw_file_name(path.name)
        try:
            write_raw(path, dst, manifest.input, manifest.preprocessing, float_model=prepared)
        except ResNetDeployError as exc:
            rep.note(f"no raw-pixel file for int8-{target}: {exc}")
            continue
        drift = None if pix is None else drift_metrics(ref, run_logits(dst, pix, batch_size), labels)
        out.append(RawFile(path.name, dst, "int8", target, drift=drift))
    return out


def emit_raw_fp32(art: Path, manifest: Manifest, fp32: FileEntry, work: Path, rep: Reporter) -> RawFile | None:
    """model.fp32-raw.onnx for an artifact exported without one (parity-gated like export's)."""
    if manifest.file("onnx", "fp32", raw=True) is not None:
        return None
    from resnet_deploy.export.parity import compare_logits

    dst = work / raw_file_name(fp32.path)
    try:
        write_raw(art / fp32.path, dst, manifest.input, manifest.preprocessing)
    except ResNetDeployError as exc:
        rep.note(f"no raw-pixel file for fp32: {exc}")
        return None
    u8 = fixed_pixels(manifest.input.size)
    ref = run_logits(art / fp32.path, normalize_pixels(u8, manifest.preprocessing))
    parity = compare_logits(ref, run_logits(dst, u8), rel_range_tol=RAW_PARITY_TOL)
    if not parity["passed"]:
        rep.note(f"raw-pixel fp32 file left out: parity {parity['rel_to_range']:.2g} x logit range "
                 f"(allowed {RAW_PARITY_TOL:g})")
        return None
    return RawFile(fp32.path, dst, "fp32", None, parity=parity)


def install_raw(art: Path, raw: RawFile, manifest: Manifest, **extra: Any) -> FileEntry:
    """Move a raw file into the artifact; its entry records its own uint8 NHWC input contract."""
    entry = install_file(art, raw.path, raw.name, "onnx", raw.precision, raw.target, folded_from=raw.source, **extra)
    entry.input = raw_input_spec(manifest.input)
    return entry

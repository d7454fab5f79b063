"""export_artifact: arch (+ checkpoint) -> a verified artifact directory, or nothing at all.

Steps: check every option (no torch yet) -> build the model -> load weights ->
eval -> reference logits from the unfolded model -> fold BatchNorm -> write each
requested format into a hidden staging directory -> parity gate per file
against the reference -> manifest -> rename into place. Any failure (bad
weights, exporter error, parity miss, Ctrl-C) removes the staging directory, so
``out`` is either the complete new artifact or untouched.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from resnet_deploy.artifact import (
    MANIFEST_NAME,
    FileEntry,
    InputSpec,
    Manifest,
    ModelInfo,
    ParityRecord,
    Preprocessing,
    make_entry,
    save_manifest,
    staging_dir,
    toolchain_versions,
)
from resnet_deploy.atomic import ensure_free, write_failure
from resnet_deploy.errors import DataError, ResNetDeployError, WorkFailedError
from resnet_deploy.export.config import EXPORT_FORMATS, ExportConfig, ExportPlan, ExportResult
from resnet_deploy.reporter import Reporter, as_reporter

LABELS_FILE = "labels.txt"


@contextlib.contextmanager
def _step(reporter: Reporter, message: str, timings: dict[str, float], key: str) -> Iterator[None]:
    """Report a step (plain text) and add its duration to ``timings[key]``."""
    t0 = time.perf_counter()
    with reporter.status(message):
        yield
    timings[key] = timings.get(key, 0.0) + time.perf_counter() - t0


def _num_classes(plan: ExportPlan, head_classes: int | None) -> int:
    """Explicit value, else the checkpoint's head, else the labels, else the arch's default."""
    from resnet_deploy.models.complexity import default_num_classes

    n, labels = plan.num_classes, plan.labels
    if n is None:
        n = head_classes if head_classes is not None else (len(labels) if labels else None)
    if n is None:
        n = default_num_classes(plan.arch)
    if labels is not None and len(labels) != n:
        raise ResNetDeployError(
            f"the labels file has {len(labels)} names but the model has {n} classes; "
            "pass a labels file with one name per class"
        )
    return n


def _head_classes(weights: Path | None, new_head: bool) -> int | None:
    if weights is None or new_head:
        return None
    from resnet_deploy.models.weights import read_state_dict

    fc = read_state_dict(weights).get("fc.weight")
    return int(fc.shape[0]) if fc is not None and fc.dim() == 2 else None


def _parity_inputs(
    config: ExportConfig, size: int, pre: Preprocessing, on_warning: Callable[[str], None] | None = None
) -> tuple[np.ndarray, str]:
    """The fixed-seed batch, plus real images from ``parity_data`` when given.

    ``on_warning`` hears data warnings (None: the data package's default, a Python warning).
    """
    from resnet_deploy.export.parity import fixed_inputs

    x = fixed_inputs(size)
    data = config.parity_data
    if data is None:
        return x, f"{len(x)} random (seed 0)"
    from resnet_deploy.data import open_source

    src = open_source(data, pre, split="eval", limit=config.parity_limit, on_warning=on_warning)
    extra = np.asarray(src.arrays()[0], dtype=np.float32)
    name = src.name
    if extra.ndim != 4 or extra.shape[1:] != x.shape[1:] or len(extra) == 0:
        raise DataError(
            f"parity data {name} gives shape {list(extra.shape)}, expected [N, {', '.join(map(str, x.shape[1:]))}]; "
            "give --eval-data images, or an array of that shape"
        )
    extra = extra[: config.parity_limit]
    return np.concatenate([x, extra]), f"{len(x)} random (seed 0) + {len(extra)} from {name}"


def _export_one(fmt: str, model: Any, path: Path, size: int, opset: int | None) -> dict[str, Any]:
    """Export one format; an exporter crash becomes a one-line WorkFailedError (cause chained)."""
    # torch's zip writer (pt2, TorchScript) aborts the process when the disk fills mid-write
    # (a C++ exception thrown from a destructor), so refuse up front what cannot fit.
    ensure_free(path.parent, int(_model_bytes(model) * 1.1) + (2 << 20), path.name)
    try:
        return _export_format(fmt, model, path, size, opset)
    except ResNetDeployError:
        raise
    except Exception as exc:  # torch/onnx raise many types; the user needs one line
        disk = write_failure(exc, path.parent)
        if disk is not None:
            raise disk from exc
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise WorkFailedError(
            f"exporting {fmt} failed ({type(exc).__name__}: {first}); try --formats without {fmt}, "
            "and please report this with the command you ran"
        ) from exc


def _model_bytes(model: Any) -> int:
    """Bytes of the weights a file of ``model`` holds (parameters + buffers): its size, give or take."""
    tensors = [*model.parameters(), *model.buffers()]
    return int(sum(t.numel() * t.element_size() for t in tensors))


def _export_format(fmt: str, model: Any, path: Path, size: int, opset: int | None) -> dict[str, Any]:
    if fmt == "onnx":
        from resnet_deploy.export.onnx import export_onnx

        info = export_onnx(model, path, size, opset=opset)
        return {k: info[k] for k in ("opset", "nodes", "exporter", "seconds")}
    if fmt == "torchscript":
        from resnet_deploy.export.torchscript import export_torchscript

        return export_torchscript(model, path, size)
    from resnet_deploy.export.exported_program import export_program

    return export_program(model, path, size)


@dataclass
class _Built:
    """The eval-mode model, folded for export, with its facts and the reference logits."""

    folded: Any
    ref: np.ndarray
    num_classes: int
    params: int
    gmacs: float
    load_report: dict[str, Any] | None


def export_artifact(
    config: ExportConfig, reporter: Reporter | Callable[[str], None] | None = None
) -> ExportResult:
    """Build a verified artifact directory from an architecture name and optional weights.

    ``reporter`` hears each step and data warnings in plain text (a ``Reporter``
    or a ``fn(message)`` callback); step durations land in ``ExportResult.timings``.
    Raises a one-line ResNetDeployError for bad options (before any work), a
    CheckpointError for weights that do not fit, a ParityError (exit 1) when an
    exported file disagrees with PyTorch; in every failure ``config.out`` is
    left exactly as it was.
    """
    t_start = time.perf_counter()
    plan = config.resolve()
    rep, timings = as_reporter(reporter), {}
    on_warning = rep.warn if reporter is not None else None
    size = plan.size
    _import_torch_side()
    pre = config.preprocessing or Preprocessing.for_input_size(size)
    if config.parity_data is None:
        x, parity_desc = _parity_inputs(config, size, pre)
    else:
        with _step(rep, "Loading parity data", timings, "data"):
            x, parity_desc = _parity_inputs(config, size, pre, on_warning)
    with _step(rep, f"Building {plan.arch} at {size}x{size}", timings, "build"):
        built = _build_model(plan, config, x)

    with staging_dir(plan.out, config.force, marker=MANIFEST_NAME) as tmp:
        files, parity = _write_formats(plan, config, built, tmp, x, parity_desc, rep, timings)
        if "onnx" in plan.formats:
            with _step(rep, "Writing the raw-pixel ONNX (uint8 NHWC input) and checking parity", timings, "raw"):
                raw_entry, parity["onnx:fp32-raw"] = _write_raw(tmp, plan.size, pre)
            files.append(raw_entry)
        labels = None if plan.labels is None else list(plan.labels)
        if labels is not None:
            (tmp / LABELS_FILE).write_text("\n".join(labels) + "\n", encoding="utf-8")
            files.append(make_entry(tmp, LABELS_FILE, "labels", "fp32"))
        manifest = _manifest(plan, config, built, pre, files, parity, labels)
        save_manifest(manifest, tmp)
    return ExportResult(
        out_dir=plan.out, manifest=manifest, files=files, parity=parity, timings=timings,
        seconds=time.perf_counter() - t_start, load_report=built.load_report,
    )


def _import_torch_side() -> None:
    """Import torch and the model code before the first step, so a missing torch fails before any
    data is read and the step timings hold only the work."""
    import torch  # noqa: F401

    import resnet_deploy.export.parity  # noqa: F401
    import resnet_deploy.models  # noqa: F401
    import resnet_deploy.models.complexity  # noqa: F401
    import resnet_deploy.models.fold  # noqa: F401


def _build_model(plan: ExportPlan, config: ExportConfig, x: np.ndarray) -> _Built:
    """Create the model, load its weights, count it, run the reference batch, fold BatchNorm."""
    import torch

    from resnet_deploy.models import create_model
    from resnet_deploy.models.complexity import count_macs, count_params
    from resnet_deploy.models.fold import fold_batchnorm

    arch, load_report = plan.arch, None
    num_classes = _num_classes(plan, _head_classes(plan.weights, config.new_head))
    model = create_model(arch, num_classes=num_classes, variant=config.variant)
    if plan.weights is not None:
        from resnet_deploy.models.weights import load_weights

        load_report = load_weights(model, plan.weights, new_head=config.new_head).to_dict()
    model.eval()
    with torch.device("meta"):
        meta = create_model(arch, num_classes=num_classes, variant=config.variant)
    gmacs = count_macs(meta, plan.size) / 1e9
    params = count_params(model)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    folded = fold_batchnorm(model)
    return _Built(folded, ref, num_classes, params, gmacs, load_report)


def _write_formats(
    plan: ExportPlan, config: ExportConfig, built: _Built, tmp: Path, x: np.ndarray, parity_desc: str,
    rep: Reporter, timings: dict[str, float],
) -> tuple[list[FileEntry], dict[str, Any]]:
    """Export every format into ``tmp``, gate each on parity, and return (entries, parity records)."""
    from resnet_deploy.export.parity import check_parity

    facts: dict[str, dict[str, Any]] = {}
    parity: dict[str, Any] = {}
    for fmt in plan.formats:
        with _step(rep, f"Exporting {fmt}", timings, f"export:{fmt}"):
            facts[fmt] = _export_one(fmt, built.folded, tmp / EXPORT_FORMATS[fmt], plan.size, plan.opset)
    for fmt in plan.formats:
        key = f"{fmt}:fp32"
        with _step(rep, f"Parity {key} ({parity_desc})", timings, f"parity:{fmt}"):
            parity[key] = check_parity(
                key, fmt, tmp / EXPORT_FORMATS[fmt], x, built.ref, rel_range_tol=config.parity_rel_tol
            )
    files = []
    for fmt in plan.formats:
        extra = {k: v for k, v in facts[fmt].items() if k != "seconds"}
        files.append(make_entry(tmp, EXPORT_FORMATS[fmt], fmt, "fp32", **extra))
    return files, parity


def _write_raw(tmp: Path, size: int, pre: Preprocessing) -> tuple[FileEntry, dict[str, Any]]:
    """model.fp32-raw.onnx: the preprocessing folded into the first conv (``raw_input``).

    Gated against the float-input ONNX on the same pixels (max |dlogit| <= 1e-4 x range)."""
    from resnet_deploy.export.parity import check_parity, run_batches, runner_for
    from resnet_deploy.raw_input import (
        RAW_PARITY_TOL,
        fixed_pixels,
        normalize_pixels,
        raw_file_name,
        raw_input_spec,
        write_raw,
    )

    src = EXPORT_FORMATS["onnx"]
    spec = InputSpec(shape=[-1, 3, size, size])
    name = raw_file_name(src)
    write_raw(tmp / src, tmp / name, spec, pre)
    u8 = fixed_pixels(size)
    ref = run_batches(runner_for("onnx", tmp / src), normalize_pixels(u8, pre))
    parity = check_parity("onnx:fp32-raw", "onnx", tmp / name, u8, ref, rel_range_tol=RAW_PARITY_TOL)
    entry = make_entry(tmp, name, "onnx", "fp32", folded_from=src)
    entry.input = raw_input_spec(spec)
    return entry, parity


def _manifest(
    plan: ExportPlan, config: ExportConfig, built: _Built, pre: Preprocessing, files: list[FileEntry],
    parity: dict[str, Any], labels: list[str] | None,
) -> Manifest:
    """The artifact's manifest for the files written and their parity records."""
    return Manifest(
        model=ModelInfo(
            arch=plan.arch, num_classes=built.num_classes, variant=config.variant, params=built.params,
            gmacs=round(built.gmacs, 4),
            checkpoint_sha256=built.load_report["sha256"] if built.load_report else None,
            labels=labels,
        ),
        input=InputSpec(shape=[-1, 3, plan.size, plan.size]),
        preprocessing=pre,
        files=files,
        parity={k: ParityRecord.from_dict(v, f"parity.{k}") for k, v in parity.items()},
        toolchain=toolchain_versions(),
    )

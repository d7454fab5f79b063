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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from resnet_deploy.artifact import (
    InputSpec,
    Manifest,
    ModelInfo,
    Preprocessing,
    make_entry,
    save_manifest,
    staging_dir,
    toolchain_versions,
)
from resnet_deploy.atomic import ensure_free, write_failure
from resnet_deploy.errors import DataError, ResNetDeployError, WorkFailedError
from resnet_deploy.export.config import (
    EXPORT_FORMATS,
    ExportConfig,
    ExportResult,
    check_input_size,
    check_int,
    check_variant,
    check_weights_path,
    parse_formats,
    precheck_out_dir,
    read_labels,
)

LABELS_FILE = "labels.txt"


@contextlib.contextmanager
def _step(progress: Any, message: str, timings: dict[str, float], key: str) -> Iterator[None]:
    """Report a step to ``progress`` (callback or Output) and time it."""
    t0 = time.perf_counter()
    status = getattr(progress, "status", None)
    if progress is None:
        yield
    elif callable(status):
        with status(message):
            yield
    else:
        progress(message)
        yield
    timings[key] = timings.get(key, 0.0) + time.perf_counter() - t0


def _resolve(config: ExportConfig) -> dict[str, Any]:
    """Every cheap check, before any heavy import or any file is touched."""
    from resnet_deploy.export.onnx import check_opset
    from resnet_deploy.models.registry import get_variant

    variant = get_variant(config.arch)
    formats = parse_formats(config.formats)
    opset = None if config.opset is None else check_int(config.opset, "opset", 1)
    check_opset(opset)
    size = check_input_size(config.input_size, variant.default_input_size)
    check_variant(config.variant)
    labels = read_labels(config.labels)
    num_classes = None if config.num_classes is None else check_int(config.num_classes, "num_classes", 1, 1_000_000)
    weights = check_weights_path(config.weights)
    if config.new_head and weights is None:
        raise ResNetDeployError("--new-head needs --weights (the backbone to keep); pass a checkpoint")
    if config.new_head and num_classes is None and labels is None:
        raise ResNetDeployError("--new-head needs --num-classes (or --labels) to size the new classifier")
    out = Path(config.out) if config.out is not None else Path("artifacts") / variant.name
    precheck_out_dir(out, config.force)
    check_int(config.parity_limit, "parity_limit", 1)
    if config.preprocessing is not None and int(config.preprocessing.crop) != size:
        raise ResNetDeployError(
            f"preprocessing crops {config.preprocessing.crop} px but the input size is {size}; make them equal"
        )
    if not config.parity_rel_tol >= 0:
        raise ResNetDeployError(f"parity tolerance must be >= 0, got {config.parity_rel_tol}")
    return {"arch": variant.name, "variant": variant, "formats": formats, "opset": opset, "size": size,
            "labels": labels, "num_classes": num_classes, "weights": weights, "out": out}


def _num_classes(plan: dict[str, Any], head_classes: int | None) -> int:
    """Explicit value, else the checkpoint's head, else the labels, else the arch's default."""
    from resnet_deploy.models.complexity import default_num_classes

    n, labels = plan["num_classes"], plan["labels"]
    if n is None:
        n = head_classes if head_classes is not None else (len(labels) if labels else None)
    if n is None:
        n = default_num_classes(plan["arch"])
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


def _parity_inputs(config: ExportConfig, size: int, pre: Preprocessing) -> tuple[np.ndarray, str]:
    """The fixed-seed batch, plus real images from ``parity_data`` when given."""
    from resnet_deploy.export.parity import fixed_inputs

    x = fixed_inputs(size)
    data = config.parity_data
    if data is None:
        return x, f"{len(x)} random (seed 0)"
    from resnet_deploy.data import open_source

    src = open_source(data, pre, split="eval", limit=config.parity_limit,
                      on_warning=_warning_sink(config.progress))
    extra = np.asarray(src.arrays()[0], dtype=np.float32)
    name = src.name
    if extra.ndim != 4 or extra.shape[1:] != x.shape[1:] or len(extra) == 0:
        raise DataError(f"parity data {name} gives shape {list(extra.shape)}, expected [N, {', '.join(map(str, x.shape[1:]))}]")
    extra = extra[: config.parity_limit]
    return np.concatenate([x, extra]), f"{len(x)} random (seed 0) + {len(extra)} from {name}"


def _warning_sink(progress: Any) -> Any:
    """Data warnings go to the progress display (None: the data package's default warning)."""
    if progress is None:
        return None
    info = getattr(progress, "info", None)
    if callable(info):  # a rich Output: escape so paths like [N,3,S,S] are not read as markup
        from rich.markup import escape

        return lambda msg: info(f"[yellow]warning:[/yellow] {escape(msg)}")
    return lambda msg: progress(f"warning: {msg}")


def _export_one(fmt: str, model: Any, path: Path, size: int, opset: int | None) -> dict[str, Any]:
    """Export one format; an exporter crash becomes a one-line WorkFailedError (cause chained)."""
    # torch's zip writer (pt2, TorchScript) aborts the process when the disk fills mid-write
    # (a C++ exception thrown from a destructor), so refuse up front what cannot fit.
    ensure_free(path.parent, int(_model_bytes(model) * 1.1) + (2 << 20), path.name)
    try:
        return _export_format(fmt, model, path, size, opset)
    except ResNetDeployError:
        raise
    except Exception as exc:  # noqa: BLE001 - torch/onnx raise many types; the user needs one line
        disk = write_failure(exc, path.parent)
        if disk is not None:
            raise disk from None
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


def export_artifact(config: ExportConfig) -> ExportResult:
    """Build a verified artifact directory from an architecture name and optional weights.

    Raises a one-line ResNetDeployError for bad options (before any work), a
    CheckpointError for weights that do not fit, a ParityError (exit 1) when an
    exported file disagrees with PyTorch; in every failure ``config.out`` is
    left exactly as it was.
    """
    t_start = time.perf_counter()
    plan = _resolve(config)
    progress, timings = config.progress, {}
    size, arch = plan["size"], plan["arch"]

    import torch

    from resnet_deploy.export.parity import check_parity
    from resnet_deploy.models import create_model
    from resnet_deploy.models.complexity import count_macs, count_params
    from resnet_deploy.models.fold import fold_batchnorm

    pre = config.preprocessing or Preprocessing.for_input_size(size)
    if config.parity_data is None:
        x, parity_desc = _parity_inputs(config, size, pre)
    else:
        with _step(progress, "Loading parity data", timings, "data"):
            x, parity_desc = _parity_inputs(config, size, pre)
    load_report = None
    with _step(progress, f"Building {arch} at {size}x{size}", timings, "build"):
        num_classes = _num_classes(plan, _head_classes(plan["weights"], config.new_head))
        model = create_model(arch, num_classes=num_classes, version=config.variant)
        if plan["weights"] is not None:
            from resnet_deploy.models.weights import load_weights

            load_report = load_weights(model, plan["weights"], new_head=config.new_head).to_dict()
        model.eval()
        with torch.device("meta"):
            meta = create_model(arch, num_classes=num_classes, version=config.variant)
        gmacs = count_macs(meta, size) / 1e9
        params = count_params(model)
        with torch.no_grad():
            ref = model(torch.from_numpy(x)).numpy()
        folded = fold_batchnorm(model)

    files, parity = [], {}
    with staging_dir(plan["out"], config.force) as tmp:
        facts: dict[str, dict[str, Any]] = {}
        for fmt in plan["formats"]:
            with _step(progress, f"Exporting {fmt}", timings, f"export:{fmt}"):
                facts[fmt] = _export_one(fmt, folded, tmp / EXPORT_FORMATS[fmt], size, plan["opset"])
        for fmt in plan["formats"]:
            key = f"{fmt}:fp32"
            with _step(progress, f"Parity {key} ({parity_desc})", timings, f"parity:{fmt}"):
                parity[key] = check_parity(
                    key, fmt, tmp / EXPORT_FORMATS[fmt], x, ref, rel_range_tol=config.parity_rel_tol
                )
        for fmt in plan["formats"]:
            extra = {k: v for k, v in facts[fmt].items() if k != "seconds"}
            files.append(make_entry(tmp, EXPORT_FORMATS[fmt], fmt, "fp32", **extra))
        if plan["labels"] is not None:
            (tmp / LABELS_FILE).write_text("\n".join(plan["labels"]) + "\n", encoding="utf-8")
            files.append(make_entry(tmp, LABELS_FILE, "labels", "fp32"))
        manifest = Manifest(
            model=ModelInfo(
                arch=arch, num_classes=num_classes, variant=config.variant, params=params,
                gmacs=round(gmacs, 4),
                checkpoint_sha256=load_report["sha256"] if load_report else None,
                labels=plan["labels"],
            ),
            input=InputSpec(shape=[-1, 3, size, size]),
            preprocessing=pre,
            files=files,
            parity=parity,
            toolchain=toolchain_versions(),
        )
        save_manifest(manifest, tmp)
    return ExportResult(
        out_dir=plan["out"], manifest=manifest, files=files, parity=parity, timings=timings,
        seconds=time.perf_counter() - t_start, load_report=load_report,
    )

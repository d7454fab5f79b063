"""quantize_artifact: add INT8 (per target) and FP16 models to an exported artifact.

Order of work: check everything cheap first (config, manifest, data specs);
prepare the FP32 graph (ORT's quant_pre_process); calibrate ONCE (or reuse a
matching calibration.json) and install the ranges; then for each target emit
Q/DQ from those ranges under the accuracy guard; FP16 last. Outputs are written
in a hidden work directory inside the artifact and moved in with
``artifact.install_file`` (atomic rename), then the manifest is updated once with
``update_manifest``. A failing target (AccuracyBudgetError, exit 1) leaves the
artifact as it was, apart from the reusable calibration.json.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from resnet_deploy.artifact import (
    FileEntry,
    Fp16Record,
    Manifest,
    ParityRecord,
    QuantTarget,
    as_drift,
    install_file,
    load_manifest,
    now_iso,
    read_manifest,
    update_manifest,
)
from resnet_deploy.atomic import locked_writer
from resnet_deploy.data.evalset import EvalSet
from resnet_deploy.errors import ArtifactError
from resnet_deploy.quantize import qdq
from resnet_deploy.quantize.calibrate import CALIBRATION_FILE, CalibrationRanges, calibrate
from resnet_deploy.quantize.config import QuantizeConfig, QuantizeResult, TargetResult
from resnet_deploy.quantize.evaluate import run_logits
from resnet_deploy.quantize.guard import emit_within_budget
from resnet_deploy.quantize.raw import RawFile, emit_raw_fp32, emit_raw_int8, install_raw
from resnet_deploy.quantize.report import REPORT_FILE, merged_report, target_section
from resnet_deploy.quantize.targets import manifest_entry, spec
from resnet_deploy.reporter import NoteKeeper, Reporter, as_reporter

SAMPLE = "sample"


def _is_sample(spec_: str | None) -> bool:
    return isinstance(spec_, str) and spec_.strip().lower() == SAMPLE


@locked_writer("quantize")  # the whole run: a second writer must see our calibration.json
def quantize_artifact(
    artifact_dir: str | Path, config: QuantizeConfig, reporter: Reporter | Callable[[str], None] | None = None
) -> QuantizeResult:
    """Calibrate once, emit each INT8 target (and FP16) into ``artifact_dir``; see module doc.

    ``reporter`` hears progress in plain text (a ``Reporter`` or a ``fn(message)``
    callback); its notes are also kept in ``QuantizeResult.notes``.
    """
    config.validate()
    art = Path(artifact_dir)
    manifest = load_manifest(art)
    fp32 = manifest.file("onnx", "fp32")
    if fp32 is None:
        raise ArtifactError(
            f"artifact '{art}' has no model.fp32.onnx to quantize; re-export it with --formats onnx"
        )
    rep = NoteKeeper(as_reporter(reporter))  # notes also go into result.notes (--json)
    calib_source, eval_source = _open_data(manifest, config, rep)
    with tempfile.TemporaryDirectory(prefix=".tmp-quantize-", dir=art) as tmp:
        work = Path(tmp)
        result = QuantizeResult(art, {}, False)
        outcomes: dict[str, Any] = {}
        sections: dict[str, dict[str, Any]] = {}
        if config.targets:
            with rep.status("Preparing the FP32 graph for quantization (shape inference, BN folding)"):
                prepared = qdq.prepare_model(art / fp32.path, work / "prepared.onnx")
            ranges, reused = _calibration(art, manifest, fp32, prepared, calib_source, config, rep, work)
            result = QuantizeResult(art, ranges.manifest_section(), reused)
        x, eval_set, ref = _fp32_reference(art / fp32.path, eval_source, manifest, config, rep)
        if config.targets:
            outcomes, sections = _emit_targets(prepared, ranges, work, eval_set, ref, x, manifest, config, rep, result)
        raws = _emit_raw(art, manifest, fp32, outcomes, prepared if config.targets else None, work, eval_set,
                         ref, config, rep)
        fp16 = None
        if config.fp16:
            with rep.status("Converting to FP16 (FP32 inputs/outputs) and checking parity"):
                from resnet_deploy.quantize.fp16 import FILE_NAME, convert_fp16, fp16_parity

                fp16_path = convert_fp16(art / fp32.path, work / FILE_NAME)
                fp16 = fp16_parity(fp16_path, x, ref, config.batch_size)
        for t in _install(art, fp32, outcomes, sections, fp16, work, config, result, raws):
            rep.note(f"removed {spec(t).file_name}: it was made from the previous calibration; "
                          f"re-emit it from the new ranges with --targets {t}")
    result.notes = rep.notes
    return result


def _fp32_reference(
    fp32_path: Path, eval_source: Any, manifest: Manifest, config: QuantizeConfig, rep: Reporter
) -> tuple[Any, EvalSet, Any]:
    """(eval images, the eval set the guard scores, FP32 logits on them)."""
    with rep.status(f"Running FP32 on {len(eval_source)} eval images ({eval_source.name})"):
        x, labels = eval_source.arrays()
        if not eval_source.labels_fit(labels, manifest.model.num_classes):
            labels = None  # labels of another label space: guard on agreement with FP32 instead
        eval_set = EvalSet(x, labels, eval_source.name)
        ref = run_logits(fp32_path, x, config.batch_size)
    return x, eval_set, ref


def _emit_targets(
    prepared: Path, ranges: CalibrationRanges, work: Path, eval_set: EvalSet, ref: Any, x: Any,
    manifest: Manifest, config: QuantizeConfig, rep: Reporter, result: QuantizeResult,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Emit each INT8 target from the shared ranges under the accuracy guard, into ``work``.

    Returns (target -> (outcome, conv fusion)), (target -> report section)."""
    outcomes, sections = {}, {}
    for target in config.targets:
        with rep.status(f"Emitting INT8 {target} ({spec(target).description})"):
            out = emit_within_budget(
                prepared=prepared,
                ranges=ranges,
                target=target,
                out_path=work / spec(target).file_name,
                cache_path=work / "ort-calibration-cache.json",
                work_dir=work,
                eval_set=eval_set,
                ref_logits=ref,
                report_x=x[: config.report_size],
                max_drop=config.max_drop,
                max_rounds=config.max_rounds,
                batch_size=config.batch_size,
                input_name=manifest.input.name,
                on_round=rep.info,
            )
        fusion = qdq.conv_fusion(out.path, work / f"ort-optimized-{target}.onnx") if target == "cpu" else None
        if fusion and fusion["float"] and not out.excluded:
            rep.note(f"only {fusion['int8']} of {fusion['convs']} convs run as int8 kernels in ORT")
        outcomes[target] = (out, fusion)
        sections[target] = target_section(out, result.calibration, config.max_drop)
        result.worst_layers[target] = sections[target]["worst"]
    return outcomes, sections


def _emit_raw(
    art: Path, manifest: Manifest, fp32: FileEntry, outcomes: dict[str, Any], prepared: Path | None, work: Path,
    eval_set: EvalSet, ref: Any, config: QuantizeConfig, rep: Reporter,
) -> list[RawFile]:
    """Raw-pixel twins: fp32 when the artifact lacks one, and one per emitted INT8 target."""
    with rep.status("Folding the preprocessing into raw-pixel (uint8 NHWC) models"):
        raws = [r for r in (emit_raw_fp32(art, manifest, fp32, work, rep),) if r is not None]
        if outcomes and prepared is not None:
            paths = {t: out.path for t, (out, _) in outcomes.items()}
            raws += emit_raw_int8(paths, prepared, manifest, work, eval_set.x, ref, eval_set.labels,
                                  config.batch_size, rep)
    return raws


def _open_data(manifest: Manifest, config: QuantizeConfig, rep: Reporter) -> tuple[Any, Any]:
    """Open calibration and eval sources up front, so a bad path fails before any work."""
    from resnet_deploy.data import open_source

    pre = manifest.preprocessing
    calib = None
    if config.targets:
        calib = open_source(config.calib_data, pre, split="calib", limit=config.calib_size, on_warning=rep.note)
    if calib is not None and _is_sample(config.calib_data):
        rep.note(
            f"calibrating on the built-in sample set ({len(calib)} images), not your data; "
            "pass --calib-data DIR|FILE to calibrate on images like the ones you will serve"
        )
    eval_spec = config.eval_data or config.calib_data
    ev = open_source(eval_spec, pre, split="eval", on_warning=rep.note)
    if config.eval_size is not None and len(ev) > config.eval_size:  # cap silently: it is a default
        ev = open_source(eval_spec, pre, split="eval", limit=config.eval_size, on_warning=rep.note)
    if config.eval_data is None and not _is_sample(eval_spec):
        rep.note(
            "accuracy is measured on the calibration data itself (not held out); pass --eval-data"
        )
    if not ev.has_labels:
        rep.note(f"{ev.name} has no labels: drift is top-1 agreement with FP32, not accuracy")
    elif ev.classes and len(ev.classes) != manifest.model.num_classes:
        rep.note(f"{ev.name} has {len(ev.classes)} classes, the model {manifest.model.num_classes}: "
                      "drift is top-1 agreement with FP32, not accuracy")
    return calib, ev


def _calibration(
    art: Path,
    manifest: Manifest,
    fp32: FileEntry,
    prepared: Path,
    source: Any,
    config: QuantizeConfig,
    rep: Reporter,
    work: Path,
) -> tuple[CalibrationRanges, bool]:
    """Reuse calibration.json when it answers this request exactly; else calibrate and install it."""
    import onnxruntime

    wanted = config.describe_calibration()
    saved_path = art / CALIBRATION_FILE
    if saved_path.is_file() and not config.recalibrate:
        saved = CalibrationRanges.load(saved_path)
        if (
            saved.matches(wanted["method"], wanted["percentile"], source.sha256, fp32.sha256)
            and saved.onnxruntime == onnxruntime.__version__
            and _covers(saved, prepared)
        ):
            rep.info(
                f"Reusing {CALIBRATION_FILE}: {saved.method} ranges of {len(saved.ranges)} tensors "
                f"from {saved.count} images of {saved.dataset} (no calibration run)"
            )
            return saved, True
    from resnet_deploy.data import CalibrationReader

    reader = CalibrationReader(source, input_name=manifest.input.name, batch_size=config.batch_size)
    label = wanted["method"] + (f" {wanted['percentile']:g}" if wanted["percentile"] is not None else "")
    with rep.progress(f"Calibrating ({label}) on {source.name}", total=len(source)) as advance:
        ranges = calibrate(
            prepared,
            reader,
            method=wanted["method"],
            percentile=wanted["percentile"],
            work_dir=work,
            dataset=source.name,
            dataset_sha256=source.sha256,
            model_sha256=fp32.sha256,
            on_batch=advance,
        )
    tmp = ranges.save(work / CALIBRATION_FILE)
    entry = install_file(art, tmp, CALIBRATION_FILE, "json", "fp32", None, kind="calibration")

    def record(m: Manifest) -> None:
        m.replace_file(entry)
        m.calibration = ranges.manifest_record()

    update_manifest(art, record)
    return ranges, False


def _covers(saved: CalibrationRanges, prepared: Path) -> bool:
    """Saved ranges name every tensor ORT's calibrator would pick in the prepared graph."""
    from onnxruntime.quantization.calibrate import CalibraterBase

    base = CalibraterBase(prepared)
    needed, _ = base.select_tensors_to_calibrate(base.model)
    return needed <= saved.ranges.keys()


def _install(
    art: Path,
    fp32: FileEntry,
    outcomes: dict[str, Any],
    sections: dict[str, dict[str, Any]],
    fp16: dict[str, Any] | None,
    work: Path,
    config: QuantizeConfig,
    result: QuantizeResult,
    raws: list[RawFile] | None = None,
) -> tuple[str, ...]:
    """Move every finished file into the artifact, then record it all in one manifest update.

    After a fresh calibration, INT8 files of targets not emitted this time were made
    from ranges that calibration.json no longer holds: they are removed (manifest
    first, then the file); returns their targets so the caller can say how to re-emit them.
    """
    stale = () if result.calibration_reused or not outcomes else tuple(
        t for t in read_manifest(art).quantization.targets if t not in outcomes
    )
    entries, target_info = _install_targets(art, fp32, outcomes, config, result)
    manifest = read_manifest(art)
    raws = raws or []
    entries += [install_raw(art, r, manifest) for r in raws]
    raw_drift = {f"int8-{r.target}-raw": r.drift for r in raws if r.drift is not None}
    raw_parity = {f"onnx:{r.precision}-raw": r.parity for r in raws if r.parity is not None}
    if fp16 is not None:
        from resnet_deploy.quantize.fp16 import FILE_NAME

        entries.append(install_file(art, work / FILE_NAME, FILE_NAME, "onnx", "fp16", None, keep_io_types=True))
        result.fp16 = {"file": FILE_NAME, "parity": fp16}
    if sections:
        (work / REPORT_FILE).write_text(merged_report(art / REPORT_FILE, sections, drop=stale))
        entries.append(install_file(art, work / REPORT_FILE, REPORT_FILE, "json", "fp32", None, kind="quant_report"))
    stale_files = [f.path for f in manifest.files if f.format == "onnx" and f.precision == "int8" and f.target in stale]

    def record(m: Manifest) -> None:
        _record(m, entries, target_info, outcomes, fp16, bool(sections), stale)
        redone = {r.name for r in raws}  # a re-emitted target whose raw fold failed loses its old twin
        m.files = [f for f in m.files if not (f.raw and f.target in outcomes and f.path not in redone)]
        m.quantization.drift.update(raw_drift)
        m.parity.update({k: ParityRecord.from_dict(v, f"parity.{k}") for k, v in raw_parity.items()})

    update_manifest(art, record)
    for path in {spec(t).file_name for t in stale} | set(stale_files):
        (art / path).unlink(missing_ok=True)
    return stale


def _install_targets(
    art: Path, fp32: FileEntry, outcomes: dict[str, Any], config: QuantizeConfig, result: QuantizeResult,
) -> tuple[list[FileEntry], dict[str, QuantTarget]]:
    """Move each emitted INT8 file into the artifact; returns its entries and manifest records."""
    entries: list[FileEntry] = []
    target_info: dict[str, QuantTarget] = {}
    for target, (out, fusion) in outcomes.items():
        name = spec(target).file_name
        entry = install_file(
            art, out.path, name, "onnx", "int8", target, calibration=CALIBRATION_FILE, excluded_nodes=len(out.excluded)
        )
        entries.append(entry)
        ratio = entry.size / fp32.size if fp32.size else 0.0
        target_info[target] = QuantTarget(
            **manifest_entry(target),
            size=entry.size,
            size_ratio=round(ratio, 4),
            fusion=fusion,
            max_drop=config.max_drop,
            rounds=out.rounds,
            created_at=now_iso(),
        )
        result.targets[target] = TargetResult(
            target, art / name, entry.size, ratio, out.drift, list(out.excluded), out.rounds, fusion
        )
    return entries, target_info


def _record(
    m: Manifest, entries: list[FileEntry], target_info: dict[str, QuantTarget], outcomes: dict[str, Any],
    fp16: dict[str, Any] | None, report: bool, stale: tuple[str, ...],
) -> None:
    """The one manifest update: new files, per-target records, FP16 parity, report, stale targets dropped."""
    import onnxruntime

    for e in entries:
        m.replace_file(e)
    q = m.quantization
    for target, info in target_info.items():
        out = outcomes[target][0]
        q.targets[target] = info
        q.drift[f"int8-{target}"] = as_drift(out.drift, f"quantization.drift.int8-{target}")
        q.drift.pop(f"int8-{target}-raw", None)  # re-set by the caller when a raw twin was measured
        q.excluded_nodes[target] = list(out.excluded)
    if fp16 is not None:
        from resnet_deploy.quantize.fp16 import FILE_NAME

        parity = ParityRecord.from_dict(fp16, "parity.onnx:fp16")
        q.fp16 = Fp16Record(file=FILE_NAME, parity=parity, keep_io_types=True)
        m.parity["onnx:fp16"] = parity
    if report:
        q.report = REPORT_FILE
    m.toolchain["onnxruntime"] = onnxruntime.__version__
    gone = {spec(t).file_name for t in stale} | {
        f.path for f in m.files if f.format == "onnx" and f.precision == "int8" and f.target in stale
    }
    m.files = [f for f in m.files if f.path not in gone]
    for t in stale:
        q.drop_target(t)
    if m.selection and m.selection.file in gone:
        m.selection = None

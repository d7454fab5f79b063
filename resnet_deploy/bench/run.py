"""``run_bench``: time, measure and compare every backend of an artifact in one run.

For each (backend, file) pair: activate under the memory sampler and run each
batch size once (memory + output check), time the batch sweep, run the eval set
for drift, deactivate. Pairs that cannot run here (not installed, no device,
silent CPU fallback) become skipped rows with the reason and are never timed.
The NNCF peer is quantised once and timed by the same harness, last. Drift is
computed against the FP32 PyTorch reference (``torch:fp32``; ``onnxruntime:fp32``
with a note when torch cannot run). Reports are written atomically to
``<artifact>/bench`` (or ``out_dir``), the summary to ``manifest.bench``.
"""

from __future__ import annotations

import copy
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from resnet_deploy.artifact import Manifest, load_manifest, now_iso, update_manifest
from resnet_deploy.atomic import artifact_lock
from resnet_deploy.bench import hostprobe
from resnet_deploy.bench import scenarios as sc
from resnet_deploy.bench.config import BenchConfig
from resnet_deploy.bench.drift import collect_outputs, drift_row, load_eval_set
from resnet_deploy.bench.isolated import measure_side, save_eval, save_peer, time_row
from resnet_deploy.bench.live_server import add_live_server
from resnet_deploy.bench.machine import machine_info, usable_cores
from resnet_deploy.bench.memory import MemorySampler
from resnet_deploy.bench.noise import NoiseProbe
from resnet_deploy.bench.paired import jobs_count, paired_vs_peer
from resnet_deploy.bench.peer import PeerModel, prepare_peer
from resnet_deploy.bench.report import (
    PEER_BACKEND,
    RAW_SAMPLES_CAP,
    BackendRow,
    BenchReport,
    peer_comparison,
)
from resnet_deploy.bench.retime import retime_rows, settle, settle_side
from resnet_deploy.bench.select import record_selection, select_backend
from resnet_deploy.bench.stats import LatencyStats
from resnet_deploy.bench.timing import make_input, measure_harness_overhead, overhead_percent, sweep
from resnet_deploy.data.evalset import EvalSet
from resnet_deploy.errors import (
    AccuracyBudgetError,
    BackendUnavailableError,
    MissingDependencyError,
    ResNetDeployError,
)
from resnet_deploy.metrics import drift_metrics
from resnet_deploy.reporter import Reporter, as_reporter
from resnet_deploy.runtime.base import Runner
from resnet_deploy.runtime.registry import runner_class
from resnet_deploy.runtime.resolve import Candidate, candidates, make_runner, parse_spec, resolve

REFERENCE = "torch:fp32"
FALLBACK_REFERENCE = "onnxruntime:fp32"


def choose_reference(manifest: Manifest) -> tuple[Candidate | None, str | None]:
    """The FP32 reference candidate and a note when it is not PyTorch."""
    why = ""
    for spec in (REFERENCE, FALLBACK_REFERENCE):
        try:
            cand = resolve(manifest, spec)
        except ResNetDeployError as exc:
            why = why or str(exc)
            continue
        if spec == REFERENCE:
            return cand, None
        return cand, f"drift is measured against {spec} because {REFERENCE} cannot run here ({why})"
    return None, f"no FP32 reference can run here ({why}); drift not measured"


def plan_candidates(manifest: Manifest, backends: list[str] | None) -> list[Candidate]:
    """``candidates`` plus a skipped entry for each asked-for key the artifact lacks."""
    found = candidates(manifest, backends)
    for spec in backends or []:
        backend, key = parse_spec(spec)
        if key and not any(c.backend == backend and c.key == key for c in found):
            found.append(Candidate(f"{backend}:{key}", backend, runner_class(backend), None,
                                   f"the artifact has no '{key}' file for {backend}"))
    return found


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}"


def _thin(samples_ns: np.ndarray) -> list[float]:
    ms = np.asarray(samples_ns, dtype=np.float64) / 1e6
    if ms.size > RAW_SAMPLES_CAP:
        ms = ms[np.linspace(0, ms.size - 1, RAW_SAMPLES_CAP).astype(int)]
    return [round(float(v), 6) for v in ms]


def bench_runner(
    make: Callable[[], Runner], row: BackendRow, cfg: BenchConfig, input_shape: tuple[int, ...],
    evalset: EvalSet | None, ui: Reporter,
) -> np.ndarray | None:
    """Fill ``row`` from one runner; returns its eval outputs. Errors mark the row, never raise."""
    sizes = cfg.sweep_sizes()
    outputs, runner = None, None
    try:
        runner = make()
        with MemorySampler(device=runner.device) as mem:
            t0 = time.perf_counter()
            runner.activate()
            row.activate_s = round(time.perf_counter() - t0, 4)
            for bs in sizes:
                if runner.max_batch is not None and bs > runner.max_batch:
                    continue
                out = np.asarray(runner.infer(make_input(input_shape, bs)))
                runner.synchronize()
                mem.sample()
                want = (bs, row_classes(runner))
                if out.shape != want:
                    raise ResNetDeployError(
                        f"output shape {out.shape}, expected {want}; the model and its manifest disagree, "
                        "re-export the artifact"
                    )
        row.memory = mem.result.to_dict() if mem.result else None
        with NoiseProbe() as noise:
            results, raw, skipped = sweep(runner, input_shape, sizes, cfg.plan, cfg.repeats)
        row.noise = noise.result.to_dict() if noise.result else None
        if evalset is not None:
            outputs = collect_outputs(runner, evalset, cfg.eval_batch)
    except (BackendUnavailableError, MissingDependencyError) as exc:
        row.status, row.reason = "skipped", str(exc)
        return None
    except MemoryError:
        row.status, row.reason = "failed", "out of memory"
        return None
    except Exception as exc:  # one backend's crash must not end the run
        row.status, row.reason = "failed", _one_line(exc)
        return None
    finally:
        try:
            if runner is not None:
                runner.deactivate()
        except Exception as exc:  # a failed cleanup is a note, not a failed row
            row.notes.append(f"deactivate failed: {_one_line(exc)}")
    row.batches = results
    row.skipped_batches = {str(k): v for k, v in skipped.items()}
    if 1 in raw:
        row.samples_ms = _thin(raw[1])
    add_scenarios(row, cfg, raw)
    return outputs


def row_classes(runner: Runner) -> int:
    return int(runner.manifest.model.num_classes)


def add_scenarios(row: BackendRow, cfg: BenchConfig, raw: dict[int, np.ndarray]) -> None:
    b1 = row.at(1)
    if "single-stream" in cfg.scenarios and b1 is not None:
        row.scenarios["single-stream"] = sc.single_stream(b1)
    if "offline" in cfg.scenarios and row.batches:
        row.scenarios["offline"] = sc.offline(row.batches)
    if "server" in cfg.scenarios and 1 in raw:
        res = sc.server(raw[1] / 1e6, bound_ms=cfg.server_bound_ms, target_qps=cfg.server_rate)
        row.scenarios["server"] = res.to_dict()


def _headline(row: BackendRow) -> str:
    if not row.ok:
        return f"{row.spec}: {row.status} ({row.reason})"
    parts = [row.spec]
    if row.p50_ms is not None:
        parts.append(f"p50 {row.p50_ms:.3f} ms")
    if row.best is not None:
        parts.append(f"{row.best.throughput:.1f} img/s @ {row.best.batch}")
    return "  ".join(parts)


def _new_row(c: Candidate, threads: int) -> BackendRow:
    e = c.entry
    row = BackendRow(spec=c.spec, backend=c.backend, status="ok", key=c.key, threads=threads,
                     file=e.path if e else None, precision=e.precision if e else None)
    row.device = c.runner_cls.device
    if c.skip_reason:
        row.status, row.reason = "skipped", c.skip_reason
    return row


def run_bench(
    artifact_dir: str | os.PathLike[str], config: BenchConfig,
    reporter: Reporter | Callable[[str], None] | None = None,
) -> BenchReport:
    """Benchmark every backend of ``artifact_dir`` (see module docstring); returns the report.

    ``reporter`` hears progress in plain text (a ``Reporter`` or a ``fn(message)`` callback).
    """
    config.validate()  # again: fields may have been changed since construction
    cfg = config
    art = Path(artifact_dir)
    manifest = load_manifest(art)
    want_peer, backends = _split_peer(cfg)
    threads = cfg.threads or usable_cores()
    ui = as_reporter(reporter)
    t_start = time.perf_counter()
    cands = plan_candidates(manifest, backends) if backends != [] else []
    report = BenchReport(
        artifact=str(art), model=_model_info(manifest), machine=machine_info(cfg.argv),
        config=dict(cfg.describe(), threads=threads, peer=want_peer), created_at=now_iso(),
    )
    ref_cand, note = choose_reference(manifest)
    report.reference = ref_cand.spec if ref_cand else None
    if note:
        report.notes.append(note)
    evalset = None
    if cfg.eval_data and ref_cand is not None:
        with ui.status(f"loading eval data '{cfg.eval_data}' ({cfg.eval_mode})"):
            evalset = load_eval_set(cfg.eval_data, manifest, cfg.eval_mode, cfg.eval_size)
    overhead = measure_harness_overhead()
    report.harness = {"null_runner_ms": overhead.to_dict(), "method": "NullRunner through the same timing loop"}
    peer_model, peer_row = prepare_peer(art, manifest, cfg, threads, report, ui) if want_peer else (None, None)
    shape = tuple(int(v) for v in manifest.input.shape[1:])
    if cfg.retime:  # the caller wants clean figures: do not start timing on a slow host
        settle(ui.info)
    outputs = _time_rows(report, art, cands, peer_row, peer_model, cfg, threads, shape, evalset, ui)
    if evalset is not None and ref_cand is not None:
        _add_drift(report, art, manifest, ref_cand, evalset, outputs, cfg, threads, ui)
    if cfg.live_server:
        add_live_server(report, art, cfg, ui)
    failure = _conclude(report, cfg, overhead)
    report.seconds = round(time.perf_counter() - t_start, 2)
    _write_reports(report, art, cfg, ui)
    if failure is not None:
        raise failure
    return report


def _split_peer(cfg: BenchConfig) -> tuple[bool, list[str] | None]:
    """(want the peer, backends without it): the peer may be named in --backends like any backend."""
    want_peer, backends = cfg.peer, cfg.backends
    if backends is not None:
        asked_peer = [b for b in backends if b.split(":")[0] == PEER_BACKEND]
        backends = [b for b in backends if b not in asked_peer]
        want_peer = want_peer or bool(asked_peer)
    return want_peer, backends


def _conclude(report: BenchReport, cfg: BenchConfig, overhead: LatencyStats) -> AccuracyBudgetError | None:
    """INT8 hardware note, harness overhead, selection; returns its failure (raised after writing)."""
    hw = report.machine.get("int8_note")
    if hw and any(r.ok and r.precision == "int8" for r in report.rows):
        report.notes.append(hw)
    fastest = min((r.p50_ms for r in report.ok_rows if r.p50_ms), default=None)
    if fastest:
        report.harness.update(overhead_pct=overhead_percent(overhead, fastest), vs_p50_ms=fastest)
    if cfg.select:
        try:
            report.selection = select_backend(report, cfg.select, cfg.max_drop)
        except AccuracyBudgetError as exc:
            report.notes.append(f"selection failed: {exc}")
            return exc
    return None


def _write_reports(report: BenchReport, art: Path, cfg: BenchConfig, ui: Reporter) -> None:
    """Write the report files and, with ``record``, the manifest summary and selection, under the lock."""
    from resnet_deploy.bench.files import write_report_files

    out_dir = Path(cfg.out_dir) if cfg.out_dir is not None else art / "bench"
    with artifact_lock(art, "bench", on_wait=ui.info), ui.status(f"writing reports to {out_dir}"):
        write_report_files(report, out_dir, art, plots=cfg.plots)
        if cfg.record:  # re-reads the manifest under the lock: a concurrent writer's files are kept
            summary = report.summary_record()
            update_manifest(art, lambda m: setattr(m, "bench", summary))
            if report.selection:
                record_selection(art, report.selection)


def _time_rows(
    report: BenchReport, art: Path, cands: list[Candidate], peer_row: BackendRow | None,
    peer_model: PeerModel | None, cfg: BenchConfig, threads: int, shape: tuple[int, ...],
    evalset: EvalSet | None, ui: Reporter,
) -> dict[str, np.ndarray]:
    """Time every row, then the head-to-head rounds, each in its own fresh process (``bench.isolated``).

    The eval inputs and the peer model go to a scratch folder the children read; returns
    each row's eval outputs for the drift computed afterwards, in this process.
    """
    outputs: dict[str, np.ndarray] = {}
    runnable = sum(1 for c in cands if not c.skip_reason) + int(peer_model is not None)
    with tempfile.TemporaryDirectory(prefix="resnet-deploy-bench-") as scratch:
        work = Path(scratch)
        eval_ref = save_eval(evalset, work) if evalset is not None else None
        if peer_model is not None:
            peer_model = save_peer(peer_model, work)
        jobs: list[tuple[BackendRow, PeerModel | None]] = [(_new_row(c, threads), None) for c in cands]
        if peer_row is not None:
            jobs.append((peer_row, peer_model))
        blanks = {row.spec: (copy.deepcopy(row), peer) for row, peer in jobs}

        def timed(row: BackendRow, peer: PeerModel | None, evals: Any) -> tuple[BackendRow, np.ndarray | None]:
            (row, out), probe = hostprobe.probed(lambda: time_row(art, row, cfg, shape, evals, peer))
            row.noise = hostprobe.record(row.noise, probe)
            return row, out

        with ui.progress("benchmarking backends (each in its own process)", total=runnable) as advance:
            for row, peer in jobs:
                if row.ok and (peer is not None or not row.peer):
                    row, out = timed(row, peer, eval_ref)
                    if out is not None:
                        outputs[row.spec] = out
                    ui.info(_headline(row))
                    advance(1)
                report.rows.append(row)
        noises = [r.noise for r in report.rows]
        hostprobe.mark(noises, hostprobe.reference(noises))
        retime_rows(report.rows, lambda r: timed(copy.deepcopy(blanks[r.spec][0]), blanks[r.spec][1], None)[0],
                    cfg.retime, ui.info)
        report.peer_comparison = peer_comparison(report.rows)
        if cfg.paired_rounds and peer_model is not None and report.peer_comparison:
            _add_paired(report, art, cands, peer_model, cfg, threads, shape, ui)
    return outputs


def _add_paired(
    report: BenchReport, art: Path, cands: list[Candidate], peer_model: PeerModel,
    cfg: BenchConfig, threads: int, shape: tuple[int, ...], ui: Reporter,
) -> None:
    """Head-to-head rounds of our best backends against the peer (``bench.paired``), each side of
    each round in its own fresh process."""
    pc = report.peer_comparison or {}
    measures: dict[str, Callable[[list[int]], dict[int, float]]] = {
        c.spec: (lambda b, c=c: measure_side(art, c.spec, threads, shape, b, cfg.plan))
        for c in cands if not c.skip_reason
    }
    total = cfg.paired_rounds * jobs_count(pc)
    try:
        with ui.progress("head-to-head rounds vs the peer", total=total) as advance:
            pc["paired"] = paired_vs_peer(
                pc, measures, lambda b: measure_side(art, PEER_BACKEND, threads, shape, b, cfg.plan, peer_model),
                cfg.plan, cfg.paired_rounds, on_round=lambda: advance(1),
                before_side=settle_side if cfg.retime else None,
            )
    except Exception as exc:  # the table's figures stand without the rounds
        report.notes.append(f"head-to-head rounds failed: {_one_line(exc)}")


def _add_drift(
    report: BenchReport, art: Path, manifest: Manifest, ref_cand: Candidate, evalset: EvalSet,
    outputs: dict[str, np.ndarray], cfg: BenchConfig, threads: int, ui: Reporter,
) -> None:
    """Fill ``row.drift`` for every row with outputs, running the reference if it was not benched."""
    ref = outputs.get(ref_cand.spec)
    if ref is None:
        try:
            with ui.status(f"reference outputs ({ref_cand.spec})"), \
                    make_runner(art, manifest, ref_cand, threads=threads) as runner:
                ref = collect_outputs(runner, evalset, cfg.eval_batch)
        except Exception as exc:  # without a reference only drift is missing
            report.notes.append(f"reference {ref_cand.spec} failed ({_one_line(exc)}); drift not measured")
            return
    for row in report.rows:
        out = outputs.get(row.spec)
        if out is None:
            continue
        row.drift = drift_row(drift_metrics(ref, out, evalset.labels), ref_cand.spec, evalset)


def _model_info(manifest: Manifest) -> dict[str, Any]:
    m = manifest.model
    return {"arch": m.arch, "num_classes": m.num_classes, "variant": m.variant, "params": m.params,
            "gmacs": m.gmacs, "input_shape": list(manifest.input.shape),
            "files": [f"{e.path} [{e.key}]" for e in manifest.files if e.format not in ("json", "labels")]}

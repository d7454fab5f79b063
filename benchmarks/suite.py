"""The benchmark suite: export -> INT8 -> bench every backend + the OpenVINO/NNCF peer, check targets.

    python benchmarks/suite.py            # ResNet-18 and ResNet-50 at 224 px, 3 repetitions
    python benchmarks/suite.py --quick    # one repetition, short budgets, batch sizes 1 and 16

For each architecture (random weights: speed does not depend on them) a fresh
spawned process exports ONNX + TorchScript + ExportedProgram and quantises to
INT8 on the built-in sample calibration set (``quantize_artifact``), so the
orchestrating parent never holds torch or calibration state; then it runs ``run_bench`` with the
same thread count for every backend and the NNCF peer (calibrated on the same
images), repeated to show the spread. Results go to
``benchmarks/results/<date>-<host>/`` (summary.md, suite.json, one full report
directory per model with JSON/CSV/Markdown/HTML/PNG) and
``benchmarks/results/latest.md``. Targets are printed as PASS/FAIL; the exit
status is 1 when a target fails (except with --quick, a smoke run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="1 repetition, 0.3 s budgets, batch 1 and 16, 64 eval images")
    p.add_argument("--archs", default="resnet18,resnet50",
                   help="comma-separated; the FIRST is the small model (harness overhead), the LAST the main one (peer/eager targets)")
    p.add_argument("--input-size", type=int, default=224)
    p.add_argument("--repeats", type=int, help="repetitions per timing (default 3, --quick 1)")
    p.add_argument("--time-budget", type=float, help="seconds per backend and batch size (default 2, --quick 0.3)")
    p.add_argument("--batch-sizes", help="default 1,2,4,8,16,32 (--quick 1,16)")
    p.add_argument("--threads", type=int, help="default: every usable core")
    p.add_argument("--paired-rounds", type=int, help="head-to-head rounds vs the NNCF peer (default 6, --quick 0)")
    p.add_argument("--calib-size", type=int, default=512, help="calibration images for our INT8 and the peer")
    p.add_argument("--eval-size", type=int, help="eval images for drift (default all 600, --quick 64)")
    p.add_argument("--backends", help="restrict backends (default: all; --quick skips torch-compile)")
    p.add_argument("--out", type=Path, default=RESULTS, help="results root (default benchmarks/results)")
    p.add_argument("--work-dir", type=Path, help="where the artifacts are built (default: a temp dir)")
    p.add_argument("--artifacts", help="comma-separated existing artifact directories to time instead of building "
                                       "--archs (small model first, main model last), e.g. artifacts/quickstart")
    p.add_argument("--retime", type=int, default=2,
                   help="re-time rows that were noisy (others used the CPU, or the host was slow) up to this many times (default 2)")
    return p.parse_args(argv)


def build_artifact(arch: str, size: int, out: Path, calib_size: int, gpu: bool) -> Path:
    """Export (random init) and quantise one architecture into ``out``."""
    from resnet_deploy.export.config import ExportConfig
    from resnet_deploy.export.pipeline import export_artifact
    from resnet_deploy.quantize.config import QuantizeConfig
    from resnet_deploy.quantize.pipeline import quantize_artifact

    export_artifact(ExportConfig(arch=arch, input_size=size, out=out, force=True,
                                 formats=("onnx", "torchscript", "exported-program")))
    targets = ("cpu", "openvino", "tensorrt") if gpu else ("cpu", "openvino")  # each CPU runtime's own form
    quantize_artifact(out, QuantizeConfig(calib_data="sample", calib_size=calib_size, targets=targets,
                                          eval_size=min(calib_size, 200)))
    return out


@dataclass(frozen=True)
class Plan:
    """The suite's settings after --quick and the defaults are applied."""

    repeats: int
    budget: float
    sizes: list[int]
    threads: int
    paired: int
    eval_size: int | None
    calib: int
    backends: list[str] | None


def make_plan(args: argparse.Namespace) -> Plan:
    from resnet_deploy.bench.machine import usable_cores
    from resnet_deploy.checks import parse_int_list

    backends = args.backends.split(",") if args.backends else None
    if backends is None and args.quick:
        from resnet_deploy.runtime.registry import backend_names

        backends = [b for b in backend_names() if b != "torch-compile"]
    return Plan(
        repeats=args.repeats or (1 if args.quick else 3),
        budget=args.time_budget or (0.3 if args.quick else 2.0),
        sizes=parse_int_list(args.batch_sizes or ("1,16" if args.quick else "1,2,4,8,16,32"), "--batch-sizes"),
        threads=args.threads or usable_cores(),
        paired=args.paired_rounds if args.paired_rounds is not None else (0 if args.quick else 6),
        eval_size=args.eval_size or (64 if args.quick else None),
        calib=min(args.calib_size, 64) if args.quick else args.calib_size,
        backends=backends,
    )


def bench_all(args: argparse.Namespace, plan: Plan, archs: list[str], given: list[Path], work: Path,
              staging: Path, out: Any) -> dict[str, Any]:
    """Build (in a spawned child) or take each artifact, then time it with ``run_bench``: arch -> report."""
    from resnet_deploy.bench import BenchConfig, run_bench
    from resnet_deploy.bench.machine import gpu_names
    from resnet_deploy.bench.worker import in_fresh_process

    gpu = bool(gpu_names())
    reports = {}
    for arch in archs:
        if given:
            art = given[archs.index(arch)]
        else:
            with out.status(f"{arch}: export + INT8 quantisation ({args.input_size} px, {plan.calib} calibration images)"):
                # in a spawned child: the parent that orchestrates the timing never loads torch,
                # calibration sessions or their memory (a suite that built in-process read
                # ResNet-50 INT8 15-27 % slower than `bench` on the same artifact)
                art = in_fresh_process(build_artifact, arch, args.input_size, work / arch, plan.calib, gpu).value
        cfg = BenchConfig(backends=plan.backends, batch_sizes=plan.sizes, time_budget=plan.budget,
                          repeats=plan.repeats, threads=plan.threads, paired_rounds=plan.paired,
                          eval_size=plan.eval_size, calib_data="sample", calib_size=plan.calib,
                          out_dir=staging / arch, argv=[sys.executable, *sys.argv], retime=args.retime,
                          extra={"suite": True, "quick": args.quick})
        reports[arch] = run_bench(art, cfg, reporter=out)
    return reports


def main(argv: list[str] | None = None) -> int:
    """Run the suite; bad options or artifacts are one ``error:`` line and exit status 2."""
    from resnet_deploy.errors import ResNetDeployError

    args = parse_args(argv)
    try:
        given = [Path(a.strip()) for a in (args.artifacts or "").split(",") if a.strip()]
        plan = make_plan(args)
        if given:
            from resnet_deploy.artifact import load_manifest

            for d in given:  # all of them before the first is timed
                load_manifest(d)
        return run_suite(args, plan, given)
    except ResNetDeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def free_run_dir(root: Path, name: str) -> Path:
    """``root/name``, or ``name-2``, ``name-3``... when an earlier run of the same day and host is there:
    a second run (a side artifact, another model) must not delete the first one's reports."""
    run_dir, n = root / name, 1
    while run_dir.exists():
        n += 1
        run_dir = root / f"{name}-{n}"
    return run_dir


def run_suite(args: argparse.Namespace, plan: Plan, given: list[Path]) -> int:
    from resnet_deploy.bench.suite import check_targets, summary_markdown
    from resnet_deploy.cli._common import Output

    archs = [d.name for d in given] or [a.strip() for a in args.archs.split(",") if a.strip()]
    host = socket.gethostname().split(".")[0]
    date = dt.date.today().isoformat()
    run_dir = free_run_dir(args.out, f"{date}-{host}")
    work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="resnet-deploy-suite-"))
    t0 = time.perf_counter()
    staging = args.out / f".{run_dir.name}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        reports = bench_all(args, plan, archs, given, work, staging, Output())
        targets = check_targets(reports[archs[-1]], reports[archs[0]])
        header = {"date": date, "host": host, "command": " ".join([Path(sys.executable).name, *sys.argv]),
                  "mode": "quick" if args.quick else "full", "threads": plan.threads, "repetitions": plan.repeats,
                  "time budget per backend and batch (s)": plan.budget, "batch sizes": plan.sizes,
                  "head-to-head rounds vs the peer": plan.paired, "calibration images": plan.calib,
                  "input size": args.input_size, "weights": "random init (speed does not depend on them)",
                  "seconds": round(time.perf_counter() - t0, 1)}
        summary = summary_markdown(reports, targets, {a: f"{a}/report.html" for a in archs}, header)
        (staging / "summary.md").write_text(summary)
        (staging / "suite.json").write_text(json.dumps(
            {"header": header, "targets": [t.to_dict() for t in targets],
             "reports": {a: r.summary() for a, r in reports.items()}}, indent=2, default=str) + "\n")
        staging.rename(run_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
    latest = summary_markdown(reports, targets, {a: f"{run_dir.name}/{a}/report.html" for a in archs}, header)
    (args.out / "latest.md").write_text(latest)
    return verdict(targets, run_dir, args.out, args.quick)


def verdict(targets: list[Any], run_dir: Path, root: Path, quick: bool) -> int:
    """Print each target and where the results are; 1 when a target failed (not for a --quick smoke run)."""
    print("\n".join(t.line() for t in targets))
    print(f"results: {run_dir}/summary.md (latest: {root / 'latest.md'})")
    noisy = [t.name for t in targets if t.status == "NOISY"]
    if noisy:
        print(f"not judged ({len(noisy)} target(s)): the machine was busy while their rows were timed; "
              "stop other work and run the suite again")
    failed = any(t.status == "FAIL" for t in targets)
    return 1 if failed and not quick else 0


if __name__ == "__main__":
    sys.exit(main())

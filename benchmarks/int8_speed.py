"""INT8 post-training quantisation: speed on ResNet-50 and accuracy on the trained demo models.

Two parts (``--part speed|accuracy|all``):

speed    exports ResNet-50 at 224 px (random weights: latency does not depend on
         them), calibrates on the built-in sample set at 224 px with 512 images
         (``quantize_artifact``, both targets), then times FP32, INT8 ``cpu`` and
         INT8 ``tensorrt`` Q/DQ models in ONNX Runtime's CPU provider with a fixed
         thread count, batch 1 (median / p90 of ``--iters`` after ``--warmup``).
         Reports calibration time for the 512 images, file sizes and the speed-up.
accuracy for each calibration method (entropy, minmax, percentile) quantises the
         trained demo model (``--preset``, default quickstart = ResNet-18 at 64 px)
         and reports held-out top-1 FP32 -> INT8, agreement and size per target: the
         measurement behind ``quantize.config.DEFAULT_METHOD``.

Writes Markdown to stdout and, with ``--out``, to a file (benchmarks/results/int8.md).
The development machine is shared: treat its numbers as provisional. Examples:

    python benchmarks/int8_speed.py --part all --out benchmarks/results/int8.md
    python benchmarks/int8_speed.py --part speed --arch resnet18 --size 64 --calib-size 32 --iters 5   # smoke
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from resnet_deploy.bench.machine import machine_line
from resnet_deploy.bench.onnx_latency import onnx_file_latency


def latency_ms(path: Path, size: int, threads: int, iters: int, warmup: int) -> dict[str, float]:
    """median / p90 / min ms of one ONNX file (``bench.onnx_latency``; p90 interpolated)."""
    s = onnx_file_latency(path, size, threads=threads, iters=iters, warmup=warmup)
    return {"median": s.p50, "p90": s.p90, "min": s.min}


def speed(args: argparse.Namespace, work: Path) -> tuple[str, dict[str, Any]]:
    from resnet_deploy.export import ExportConfig, export_artifact
    from resnet_deploy.quantize import DEFAULT_METHOD, QuantizeConfig, quantize_artifact

    art = work / f"{args.arch}-{args.size}"
    t0 = time.perf_counter()
    export_artifact(ExportConfig(arch=args.arch, input_size=args.size, formats=("onnx",), out=art, force=True))
    export_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = quantize_artifact(art, QuantizeConfig(
        calib_size=args.calib_size, calib_method=args.method or DEFAULT_METHOD,
        targets=("cpu", "tensorrt"), batch_size=args.calib_batch, eval_size=args.eval_size,
        report_size=args.report_size,
    ))
    quant_s = time.perf_counter() - t0
    files = {"fp32": art / "model.fp32.onnx", "int8-cpu": art / "model.int8-cpu.onnx",
             "int8-tensorrt": art / "model.int8-tensorrt.onnx"}
    lat = {k: latency_ms(p, args.size, args.threads, args.iters, args.warmup) for k, p in files.items()}
    fp32_size = files["fp32"].stat().st_size
    cal = result.calibration
    lines = [
        f"### {args.arch} at {args.size} px, batch 1, ONNX Runtime CPU EP, {args.threads} thread(s)",
        "",
        f"Machine: {machine_line()}. onnxruntime {__import__('onnxruntime').__version__}. "
        f"{args.warmup} warm-up runs, then {args.iters} timed runs.",
        "",
        "| model | file MB | % of FP32 | median ms | p90 ms | min ms | speed-up vs FP32 (median) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, path in files.items():
        size = path.stat().st_size
        sp = lat["fp32"]["median"] / lat[key]["median"]
        lines.append(f"| {key} | {size / 1e6:.1f} | {100 * size / fp32_size:.1f} | {lat[key]['median']:.1f} | "
                     f"{lat[key]['p90']:.1f} | {lat[key]['min']:.1f} | {sp:.2f}x |")
    fusion = result.targets["cpu"].fusion or {}
    lines += [
        "",
        f"Calibration: {cal['method']} on {cal['count']} sample images at {args.size} px, batch "
        f"{args.calib_batch}: **{cal['seconds']:.1f} s**. Whole quantize stage (prepare, calibrate, "
        f"drift on {args.eval_size} eval images, SQNR report, both targets): {quant_s:.1f} s; "
        f"export: {export_s:.1f} s. ORT runs {fusion.get('int8')}/{fusion.get('convs')} convs of the "
        "cpu target as int8 kernels.",
    ]
    raw = {"latency_ms": lat, "sizes": {k: p.stat().st_size for k, p in files.items()},
           "calibration": cal, "quantize_seconds": quant_s, "export_seconds": export_s, "fusion": fusion}
    return "\n".join(lines), raw


def accuracy(args: argparse.Namespace, work: Path) -> tuple[str, dict[str, Any]]:
    import shutil

    from resnet_deploy.demo_model import ensure_demo_model
    from resnet_deploy.export import ExportConfig, export_artifact
    from resnet_deploy.quantize import QuantizeConfig, quantize_artifact

    sm = ensure_demo_model(args.preset)
    base = work / f"sample-{args.preset}"
    export_artifact(ExportConfig(arch=sm.arch, weights=sm.checkpoint, num_classes=sm.num_classes,
                                 input_size=sm.input_size, preprocessing=sm.preprocessing, labels=sm.labels,
                                 formats=("onnx",), out=base, force=True))
    lines = [
        f"### Calibration method on the trained demo model '{args.preset}' ({sm.arch} at {sm.input_size} px)",
        "",
        f"Held-out sample eval split (600 labelled images), {args.calib_size} calibration images from the "
        "disjoint calib split. Drop = FP32 top-1 minus INT8 top-1, in points; both targets run in ORT CPU.",
        "",
        "| method | target | top-1 FP32 | top-1 INT8 | drop (pt) | top-5 INT8 | agreement | cosine | "
        "% of FP32 size | calibration s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    raw: dict[str, Any] = {}
    for method in ("entropy", "minmax", "percentile"):
        art = work / f"sample-{args.preset}-{method}"
        shutil.rmtree(art, ignore_errors=True)
        shutil.copytree(base, art)
        res = quantize_artifact(art, QuantizeConfig(calib_method=method, calib_size=args.calib_size,
                                                    report_size=args.report_size))
        raw[method] = res.to_dict()
        for target, t in res.targets.items():
            d = t.drift.to_dict()
            lines.append(
                f"| {method} | {target} | {100 * d['ref_top1']:.2f} | {100 * d['top1']:.2f} | "
                f"{d['drop_points']:+.2f} | {100 * d['top5']:.2f} | {100 * d['agreement']:.2f} | "
                f"{d['cosine_mean']:.5f} | {100 * t.size_ratio:.1f} | {res.calibration['seconds']:.1f} |"
            )
    return "\n".join(lines), raw


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", choices=("speed", "accuracy", "all"), default="speed")
    p.add_argument("--arch", default="resnet50")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--calib-size", type=int, default=512)
    p.add_argument("--calib-batch", type=int, default=16, help="images per calibration batch (memory)")
    p.add_argument("--method", default=None, help="calibration method for the speed part (default: the library's)")
    p.add_argument("--eval-size", type=int, default=200)
    p.add_argument("--report-size", type=int, default=8)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--iters", type=int, default=50)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--preset", default="quickstart", help="demo model for the accuracy part")
    p.add_argument("--work-dir", type=Path, default=None, help="keep artifacts here (default: a temp dir)")
    p.add_argument("--out", type=Path, default=None, help="write the Markdown here")
    p.add_argument("--json", type=Path, default=None, help="write the raw numbers here")
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="int8-bench-") as tmp:
        work = args.work_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        sections, raw = [], {}
        if args.part in ("speed", "all"):
            text, raw["speed"] = speed(args, work)
            sections.append(text)
        if args.part in ("accuracy", "all"):
            text, raw["accuracy"] = accuracy(args, work)
            sections.append(text)
    md = "\n\n".join(sections) + "\n"
    print(md)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(md)
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

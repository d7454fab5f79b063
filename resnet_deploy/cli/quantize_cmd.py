"""``resnet-deploy quantize``: INT8 (per target) and FP16 models for an exported artifact.

``int8_options`` and ``config_from_options`` are shared with ``export --int8``.
Option values are parsed here (not by click types) so that every bad value is a
one-line ``error: ...`` with exit 2.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from resnet_deploy.checks import parse_int, parse_number
from resnet_deploy.cli._common import Output, output_options
from resnet_deploy.quantize.config import (
    DEFAULT_METHOD,
    DEFAULT_PERCENTILE,
    METHODS,
    TARGETS,
    QuantizeConfig,
)

F = TypeVar("F", bound=Callable[..., Any])

INT8_OPTION_NAMES = (
    "calib_data",
    "calib_size",
    "calib_method",
    "percentile",
    "targets",
    "fp16",
    "max_drop",
    "eval_data",
    "recalibrate",
)


def int8_options(fn: F) -> F:
    """The quantize options as one decorator (keyword names in ``INT8_OPTION_NAMES``)."""
    options = [
        click.option("--calib-data", default="sample", show_default=True, metavar="DIR|FILE|sample",
                     help="Calibration images: an image folder, a .npy/.npz file, or the built-in sample set."),
        click.option("--calib-size", default="512", show_default=True, metavar="N|all",
                     help="Calibration images to use (a seeded representative subset); 'all' uses every image."),
        click.option("--calib-method", default=DEFAULT_METHOD, show_default=True, metavar="|".join(METHODS),
                     help="How activation ranges are chosen from the calibration data (default chosen "
                          "by measurement: benchmarks/results/int8.md)."),
        click.option("--percentile", default=str(DEFAULT_PERCENTILE), show_default=True, metavar="P",
                     help="Percentile kept by --calib-method percentile."),
        click.option("--targets", default=",".join(TARGETS), show_default=True, metavar="cpu,tensorrt,openvino",
                     help="INT8 flavours to emit: cpu (U8S8 for ONNX Runtime), tensorrt (symmetric S8S8), "
                          "openvino (U8S8 in the form OpenVINO compiles best)."),
        click.option("--fp16", is_flag=True, help="Also write model.fp16.onnx (FP16 compute, FP32 inputs/outputs)."),
        click.option("--max-drop", default=None, metavar="POINTS",
                     help="Accuracy budget in top-1 points vs FP32; sensitive layers stay float until met."),
        click.option("--eval-data", default=None, metavar="SPEC",
                     help="Data for the accuracy check [default: the sample eval split, else --calib-data]."),
        click.option("--recalibrate", is_flag=True, help="Ignore a matching calibration.json and calibrate again."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def no_select_option(fn: F) -> F:
    """``--no-select``: skip the short timing that records the CPU INT8 backend for backend='auto'."""
    return click.option(
        "--no-select", is_flag=True,
        help="Skip timing the CPU INT8 backends here (a few seconds, batch 1, each in its own process) "
             "to record the fastest for backend='auto'; load() then probes at startup instead.",
    )(fn)


def config_from_options(kwargs: dict[str, Any]) -> QuantizeConfig:
    """Pop the ``int8_options`` keywords from ``kwargs`` and build a validated QuantizeConfig."""
    opts = {name: kwargs.pop(name) for name in INT8_OPTION_NAMES if name in kwargs}
    size = opts.get("calib_size", "512")
    if isinstance(size, str) and size.strip().lower() == "all":
        calib_size = None
    else:
        calib_size = parse_int(size, "--calib-size", hint="pass a positive integer or 'all', e.g. 512")
    config = QuantizeConfig(
        calib_data=opts.get("calib_data", "sample"),
        calib_size=calib_size,
        calib_method=str(opts.get("calib_method", DEFAULT_METHOD)).strip().lower(),
        percentile=parse_number(opts.get("percentile", str(DEFAULT_PERCENTILE)), "--percentile",
                                hint="pass e.g. 99.99"),
        targets=tuple(t.strip().lower() for t in str(opts.get("targets", "")).split(",") if t.strip()),
        fp16=bool(opts.get("fp16", False)),
        max_drop=parse_number(opts.get("max_drop"), "--max-drop", hint="pass e.g. 0.5 (top-1 points)"),
        eval_data=opts.get("eval_data"),
        recalibrate=bool(opts.get("recalibrate", False)),
    )
    return config


@click.command("quantize")
@click.argument("artifact", type=click.Path(path_type=Path))
@int8_options
@no_select_option
@output_options
def quantize(artifact: Path, out: Output, no_select: bool, **kwargs: Any) -> None:
    """Add INT8 (and FP16) ONNX models to an exported ARTIFACT.

    Calibrates once (ranges saved in calibration.json and reused), then writes
    model.int8-cpu.onnx (uint8 activations, fastest in ONNX Runtime on CPUs) and
    model.int8-tensorrt.onnx (symmetric int8 with Q/DQ on residual adds, for
    TensorRT) and model.int8-openvino.onnx (the cpu form with float biases and
    NNCF's head placement, for OpenVINO), reports FP32-vs-INT8 drift and per-layer SQNR (quant_report.json).
    With --max-drop the most sensitive layers stay in float until the budget is met
    (exit 1 if it cannot be). Then the CPU INT8 backends are timed briefly and the
    fastest on this CPU is recorded for backend='auto' (skip with --no-select).

    \b
    Example:
      resnet-deploy quantize artifacts/resnet50 --calib-data ~/imagenet/val --max-drop 0.5
    \b
    Example (built-in sample data, CPU target and FP16 only):
      resnet-deploy quantize artifacts/quickstart --targets cpu --fp16
    """
    from resnet_deploy.quantize import quantize_artifact

    config = config_from_options(kwargs)
    result = quantize_artifact(artifact, config, reporter=out)
    data = result.to_dict()
    if not no_select:
        from resnet_deploy.bench.autoselect import record_auto_selection

        sel = record_auto_selection(artifact, out)
        if sel is not None:
            data["auto_selection"] = sel.to_dict()
    out.result(data, lambda: render(out, result))


def render(out: Output, result: Any) -> None:
    """Human summary: calibration line, one row per model, worst layers, notes."""
    from rich.table import Table

    c = result.calibration
    if c:
        how = "reused calibration.json" if result.calibration_reused else f"calibrated in {c['seconds']:.1f} s"
        pct = f" {c['percentile']:g}" if c.get("percentile") is not None else ""
        out.info(f"Calibration: {c['method']}{pct} on {c['count']} images of {c['dataset']} ({how})")
    table = Table(title=f"Quantized models in {result.artifact_dir}")
    for col in ("file", "size vs FP32", "top-1 FP32 → INT8", "agreement", "max |Δlogit|", "cosine",
                "kept float", "int8 convs"):
        table.add_column(col)
    for t in result.targets.values():
        d = t.drift
        top1 = "n/a (no labels)"
        if d.labelled and d.ref_top1 is not None and d.top1 is not None:
            top1 = f"{100 * d.ref_top1:.2f}% → {100 * d.top1:.2f}%"
        fused = f"{t.fusion['int8']}/{t.fusion['convs']}" if t.fusion else "-"
        table.add_row(t.path.name, f"{t.size / 1e6:.2f} MB ({100 * t.size_ratio:.1f}%)", top1,
                      f"{100 * d.agreement:.2f}%", f"{d.max_abs:.3g}", f"{d.cosine_mean:.5f}",
                      str(len(t.excluded_nodes)), fused)
    if result.fp16:
        p = result.fp16["parity"]
        table.add_row(result.fp16["file"], "-", "parity", f"{100 * p['top1_agreement']:.2f}%",
                      f"{p['max_abs']:.3g}", "-", "-", "-")
    out.table(table)
    for target, rows in result.worst_layers.items():
        if not rows:
            continue
        worst = ", ".join(f"{r['tensor']} {r['sqnr_db']:.1f} dB" for r in rows)  # the worst ten (report.WORST)
        out.info(f"Lowest SQNR ({target}): {worst}  (all layers: quant_report.json)")
    for t in result.targets.values():
        if t.excluded_nodes:
            out.info(f"Kept in float for {t.target}: {', '.join(t.excluded_nodes)}")

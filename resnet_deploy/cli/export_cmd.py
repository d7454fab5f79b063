"""``resnet-deploy export``: parse options, call ``run_pipeline``, print a summary.

``--int8``/``--fp16`` (quantize) and ``--tensorrt`` (engines) run in the same
hidden directory as the export (``resnet_deploy.pipeline``), so a failed stage
leaves no FP32-only artifact behind; their summaries follow the export table
(``render_export_summary(extra=..., after=...)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from resnet_deploy.checks import parse_int
from resnet_deploy.cli._common import Output, check_out, output_options
from resnet_deploy.cli.engine_cmd import make_engine_config, render_engine_summary
from resnet_deploy.cli.quantize_cmd import config_from_options, int8_options, no_select_option

if TYPE_CHECKING:
    from resnet_deploy.engines.build import EngineConfig
    from resnet_deploy.pipeline import PipelineResult
    from resnet_deploy.quantize.config import QuantizeConfig

DEFAULT_FORMATS = "onnx,torchscript,exported-program"


def _fmt_size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def render_export_summary(
    out: Output, result: Any, extra: dict[str, Any] | None = None, after: Any = None
) -> None:
    """The command's final output: JSON on stdout with --json, else a table (nothing with --quiet).

    ``extra`` holds sections added by later pipeline steps (merged into the JSON).
    """
    data = result.to_dict()
    if extra:
        data.update(extra)

    def human() -> None:
        from rich.table import Table

        m = result.manifest
        table = Table(title=f"Exported {m.model.arch} to {result.out_dir}")
        for col, justify in [("file", "left"), ("size", "right"), ("export s", "right"),
                             ("max |diff|", "right"), ("/ range", "right"), ("top-1", "right")]:
            table.add_column(col, justify=justify)  # type: ignore[arg-type]
        for f in result.files:
            p = result.parity.get(f"{f.format}:{f.precision}")
            secs = result.timings.get(f"export:{f.format}")
            table.add_row(
                f.path, _fmt_size(f.size), f"{secs:.1f}" if secs is not None else "",
                f"{p['max_abs']:.2e}" if p else "", f"{p['rel_to_range']:.1e}" if p else "",
                f"{100 * p['top1_agreement']:.0f}%" if p else "",
            )
        out.table(table)
        s = m.input.size
        out.info(
            f"{m.model.arch} ({m.model.variant}), {m.model.num_classes} classes, "
            f"{m.model.params / 1e6:.2f}M params, {m.model.gmacs:.2f} GMACs at {s}x{s}; "
            f"parity passed for {len(result.parity)} format(s) in {result.seconds:.1f} s"
        )
        if after is not None:
            after()
        out.info(f"Next: resnet-deploy bench {result.out_dir}   or   resnet-deploy predict {result.out_dir} IMAGE")

    out.result(data, human)


@click.command("export")
@click.option("--arch", "-a", required=True, help="Architecture name, e.g. resnet50 (see 'resnet-deploy models').")
@click.option("--weights", "-w", default=None, metavar="FILE",
              help="A .pth/.pt/.safetensors state_dict (default: random initialisation).")
@click.option("--num-classes", default=None, metavar="N",
              help="Classifier size (default: from --weights, else --labels, else 1000; CIFAR nets 10).")
@click.option("--input-size", default=None, metavar="S",
              help="Square input side in pixels, >= 32 (default: the architecture's, 224 or 32).")
@click.option("--variant", default="v1.5", show_default=True, metavar="v1.5|v1",
              help="Bottleneck stride placement: v1.5 (torchvision, on the 3x3) or v1 (paper, on the 1x1).")
@click.option("--new-head", is_flag=True,
              help="Keep the checkpoint's backbone but a fresh classifier of --num-classes outputs.")
@click.option("--formats", default=DEFAULT_FORMATS, show_default=True, metavar="LIST",
              help="Comma-separated: onnx, torchscript, exported-program (pt2). Default is all three; "
                   "the benchmark's PyTorch rows need the exported-program.")
@click.option("--opset", default=None, metavar="N",
              help="ONNX opset, 18 or newer (default: the dynamo exporter's default, recorded in the manifest).")
@click.option("--labels", default=None, metavar="FILE", help="Class names, one per line (stored as labels.txt).")
@click.option("--out", "-o", "out_dir", default=None, metavar="DIR", callback=check_out,
              help="Artifact directory to create (default: artifacts/<arch> under the current directory).")
@click.option("--force", "-f", is_flag=True, help="Replace DIR if it already exists.")
@click.option("--int8", is_flag=True,
              help="Also quantise to INT8 (Q/DQ per --targets) from --calib-data, in the same atomic run.")
@int8_options
@no_select_option
@click.option("--tensorrt", is_flag=True,
              help="Also build a TensorRT engine (INT8 with --int8, else FP32; FP16 too with --fp16).")
@click.option("--engine-batch", default="1,8,32", show_default=True, metavar="MIN,OPT,MAX",
              help="Engine optimisation profile over the batch dimension (with --tensorrt).")
@click.option("--engine-family", default="auto", show_default=True, metavar="auto|tensorrt|tensorrt-rtx",
              help="Engine library (with --tensorrt); auto prefers TensorRT, else TensorRT-RTX.")
@output_options
def export(
    out: Output, arch: str, weights: str | None, num_classes: str | None, input_size: str | None,
    variant: str, new_head: bool, formats: str, opset: str | None, labels: str | None,
    out_dir: str | None, force: bool, int8: bool, no_select: bool, tensorrt: bool, engine_batch: str,
    engine_family: str, **int8_kwargs: Any,
) -> None:
    """Export a ResNet to ONNX, TorchScript and torch.export, verified against PyTorch.

    BatchNorm is folded, every file is checked by running it (ONNX through
    onnxruntime) against the PyTorch model (max |diff| <= 1e-3 x logit range,
    100% top-1 agreement, else exit 1), and everything lands in one artifact
    directory with a manifest.json. A failed run leaves nothing behind.

    With --int8 (and/or --fp16) the artifact also gets model.int8-cpu.onnx,
    model.int8-tensorrt.onnx and model.int8-openvino.onnx (and their raw-pixel twins) from one
    calibration, checked against --max-drop, and the CPU INT8 backends are timed briefly to record
    the fastest on this CPU for backend='auto' (--no-select skips it); with --tensorrt an engine is
    built too. All stages succeed or nothing is written.

    \b
    Example:
      resnet-deploy export --arch resnet50 --weights resnet50.pth --out artifacts/r50
      resnet-deploy export --arch resnet50 --weights resnet50.pth --int8 --calib-data /data/val --calib-size 512
      resnet-deploy export --arch resnet18 --num-classes 10 --input-size 64 --formats onnx
    """
    from resnet_deploy.export import ExportConfig
    from resnet_deploy.pipeline import PipelineConfig, run_pipeline

    fp16 = bool(int8_kwargs.get("fp16"))
    calib_data, eval_data = int8_kwargs.get("calib_data"), int8_kwargs.get("eval_data")
    quant, engines = _stage_configs(int8, fp16, tensorrt, engine_batch, engine_family, int8_kwargs)
    config = ExportConfig(
        arch=arch,
        weights=weights,
        num_classes=parse_int(num_classes, "--num-classes", minimum=None, hint="pass e.g. 10"),
        input_size=parse_int(input_size, "--input-size", minimum=None, hint="pass e.g. 224"),
        variant=variant,
        formats=formats,
        opset=parse_int(opset, "--opset", minimum=None, hint="pass e.g. 18, or leave --opset out"),
        out=out_dir,
        force=force,
        new_head=new_head,
        labels=labels,
        parity_data=eval_data or (calib_data if (int8 or fp16 or calib_data != "sample") else None),
    )
    select = int8 and not no_select  # time the CPU INT8 backends here for backend='auto'
    result = run_pipeline(PipelineConfig(export=config, quantize=quant, engines=engines, select=select), reporter=out)
    _render_pipeline(out, result)


def _stage_configs(
    int8: bool, fp16: bool, tensorrt: bool, engine_batch: str, engine_family: str, int8_kwargs: dict[str, Any],
) -> tuple[QuantizeConfig | None, list[EngineConfig]]:
    """(quantize config or None, engine configs) for the stages that follow the export."""
    quant = None
    if int8 or fp16:
        if not int8:
            int8_kwargs["targets"] = ""
        quant = config_from_options(int8_kwargs)
    engines: list[EngineConfig] = []
    if tensorrt:
        precisions = ["int8" if int8 else "fp32"] + (["fp16"] if fp16 else [])
        engines = [make_engine_config(p, engine_batch, None, None, None, engine_family, False, False)
                   for p in precisions]
    return quant, engines


def _render_pipeline(out: Output, result: PipelineResult) -> None:
    """The export table, then the quantize and engine summaries (merged into the JSON with --json)."""
    extra: dict[str, Any] = {}
    if result.quantize is not None:
        extra["quantize"] = result.quantize.to_dict()
    if result.engines:
        extra["engines"] = [e.to_dict() for e in result.engines]
    if result.selection is not None:
        extra["auto_selection"] = result.selection.to_dict()

    def more() -> None:
        if result.quantize is not None:
            from resnet_deploy.cli.quantize_cmd import render as render_quant

            render_quant(out, result.quantize)
        for e in result.engines:
            render_engine_summary(out, e)

    render_export_summary(out, result.export, extra=extra, after=more)

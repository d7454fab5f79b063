"""``resnet-deploy quickstart``: the whole pipeline on built-in data, one command."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from resnet_deploy.checks import parse_int_list
from resnet_deploy.cli._common import Output, check_out, escape, output_options


def quickstart_table(report: Any) -> Any:
    """Accuracy and speed per backend that ran, narrow enough for an 80-column terminal."""
    from rich import box
    from rich.table import Table

    ref = report.row(report.reference) if report.reference else None
    ref_top1 = (ref.drift or {}).get("top1") if ref else None
    t = Table(title=f"{report.model.get('arch')}: held-out accuracy and CPU speed "
                    f"({report.config.get('threads')} threads)", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1))
    t.caption = "top-1 on held-out images; Δ vs the FP32 reference; p50/p99 ms at batch 1; best img/s @batch"
    for col in ("backend", "top-1%", "Δ pt", "agree%", "p50", "p99", "img/s"):
        t.add_column(col, justify="left" if col == "backend" else "right", no_wrap=True)
    for r in sorted(report.ok_rows, key=lambda r: r.p50_ms or float("inf")):
        d = r.drift or {}
        top1, agree = d.get("top1"), d.get("agreement")
        b1, best = r.at(1), r.best
        t.add_row(
            r.spec + (" (peer)" if r.peer else "") + (" NOISY" if (r.noise or {}).get("noisy") else ""),
            f"{100 * top1:.2f}" if top1 is not None else "",
            f"{100 * (top1 - ref_top1):+.2f}" if top1 is not None and ref_top1 is not None else "",
            f"{100 * agree:.1f}" if agree is not None else "",
            f"{b1.latency.p50:.2f}" if b1 else "",
            f"{b1.latency.p99:.2f}" if b1 else "",
            f"{best.throughput:.0f}@{best.batch}" if best else "",
        )
    return t


def render_quickstart(out: Output, res: Any) -> None:
    """The closing table, the skipped backends, the verdict lines and the report path."""
    from resnet_deploy.bench.render import noisy_rows, peer_lines

    report = res.bench
    out.table(quickstart_table(report))
    noisy = noisy_rows(report)
    if noisy:
        worst = max((r.noise or {}).get("others_cores") or 0.0 for r in noisy)
        slow = [r.spec for r in noisy if (r.noise or {}).get("host_slow")]
        why = f"other processes used up to {worst:.2f} of a core"
        if slow:
            why += f", or the host itself was slow ({', '.join(slow)}: a cross-core probe read slow)"
        out.warn(f"{len(noisy)} row(s) marked NOISY were timed while {why}, and timing them again did not "
                 "clear it; do not act on their figures: stop other work and run quickstart again")
    skipped = [r for r in report.rows if not r.ok]
    if skipped:
        out.info("not run here: " + "; ".join(f"{r.spec} ({(r.reason or r.status).split(' (')[0]})"
                                               for r in skipped))
    ref = report.row(report.reference) if report.reference else None
    ref_top1 = (ref.drift or {}).get("top1") if ref else None
    if ref_top1 is not None:
        out.info(f"FP32 reference {report.reference}: top-1 {100 * ref_top1:.2f}% on "
                 f"{(ref.drift or {}).get('n', '?')} held-out images")
    for line in peer_lines(report):
        out.info(f"vs peer: {line}")
    hw = report.machine.get("int8_note")
    if hw:
        out.note(hw)
    if report.selection:
        s = report.selection
        row = report.row(s["backend"])
        speed = ""
        if row is not None and ref is not None and row.p50_ms and ref.p50_ms:
            speed = f", {ref.p50_ms / row.p50_ms:.1f}x faster than {ref.spec} at batch 1"
        out.markup(f"selected for serving: [bold]{escape(s['backend'])}[/bold] ({s['strategy']} within "
                   f"{s.get('max_drop')} pt){escape(speed)}")
    out.info(f"artifact: {res.out_dir}")
    if res.html_report:
        out.info(f"HTML report: {res.out_dir / res.html_report}")
    out.info(f"done in {res.seconds:.0f} s  (next: resnet-deploy predict {res.out_dir} IMAGE)")


@click.command("quickstart")
@click.option("--out", "out_dir", default="artifacts/quickstart", show_default=True, metavar="DIR", callback=check_out,
              help="Artifact directory (replaced if it exists).")
@click.option("--preset", default="quickstart", show_default=True, type=click.Choice(["quickstart", "resnet50", "tiny"]),
              help="Demo model: quickstart = resnet18 at 64 px; resnet50 = ResNet-50 at 64 px; "
                   "tiny = resnet20 at 32 px (fast).")
@click.option("--calib-size", default=512, show_default=True, type=click.IntRange(min=1),
              help="Calibration images from the built-in set.")
@click.option("--max-drop", default=0.5, show_default=True, type=click.FloatRange(0, 100),
              help="INT8 accuracy budget in top-1 points vs FP32.")
@click.option("--batch-sizes", default="1,16", show_default=True, metavar="LIST", help="Batch sizes to time.")
@click.option("--time-budget", default=1.0, show_default=True, type=click.FloatRange(min=0.05),
              help="Seconds of timed runs per backend and batch size.")
@click.option("--threads", default=None, type=click.IntRange(min=1), help="CPU threads (default: all cores).")
@click.option("--no-peer", is_flag=True, help="Skip the OpenVINO+NNCF INT8 peer row.")
@click.option("--cache-dir", default=None, metavar="DIR",
              help="Where the trained demo model is cached (default: $RESNET_DEPLOY_CACHE or ~/.cache/resnet-deploy).")
@output_options
def quickstart(out: Output, out_dir: str, preset: str, calib_size: int, max_drop: float, batch_sizes: str,
               time_budget: float, threads: int | None, no_peer: bool, cache_dir: str | None) -> None:
    """Run the whole pipeline on built-in data, offline, and print accuracy and speed.

    Trains the demo model once (ResNet-18 on scikit-learn's digits plus a
    generated harder set; cached afterwards), exports it with INT8 for the cpu,
    openvino and tensorrt targets (calibrated on the built-in set, accuracy-guarded),
    builds a TensorRT engine when a TensorRT module is installed, and benchmarks
    every CPU backend plus the OpenVINO+NNCF INT8 peer on held-out images.

    \b
    Example:
      resnet-deploy quickstart
      resnet-deploy quickstart --preset tiny --time-budget 0.3 --json
    """
    from resnet_deploy.quickstart import QuickstartConfig, run_quickstart

    cfg = QuickstartConfig(
        out=Path(out_dir), preset=preset, calib_size=calib_size, max_drop=max_drop,
        batch_sizes=tuple(parse_int_list(batch_sizes, "--batch-sizes")), time_budget=time_budget,
        threads=threads, peer=not no_peer, cache_dir=Path(cache_dir) if cache_dir else None,
        argv=["resnet-deploy", *sys.argv[1:]],
    )
    res = run_quickstart(cfg, reporter=out)
    out.result(res.to_dict(), lambda: render_quickstart(out, res))

"""``resnet-deploy bench`` and ``resnet-deploy compare``: parse, call the library, print."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from resnet_deploy.checks import parse_int_list
from resnet_deploy.cli._common import Output, check_out, escape, output_options


def _csv(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def _rates(value: str | None) -> list[float] | None:
    from resnet_deploy.checks import parse_number

    return None if value is None else [parse_number(v, "--server-rates", hint="pass e.g. 20,50,100")
                                       for v in value.split(",") if v.strip()]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("artifact", metavar="ARTIFACT")
@click.option("--backends", metavar="A,B", help="Backend specs to time (e.g. onnxruntime,openvino:int8-cpu). Default: every backend/file pair; unavailable ones are listed as skipped.")
@click.option("--batch-sizes", metavar="1,8,32", help="Batch sizes to time. Default: 1,2,4,... up to --max-batch.")
@click.option("--max-batch", type=int, default=32, show_default=True, help="Largest batch of the default sweep.")
@click.option("--scenario", "scenario", default="all", show_default=True,
              type=click.Choice(["single-stream", "offline", "server", "all"]),
              help="MLPerf-style scenario(s) to report.")
@click.option("--iterations", type=int, help="Timed calls per backend and batch size.")
@click.option("--time-budget", type=float, help="Seconds of timed calls per backend and batch size (default 1 s when --iterations is not given; with both, whichever ends first).")
@click.option("--warmup", type=int, default=10, show_default=True, help="Untimed calls before timing.")
@click.option("--repeats", type=int, default=1, show_default=True, help="Repeat each timing to show the spread.")
@click.option("--threads", type=int, help="CPU threads for every runner and the peer. Default: all usable cores.")
@click.option("--eval-data", default="sample", show_default=True, help="Eval data for drift: 'sample', an image folder or .npy/.npz; 'none' skips drift.")
@click.option("--eval-mode", type=click.Choice(["center", "ten-crop"]), default="center", show_default=True,
              help="center: the manifest's resize + centre crop; ten-crop: mean softmax over 10 crops.")
@click.option("--eval-size", type=int, help="Use at most this many eval images.")
@click.option("--calib-data", help="Calibration data for the OpenVINO+NNCF peer. Default: the data our INT8 was calibrated on (manifest.calibration), else 'sample'.")
@click.option("--no-peer", is_flag=True, help="Skip the OpenVINO+NNCF INT8 peer row.")
@click.option("--paired-rounds", type=int, default=0, show_default=True,
              help="After the table, time our best INT8 backend and the peer in N alternating rounds; "
                   "the median ratio and its range survive machine drift that a single pass does not.")
@click.option("--retime", type=int, default=1, show_default=True,
              help="Time a noisy row again (other processes used the CPU, or the host was slow) up to N "
                   "times before writing the report; 0 keeps noisy rows as they are.")
@click.option("--server-bound-ms", type=float, default=15.0, show_default=True, help="p99 bound of the Server scenario.")
@click.option("--live-server", is_flag=True,
              help="Also run the Server scenario for real: start 'serve' for the fastest INT8 backend on 127.0.0.1 "
                   "and offer open-loop Poisson load over HTTP and gRPC at increasing rates.")
@click.option("--server-rates", metavar="R1,R2", help="Offered rates (requests/s) for --live-server. Default: "
              "0.25x to 1.25x the simulated Server scenario's max rate.")
@click.option("--live-seconds", type=float, default=5.0, show_default=True,
              help="Seconds of load per rate and protocol for --live-server.")
@click.option("--select", "select", type=click.Choice(["min-latency", "max-throughput"]),
              help="Record the best backend in manifest.selection (used by backend='auto').")
@click.option("--max-drop", type=float, help="Accuracy budget for --select, in top-1 points vs FP32 (agreement points without labels).")
@click.option("--out", "out_dir", metavar="PATH", callback=check_out, help="Report directory. Default: ARTIFACT/bench.")
@click.option("--no-plots", is_flag=True, help="Skip the PNG plots.")
@output_options
def bench(artifact: str, out: Output, **opts: Any) -> None:
    """Time every backend of an artifact, measure accuracy drift, compare with OpenVINO+NNCF.

    Reports (JSON, CSV, Markdown, HTML, PNG plots) go to ARTIFACT/bench and a
    summary to manifest.bench. Backends that cannot run here are listed as
    skipped with the reason, never timed.

    \b
    Example:
      resnet-deploy bench artifacts/resnet18 --backends onnxruntime,openvino \\
          --batch-sizes 1,8,32 --select min-latency --max-drop 1.0
    """
    from resnet_deploy.bench import BenchConfig, run_bench
    from resnet_deploy.bench.render import live_server_lines, peer_lines, rich_table

    eval_data = opts["eval_data"]
    cfg = BenchConfig(
        backends=_csv(opts["backends"]),
        batch_sizes=parse_int_list(opts["batch_sizes"], "--batch-sizes") if opts["batch_sizes"] else None,
        max_batch=opts["max_batch"], scenarios=opts["scenario"], warmup=opts["warmup"],
        iterations=opts["iterations"], time_budget=opts["time_budget"], repeats=opts["repeats"],
        threads=opts["threads"], eval_data=None if eval_data.lower() == "none" else eval_data,
        eval_mode=opts["eval_mode"], eval_size=opts["eval_size"], calib_data=opts["calib_data"],
        peer=not opts["no_peer"], paired_rounds=opts["paired_rounds"], retime=opts["retime"],
        server_bound_ms=opts["server_bound_ms"], select=opts["select"],
        live_server=opts["live_server"], server_rates=_rates(opts["server_rates"]), live_seconds=opts["live_seconds"],
        max_drop=opts["max_drop"], out_dir=opts["out_dir"], plots=not opts["no_plots"],
    )
    report = run_bench(artifact, cfg, reporter=out)

    def human() -> None:
        out.table(rich_table(report))
        for line in peer_lines(report):
            out.info(f"vs peer: {line}")
        for line in live_server_lines(report):
            out.info(line)
        if report.harness.get("overhead_pct") is not None:
            out.info(f"harness overhead: {report.harness['overhead_pct']:.3f} % of the fastest batch-1 p50")
        for note in report.notes:
            out.note(note)
        if report.selection:
            s = report.selection
            out.markup(f"selected [bold]{escape(s['backend'])}[/bold] ({s['strategy']}): {escape(s['reason'])}")
        out.info(f"reports: {Path(artifact) / report.files.get('html', '')} (+ json, csv, md, plots)")

    data = report.to_dict()
    for row in data["rows"]:
        row.pop("samples_ms", None)
    out.result(data, human)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("artifact", metavar="ARTIFACT")
@click.argument("spec_a", metavar="A")
@click.argument("spec_b", metavar="B")
@click.option("--eval-data", default="sample", show_default=True, help="'sample', an image folder or a .npy/.npz file.")
@click.option("--eval-mode", type=click.Choice(["center", "ten-crop"]), default="center", show_default=True)
@click.option("--eval-size", type=int, help="Use at most this many eval images.")
@click.option("--threads", type=int, help="CPU threads. Default: all usable cores.")
@output_options
def compare(artifact: str, spec_a: str, spec_b: str, out: Output, eval_data: str, eval_mode: str,
            eval_size: int | None, threads: int | None) -> None:
    """Print the drift of backend B against backend A on the same eval images.

    \b
    Example:
      resnet-deploy compare artifacts/resnet18 torch:fp32 onnxruntime:int8-cpu
    """
    from resnet_deploy.bench import compare_backends

    res = compare_backends(artifact, spec_a, spec_b, eval_data=eval_data, eval_mode=eval_mode,
                           eval_size=eval_size, threads=threads, reporter=out)

    def human() -> None:
        from rich.table import Table

        t = Table(title=f"{res['b']} vs {res['a']} on {res['n']} images ({res['eval_mode']})")
        t.add_column("metric")
        t.add_column("value", justify="right")
        rows = [("top-1 agreement", f"{res['agreement']:.4f}"), ("max abs error", f"{res['max_abs']:.6g}"),
                ("mean abs error", f"{res['mean_abs']:.6g}"), ("cosine (mean)", f"{res['cosine_mean']:.6f}"),
                ("cosine (worst)", f"{res['cosine_min']:.6f}")]
        if res["labelled"]:
            rows += [(f"top-1 {res['a']}", f"{res['ref_top1']:.4f}"), (f"top-1 {res['b']}", f"{res['top1']:.4f}"),
                     (f"top-5 {res['a']}", f"{res['ref_top5']:.4f}"), (f"top-5 {res['b']}", f"{res['top5']:.4f}"),
                     ("top-1 drop (points)", f"{res['drop_points']:.2f}")]
        for k, v in rows:
            t.add_row(k, v)
        out.table(t)

    out.result(res, human)

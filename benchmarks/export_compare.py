"""Compare the two ONNX exporters of torch 2.13 (dynamo vs legacy TorchScript-based) and onnxslim.

For one architecture (default ResNet-50 at 224 px, random weights, BatchNorm
folded as the export pipeline does) it measures per variant: export wall time,
file size, ONNX node count, onnxruntime CPU latency at batch 1 (median of
``--runs`` after ``--warmup``) and parity against PyTorch. Prints a Markdown
table and, with ``--json``, the raw numbers.

This is a short measurement on purpose (the development machine is shared);
the lead re-runs it on a quiet machine:

    python benchmarks/export_compare.py --arch resnet50 --runs 30
    python benchmarks/export_compare.py --arch resnet18 --input-size 64 --runs 3   # smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from resnet_deploy.bench.onnx_latency import onnx_file_latency


def ort_latency_ms(path: Path, size: int, runs: int, warmup: int, threads: int | None) -> dict[str, float]:
    """Median/min batch-1 latency of a CPU InferenceSession (bench.onnx_latency, the shared timer)."""
    t = onnx_file_latency(path, size, threads=threads or os.cpu_count() or 1, iters=runs, warmup=warmup)
    return {"median_ms": t.p50, "min_ms": t.min}


def ort_optimized_nodes(path: Path, out: Path) -> int:
    """Node count after onnxruntime's own graph optimisation: what actually runs (load-independent)."""
    import onnx
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    so.optimized_model_filepath = str(out)
    ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])
    return len(onnx.load(str(out), load_external_data=False).graph.node)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from resnet_deploy.export.onnx import export_onnx, slim_onnx
    from resnet_deploy.export.parity import compare_logits, fixed_inputs, run_batches, runner_for
    from resnet_deploy.models import create_model
    from resnet_deploy.models.fold import fold_batchnorm

    torch.manual_seed(0)
    model = create_model(args.arch, num_classes=1000).eval()
    folded = fold_batchnorm(model)
    x = fixed_inputs(args.input_size, n=4)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    rows: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="export-compare-") as d:
        paths = {"dynamo": Path(d) / "dynamo.onnx", "legacy": Path(d) / "legacy.onnx"}
        for exporter, path in paths.items():
            info = export_onnx(folded, path, args.input_size, exporter=exporter)
            rows[exporter] = {k: info[k] for k in ("seconds", "size", "nodes", "opset", "op_types")}
        slim_path = Path(d) / "dynamo.slim.onnx"
        info = slim_onnx(paths["dynamo"], slim_path)
        rows["dynamo+onnxslim"] = {k: info[k] for k in ("seconds", "size", "nodes", "opset", "op_types")}
        rows["dynamo+onnxslim"]["seconds"] += rows["dynamo"]["seconds"]
        paths["dynamo+onnxslim"] = slim_path
        for name, path in paths.items():
            out = run_batches(runner_for("onnx", path), x)
            parity = compare_logits(ref, out)
            rows[name]["parity_rel_to_range"] = parity["rel_to_range"]
            rows[name]["parity_passed"] = parity["passed"]
            rows[name]["ort_nodes"] = ort_optimized_nodes(path, Path(d) / f"{name}.ort-opt.onnx")
            rows[name].update(ort_latency_ms(path, args.input_size, args.runs, args.warmup, args.threads))
    import onnxruntime
    import onnxslim

    return {
        "arch": args.arch, "input_size": args.input_size, "runs": args.runs, "warmup": args.warmup,
        "threads": args.threads, "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
        "onnxslim": onnxslim.__version__, "rows": rows,
    }


def to_markdown(res: dict[str, Any]) -> str:
    lines = [
        f"{res['arch']} @ {res['input_size']} px, ORT CPU batch 1, median of {res['runs']} runs "
        f"(warmup {res['warmup']}); torch {res['torch']}, onnxruntime {res['onnxruntime']}, "
        f"onnxslim {res['onnxslim']}",
        "",
        "| variant | export s | size MB | nodes | nodes after ORT opt | opset | ORT median ms | ORT min ms "
        "| parity max_abs/range |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in res["rows"].items():
        lines.append(
            f"| {name} | {r['seconds']:.1f} | {r['size'] / 1e6:.1f} | {r['nodes']} | {r['ort_nodes']} | {r['opset']} | "
            f"{r['median_ms']:.1f} | {r['min_ms']:.1f} | {r['parity_rel_to_range']:.1e} |"
        )
    lines.append("")
    for name, r in res["rows"].items():
        ops = ", ".join(f"{k} {v}" for k, v in r["op_types"].items())
        lines.append(f"- {name} ops: {ops}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="resnet50")
    p.add_argument("--input-size", type=int, default=224)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=None, help="ORT intra-op threads (default: ORT's)")
    p.add_argument("--json", action="store_true", help="also print the raw numbers as JSON")
    args = p.parse_args(argv)
    res = measure(args)
    print(to_markdown(res))
    if args.json:
        print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Serving load test: ResNet-18 INT8 behind PyTriton, N clients x M requests, HTTP and gRPC.

Builds the artifact (export + INT8 via ``quantize_artifact``) unless ``--artifact``
points at one, starts ``resnet_deploy.serve.start_server`` on free loopback
ports, then for each protocol (http, grpc) and path (tensor = preprocessed
FP32, image = JPEG bytes) runs a closed loop of ``--clients`` threads x
``--requests`` requests, checking every answer's top-1 against the Predictor.
Writes a Markdown report (throughput, p50/p90/p99, errors) and, with --json,
the raw numbers.

    python benchmarks/serve_load.py                         # full run (lead, quiet machine)
    python benchmarks/serve_load.py --requests 40 --calib-size 32 --provisional   # smoke run
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from resnet_deploy.bench.machine import cpu_model
from resnet_deploy.bench.stats import LatencyStats

ROOT = Path(__file__).resolve().parents[1]


def build_artifact(arch: str, size: int, precision: str, calib_size: int, work: Path) -> Path:
    from resnet_deploy.export.config import ExportConfig
    from resnet_deploy.export.pipeline import export_artifact

    out = work / f"{arch}-{size}"
    t0 = time.perf_counter()
    export_artifact(ExportConfig(arch=arch, input_size=size, formats=("onnx",), out=out, force=True))
    print(f"exported {arch} at {size} px in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    if precision == "int8":
        from resnet_deploy.quantize.config import QuantizeConfig
        from resnet_deploy.quantize.pipeline import quantize_artifact

        t0 = time.perf_counter()
        quantize_artifact(out, QuantizeConfig(calib_data="sample", calib_size=calib_size, targets=("cpu",)))
        print(f"quantized (cpu INT8, {calib_size} images) in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return out


def sample_jpeg(size: int) -> bytes:
    """A smooth synthetic photo-like JPEG (noise would make an unrealistically large file)."""
    from PIL import Image, ImageDraw

    h, w = int(size * 1.15), int(size * 1.4)
    yy, xx = np.mgrid[0:h, 0:w]
    arr = np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) * 255 // (w + h)], -1).astype(np.uint8)
    img = Image.fromarray(arr)
    draw = ImageDraw.Draw(img)
    draw.ellipse((w // 4, h // 4, 3 * w // 4, 3 * h // 4), fill=(200, 40, 60))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def direct_latency(predictor: Any, x: np.ndarray, runs: int) -> dict[str, float]:
    """Batch-1 Predictor.infer latency in-process: the floor the server adds overhead to."""
    for _ in range(3):
        predictor.infer(x)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        predictor.infer(x)
        times.append(time.perf_counter_ns() - t0)
    s = LatencyStats.from_ns(times)
    return {"p50_ms": s.p50, "p99_ms": s.p99}


def machine() -> dict[str, Any]:
    """The CPU (``bench.machine``) plus the serving stack's versions, for the report header."""
    versions = {}
    for dist in ("nvidia-pytriton", "tritonclient", "onnxruntime", "resnet-deploy"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(), "versions": versions,
            "load_avg": [round(v, 2) for v in os.getloadavg()]}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from resnet_deploy.runtime.predictor import load
    from resnet_deploy.serve import ServeConfig, start_server
    from resnet_deploy.serve.loadgen import RequestInput, run_load

    work = Path(args.work or tempfile.mkdtemp(prefix="serve_load-"))
    work.mkdir(parents=True, exist_ok=True)
    artifact = Path(args.artifact) if args.artifact else build_artifact(
        args.arch, args.input_size, args.precision, args.calib_size, work
    )
    key = "int8-cpu" if args.precision == "int8" else "fp32"
    backend = f"onnxruntime:{key}"
    size = args.input_size
    x = np.random.default_rng(0).standard_normal((1, 3, size, size)).astype(np.float32)
    jpeg = sample_jpeg(size)
    before = machine()
    with load(artifact, backend=backend, threads=args.threads) as predictor:
        top_tensor = int(predictor.infer(x).argmax())
        top_image = predictor.predict(jpeg, top_k=1)[0].top1
        direct = direct_latency(predictor, x, runs=max(20, args.requests // 5))
        model_file = predictor.model_file
    cfg = ServeConfig(
        http_port=0, grpc_port=0, metrics_port=0, backend=backend, max_batch=args.max_batch,
        instances=args.instances, max_queue_delay_us=args.max_queue_delay_us, threads=args.threads,
        log_file=work / "triton.log",
    )
    rows = []
    t_start = time.perf_counter()
    with start_server(artifact, cfg) as srv:
        print(f"server up in {time.perf_counter() - t_start:.1f} s on {srv.backend}", file=sys.stderr)
        for protocol in args.protocols.split(","):
            address = srv.http_address if protocol == "http" else srv.grpc_address
            for path in args.paths.split(","):
                if path == "tensor":
                    model, inputs, expected = srv.model_name, [RequestInput("input", x, "FP32")], top_tensor
                else:
                    data = np.array([[jpeg]], dtype=object)
                    model, inputs, expected = srv.image_model_name, [RequestInput("image", data, "BYTES")], top_image
                res = run_load(
                    address, model, inputs, protocol=protocol, clients=args.clients,
                    requests_per_client=args.requests, outputs=["topk_indices"],
                    check=lambda r, e=expected: int(r.as_numpy("topk_indices")[0, 0]) == e,
                )
                row = {"path": path, **res.to_dict()}
                rows.append(row)
                print(json.dumps(row), file=sys.stderr)
    return {
        "artifact": str(artifact), "arch": args.arch, "input_size": size, "precision": args.precision,
        "backend": backend, "model_file": model_file, "jpeg_bytes": len(jpeg),
        "server": {"max_batch": args.max_batch, "instances": args.instances,
                   "max_queue_delay_us": args.max_queue_delay_us, "threads": args.threads},
        "clients": args.clients, "requests_per_client": args.requests, "direct_predictor_batch1": direct,
        "rows": rows, "machine_before": before, "machine_after": machine(), "provisional": args.provisional,
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }


def markdown(r: dict[str, Any]) -> str:
    m = r["machine_before"]
    lines = [
        f"# Serving load test: {r['arch']} {r['precision'].upper()} behind PyTriton",
        "",
    ]
    if r["provisional"]:
        lines += [
            "> **PROVISIONAL** - measured on a shared development machine (load average "
            f"{m['load_avg']} before, {r['machine_after']['load_avg']} after) with a reduced request "
            "count; the lead re-runs `python benchmarks/serve_load.py` on a quiet machine.",
            "",
        ]
    lines += [
        f"- date: {r['date']}; CPU: {m['cpu']} ({m['cores']} cores); Python {m['python']}; "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        f"- model: {r['arch']} at {r['input_size']} px, `{r['model_file']}` on `{r['backend']}`",
        f"- server: Triton via PyTriton on loopback, max_batch {r['server']['max_batch']}, "
        f"{r['server']['instances']} instance(s), max_queue_delay {r['server']['max_queue_delay_us']} us",
        f"- load: {r['clients']} concurrent clients x {r['requests_per_client']} requests each, one request "
        f"in flight per client, batch 1 per request; every answer's top-1 checked against the Predictor; "
        f"image path sends a {r['jpeg_bytes']} byte JPEG",
        f"- direct Predictor (in-process, batch 1, no server): p50 {r['direct_predictor_batch1']['p50_ms']:.2f} ms, "
        f"p99 {r['direct_predictor_batch1']['p99_ms']:.2f} ms",
        "",
        "| protocol | path | requests | throughput (req/s) | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in r["rows"]:
        lines.append(
            f"| {row['protocol']} | {row['path']} | {row['requests']} | {row['throughput_rps']:.1f} | "
            f"{row['p50_ms']:.2f} | {row['p90_ms']:.2f} | {row['p99_ms']:.2f} | {row['max_ms']:.2f} | "
            f"{row['errors']} |"
        )
    lines += [
        "",
        "Reproduce: `python benchmarks/serve_load.py --clients "
        f"{r['clients']} --requests {r['requests_per_client']}` (see `--help`).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--input-size", type=int, default=224)
    p.add_argument("--precision", choices=["int8", "fp32"], default="int8")
    p.add_argument("--calib-size", type=int, default=256, help="calibration images for INT8")
    p.add_argument("--artifact", help="use this artifact instead of exporting one")
    p.add_argument("--work", help="where to put the exported artifact and the Triton log")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--requests", type=int, default=250, help="requests per client")
    p.add_argument("--protocols", default="http,grpc")
    p.add_argument("--paths", default="tensor,image")
    p.add_argument("--max-batch", type=int, default=16)
    p.add_argument("--instances", type=int, default=1)
    p.add_argument("--max-queue-delay-us", type=int, default=500)
    p.add_argument("--threads", type=int, default=None, help="CPU threads per instance")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "serving.md"))
    p.add_argument("--json", dest="json_out", help="also write the raw numbers here")
    p.add_argument("--provisional", action="store_true", help="mark the figures as provisional")
    args = p.parse_args(argv)
    result = run(args)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(markdown(result))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2))
    print(markdown(result))
    return 0 if all(row["errors"] == 0 for row in result["rows"]) else 1


if __name__ == "__main__":
    sys.exit(main())

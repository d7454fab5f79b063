"""Cross-check the open-loop load generator against Triton's perf_analyzer on one live server.

Both offer the same Poisson request rates to the same ``resnet-deploy serve``
(HTTP, tensor model, batch-1 requests), one after the other, and the table puts
their achieved rate and p50/p99 latency side by side.

perf_analyzer is not on PyPI as a working package (``perf-analyzer`` there is a
placeholder); the binary ships inside the tritonclient 2.41.0 wheel. To get it:

    pip download --no-deps tritonclient==2.41.0 -d /tmp/tc
    unzip -j /tmp/tc/*.whl '*/data/bin/perf_analyzer' -d /tmp/pa && chmod +x /tmp/pa/perf_analyzer
    apt-get install -y libb64-0d && pip install nvidia-cuda-runtime-cu12   # its shared libraries
    export LD_LIBRARY_PATH=$(python -c 'import nvidia.cuda_runtime, os; print(os.path.dirname(nvidia.cuda_runtime.__file__))')/lib

    python benchmarks/live_server_crosscheck.py ARTIFACT --perf-analyzer /tmp/pa/perf_analyzer --rates 20,50,100
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from resnet_deploy.artifact import read_manifest
from resnet_deploy.bench.live_server import serve_process
from resnet_deploy.bench.machine import cpu_flags
from resnet_deploy.serve.loadgen import RequestInput
from resnet_deploy.serve.openloop import run_open_loop
from resnet_deploy.serve.pytriton_server import ACCESS_TOKEN_ENV

TOKEN = secrets.token_urlsafe(16)  # lets perf_analyzer read the server's statistics


def perf_analyzer_rate(exe: str, address: str, model: str, input_name: str, shape: list[int],
                       rate: float, window_ms: int) -> dict[str, Any]:
    """One perf_analyzer measurement at ``rate`` (Poisson) -> achieved rate and latency percentiles."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "pa.csv"
        cmd = [exe, "-H", f"triton-access-token:{TOKEN}", "-m", model, "-u", address, "-i", "http", "-b", "1", "--input-data", "zero",
               "--shape", f"{input_name}:{','.join(str(s) for s in shape)}",
               f"--request-rate-range={rate}:{rate}:1", "--request-distribution=poisson",
               "-p", str(window_ms), "--max-trials", "3", "-s", "50", "-f", str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0 or not out.exists():
            return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["failed"]}
        row = next(csv.DictReader(out.open()))
    us = (lambda k: round(float(row[k]) / 1000.0, 3))  # noqa: E731 - CSV latencies are in microseconds
    return {"achieved_rps": round(float(row["Inferences/Second"]), 3), "p50_ms": us("p50 latency"),
            "p90_ms": us("p90 latency"), "p99_ms": us("p99 latency")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("artifact")
    ap.add_argument("--perf-analyzer", required=True, help="path of the perf_analyzer binary")
    ap.add_argument("--backend", default="onnxruntime:int8-cpu")
    ap.add_argument("--rates", default="20,50,100", help="Poisson request rates per second")
    ap.add_argument("--seconds", type=float, default=10.0, help="measurement window per rate")
    ap.add_argument("--out", default=None, help="write the Markdown table here")
    args = ap.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    manifest = read_manifest(args.artifact)
    shape = [int(v) for v in manifest.input.shape[1:]]
    data = np.random.default_rng(0).standard_normal([1, *shape]).astype(np.float32)
    rows = []
    os.environ[ACCESS_TOKEN_ENV] = TOKEN  # inherited by the serve process
    with serve_process(Path(args.artifact), args.backend) as info:
        model = info["models"][0]
        name = info["inputs"][model]
        address = info["http"].split("://", 1)[1]
        inputs = [RequestInput(name, data, "FP32")]
        run_open_loop(address, model, inputs, rates[0], duration_s=2.0)  # warm-up
        for i, r in enumerate(rates):
            ours = run_open_loop(address, model, inputs, r, duration_s=args.seconds, seed=i).to_dict()
            pa = perf_analyzer_rate(args.perf_analyzer, address, model, name, shape, r,
                                    int(args.seconds * 1000))
            rows.append({"rate": r, "ours": ours, "perf_analyzer": pa})
    lines = [f"Live server cross-check: {args.artifact} ({args.backend}), HTTP, batch-1 requests, "
             f"{args.seconds:g} s per rate; CPU flags: {' '.join(cpu_flags())}",
             "", "| offered rps | ours achieved | ours p50 | ours p99 | perf_analyzer achieved | pa p50 | pa p99 |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        o, p = row["ours"], row["perf_analyzer"]
        lines.append(f"| {row['rate']:g} | {o['achieved_rps']} | {o['p50_ms']} | {o['p99_ms']} | "
                     f"{p.get('achieved_rps', '-')} | {p.get('p50_ms', '-')} | {p.get('p99_ms', '-')} |")
    text = "\n".join(lines) + "\n"
    print(text)
    print(json.dumps(rows, indent=1))
    if args.out:
        Path(args.out).write_text(text + "\n```json\n" + json.dumps(rows, indent=1) + "\n```\n")


if __name__ == "__main__":
    main()

"""Which OpenVINO CPU kernels run our INT8 model and the NNCF peer's, and for how long.

When the suite's peer ratio comes out level, this tells whether the two are really
the same work: both models are compiled with the peer's settings plus
``PERF_COUNT``, run alternately, and OpenVINO's per-node profile is summed by
(layer type, kernel), e.g. ``Convolution jit_avx2_1x1_I8``. Same kernels and
similar per-kernel times mean the difference left is the machine's noise.

    python benchmarks/peer_kernels.py ARTIFACT [--calib-size 64] [--threads 2]

ARTIFACT needs model.int8-cpu.onnx (``resnet-deploy export --int8``); the peer is
``nncf.quantize`` on the artifact's FP32 ONNX with its calibration data, as in ``bench``.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path

import numpy as np


def profile(request: object, x: np.ndarray, rounds: int) -> dict[tuple[str, str], float]:
    """Mean ms per inference by (node type, kernel) over ``rounds`` calls."""
    totals: dict[tuple[str, str], float] = collections.defaultdict(float)
    for _ in range(rounds):
        request.infer({0: x})
        for p in request.get_profiling_info():
            if p.status == p.Status.EXECUTED:
                totals[(p.node_type, p.exec_type)] += p.real_time.total_seconds() * 1e3 / rounds
    return dict(totals)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("artifact", type=Path)
    p.add_argument("--calib-size", type=int, default=64, help="peer calibration images (speed does not depend on it)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--rounds", type=int, default=20)
    args = p.parse_args(argv)
    import openvino as ov

    from resnet_deploy.artifact import load_manifest
    from resnet_deploy.bench.peer import PeerRunner, quantize_peer

    manifest = load_manifest(args.artifact)
    ours_entry = manifest.file("onnx", "int8", "cpu")
    if ours_entry is None:
        print(f"error: {args.artifact} has no INT8 cpu model; run resnet-deploy quantize first", file=sys.stderr)
        return 2
    peer = quantize_peer(args.artifact, manifest, calib_size=args.calib_size)
    core = ov.Core()
    config = dict(PeerRunner(args.artifact, manifest, peer, threads=args.threads).compile_config(), PERF_COUNT=True)
    models = {"ours": core.read_model(str(args.artifact / ours_entry.path)), "peer": peer.model}
    requests = {k: core.compile_model(m, "CPU", config).create_infer_request() for k, m in models.items()}
    x = np.random.default_rng(0).standard_normal((1, *manifest.input.shape[1:])).astype(np.float32)
    for req in requests.values():
        for _ in range(5):
            req.infer({0: x})
    wall: dict[str, list[float]] = {k: [] for k in requests}
    prof: dict[str, list[dict[tuple[str, str], float]]] = {k: [] for k in requests}
    for _ in range(4):  # alternate so drift hits both
        for name, req in requests.items():
            t0 = time.perf_counter()
            prof[name].append(profile(req, x, args.rounds // 4 or 1))
            wall[name].append((time.perf_counter() - t0) * 1e3 / (args.rounds // 4 or 1))
    kernels = sorted({k for runs in prof.values() for run in runs for k in run},
                     key=lambda k: -np.mean([run.get(k, 0.0) for run in prof["ours"]]))
    print("| node type | kernel | ours ms | peer ms |\n|---|---|---:|---:|")
    for k in kernels:
        a, b = (np.mean([run.get(k, 0.0) for run in prof[s]]) for s in ("ours", "peer"))
        if max(a, b) >= 0.01:
            print(f"| {k[0]} | {k[1]} | {a:.2f} | {b:.2f} |")
    print(f"\nwall ms per inference (profiling on): ours {np.median(wall['ours']):.1f}, "
          f"peer {np.median(wall['peer']):.1f}; {args.threads} threads, batch 1")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

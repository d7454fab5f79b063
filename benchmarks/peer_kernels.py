"""Which OpenVINO CPU kernels run our INT8 model and the NNCF peer's, and for how long.

When the suite's peer ratio comes out level, this tells whether the two are really
the same work: the models are compiled with the peer's settings plus
``PERF_COUNT``, run alternately, and OpenVINO's per-node profile is summed by
(layer type, kernel), e.g. ``Convolution jit_avx2_1x1_I8``. Then the structural
difference: every (layer type, kernel) that occurs only in our compiled graph or
only in the peer's (``get_runtime_model``, constants left out). Same kernels and
similar per-kernel times mean the difference left is the machine's noise.

    python benchmarks/peer_kernels.py ARTIFACT [--ours int8-openvino,int8-cpu]
        [--calib-size 64] [--threads 2] [--rounds 20] [--structure-only]

``--ours`` names artifact file keys (default: the INT8 file the openvino backend
prefers: model.int8-openvino.onnx, else model.int8-cpu.onnx); ``--structure-only``
skips the timed rounds. The peer is ``nncf.quantize`` on the artifact's FP32 ONNX
with its calibration data, as in ``bench``.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np


def profile(request: Any, x: np.ndarray, rounds: int) -> dict[tuple[str, str], float]:
    """Mean ms per inference by (node type, kernel) over ``rounds`` calls."""
    totals: dict[tuple[str, str], float] = collections.defaultdict(float)
    for _ in range(rounds):
        request.infer({0: x})
        for p in request.get_profiling_info():
            if p.status == p.Status.EXECUTED:
                totals[(p.node_type, p.exec_type)] += p.real_time.total_seconds() * 1e3 / rounds
    return dict(totals)


def our_entries(manifest: Any, keys: str | None) -> list[Any]:
    """The artifact's files named by ``keys`` (comma-separated), default the openvino runner's INT8 choice."""
    from resnet_deploy.runtime.openvino import OpenVINORunner

    by_key = {e.key: e for e in manifest.files if e.format == "onnx"}
    if keys:
        wanted = [k.strip() for k in keys.split(",") if k.strip()]
        missing = [k for k in wanted if k not in by_key]
        if missing:
            raise SystemExit(f"error: the artifact has no '{missing[0]}' ONNX file; it has: "
                             f"{', '.join(sorted(by_key))}")
        return [by_key[k] for k in wanted]
    for k in OpenVINORunner.preferred_keys:
        if k.startswith("int8") and k in by_key:
            return [by_key[k]]
    return []


def sample_input(compiled: Any, rng: np.random.Generator) -> np.ndarray:
    """One batch-1 input in the model's own contract: float NCHW, or uint8 NHWC for a raw-pixel file."""
    port = compiled.inputs[0]
    dims = [1] + [d.get_length() for d in list(port.get_partial_shape())[1:]]
    dtype = port.get_element_type().to_dtype()
    if np.issubdtype(dtype, np.integer):
        return rng.integers(0, 256, size=dims).astype(dtype)
    return rng.standard_normal(dims).astype(dtype)


def print_timings(requests: dict[str, Any], inputs: dict[str, np.ndarray], rounds: int, threads: int) -> None:
    """Alternate the models (so drift hits all), then one row per (node type, kernel)."""
    for name, req in requests.items():
        for _ in range(5):
            req.infer({0: inputs[name]})
    per = rounds // 4 or 1
    wall: dict[str, list[float]] = {k: [] for k in requests}
    prof: dict[str, list[dict[tuple[str, str], float]]] = {k: [] for k in requests}
    for _ in range(4):
        for name, req in requests.items():
            t0 = time.perf_counter()
            prof[name].append(profile(req, inputs[name], per))
            wall[name].append((time.perf_counter() - t0) * 1e3 / per)
    names = list(requests)
    first = names[0]
    kernels = sorted({k for runs in prof.values() for run in runs for k in run},
                     key=lambda k: -np.mean([run.get(k, 0.0) for run in prof[first]]))
    print("| node type | kernel | " + " | ".join(f"{n} ms" for n in names) + " |")
    print("|---|---|" + "---:|" * len(names))
    for k in kernels:
        ms = [np.mean([run.get(k, 0.0) for run in prof[n]]) for n in names]
        if max(ms) >= 0.01:
            print(f"| {k[0]} | {k[1]} | " + " | ".join(f"{m:.2f}" for m in ms) + " |")
    walls = ", ".join(f"{n} {np.median(wall[n]):.1f}" for n in names)
    print(f"\nwall ms per inference (profiling on): {walls}; {threads} threads, batch 1\n")


def print_diff(compiled: dict[str, Any]) -> int:
    """Each of our models' kernels against the peer's; returns how many kernels only ours has."""
    from resnet_deploy.bench.peer import kernel_diff, runtime_kernels

    peer = runtime_kernels(compiled["peer"])
    extra = 0
    for name, c in compiled.items():
        if name == "peer":
            continue
        ours = runtime_kernels(c)
        only_ours, only_peer = kernel_diff(ours, peer)
        extra += len(only_ours)
        print(f"structure, {name} vs peer (layer type / kernel, constants left out):")
        print("  only in ours: " + (", ".join(f"{t} {k} x{ours[(t, k)]}" for t, k in only_ours) or "none"))
        print("  only in the peer's: " + (", ".join(f"{t} {k} x{peer[(t, k)]}" for t, k in only_peer) or "none"))
        shared = [k for k in ours if k in peer and ours[k] != peer[k]]
        if shared:
            print("  same kernel, other count: " + ", ".join(f"{t} {k} {ours[(t, k)]} vs {peer[(t, k)]}"
                                                        for t, k in sorted(shared)))
    return extra


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("artifact", type=Path)
    p.add_argument("--ours", default=None, metavar="KEYS", help="our file keys, comma-separated")
    p.add_argument("--calib-size", type=int, default=64, help="peer calibration images (speed does not depend on it)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--structure-only", action="store_true", help="only the kernel lists, no timed rounds")
    args = p.parse_args(argv)
    import openvino as ov

    from resnet_deploy.artifact import load_manifest
    from resnet_deploy.bench.peer import PeerRunner, quantize_peer

    manifest = load_manifest(args.artifact)
    entries = our_entries(manifest, args.ours)
    if not entries:
        print(f"error: {args.artifact} has no INT8 model; run resnet-deploy quantize first", file=sys.stderr)
        return 2
    peer = quantize_peer(args.artifact, manifest, calib_size=args.calib_size)
    core = ov.Core()
    config = dict(PeerRunner(args.artifact, manifest, peer, threads=args.threads).compile_config(), PERF_COUNT=True)
    models = {e.key: core.read_model(str(args.artifact / e.path)) for e in entries}
    models["peer"] = peer.model
    compiled = {k: core.compile_model(m, "CPU", config) for k, m in models.items()}
    if not args.structure_only:
        rng = np.random.default_rng(0)
        inputs = {k: sample_input(c, rng) for k, c in compiled.items()}
        requests = {k: c.create_infer_request() for k, c in compiled.items()}
        print_timings(requests, inputs, args.rounds, args.threads)
    print_diff(compiled)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How much faster can INT8 convolution be than FP32 on THIS CPU? The hardware ceiling.

The INT8 speed targets (ResNet-50 INT8 >= 3x FP32 in ONNX Runtime, >= 6x PyTorch eager)
were set on an AVX-512 VNNI machine, where one instruction does 64 u8*s8 multiply-adds.
Without VNNI, x86 int8 kernels need three AVX2 instructions (vpmaddubsw, vpmaddwd,
vpaddd) for 32 multiply-adds, against one FMA instruction for 8 FP32 ones. This
script measures what that leaves, with no model around it: chains of eight
convolutions of ResNet-50's own shapes, FP32 against U8S8 INT8 (Q/DQ form, which both runtimes turn
into int8 kernels), timed alternately in rounds so machine drift hits both alike, in
ONNX Runtime (MLAS) and OpenVINO (oneDNN).

The best INT8/FP32 ratio over the shapes is about the most a ResNet-50 INT8 can gain
on this CPU from these kernels, and the best INT8 rate gives about the shortest
whole-network latency (its 4.09 GMACs at that rate). Example:

    python benchmarks/int8_ceiling.py --threads 2 --out benchmarks/results/int8_ceiling.md
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from resnet_deploy.bench.conv_classes import bound_ms, conv_macs, macs_by_class, read_static
from resnet_deploy.bench.machine import machine_line

Kernels = tuple[dict[str, str], dict[str, int]]  # (chain name -> conv class, the model's MACs per conv class)

RESNET50_GMACS = 4.089  # resnet-deploy info resnet50 (224 px)

DEPTH = 8  # convs per chain: layout reorders at the graph's edges are paid once, as in a network

# (name, channels, kernel, spatial) at batch 1: ResNet-50's 3x3 convs of each stage, and 1x1 convs
SHAPES = [
    ("3x3 64 @56 (stage 1)", 64, 3, 56),
    ("3x3 128 @28 (stage 2)", 128, 3, 28),
    ("3x3 256 @14 (stage 3)", 256, 3, 14),
    ("3x3 512 @7 (stage 4)", 512, 3, 7),
    ("1x1 256 @56 (stage 1)", 256, 1, 56),
    ("1x1 1024 @14 (stage 3)", 1024, 1, 14),
]


def conv_chain(c: int, k: int, hw: int, int8: bool, depth: int = DEPTH, matmul: bool = False) -> onnx.ModelProto:
    """``depth`` Conv+ReLU layers of c->c channels; INT8 puts U8S8 Q/DQ (per-channel s8 weights) around each.

    ``matmul`` (1x1 only) writes the same layers as MatMul+Add on ``[hw*hw, c]`` rows, the GEMM
    form of a 1x1 convolution, with the same weights: it asks whether a runtime's INT8 GEMM
    kernel beats its INT8 1x1 convolution kernel, which would make rewriting 1x1 convs pay.
    """
    if matmul and k != 1:
        raise ValueError("the MatMul form exists only for 1x1 convolutions")
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(np.zeros(c, np.float32), "b"),
             numpy_helper.from_array(np.array(1 / 32, np.float32), "a_s"),
             numpy_helper.from_array(np.array(0, np.uint8), "a_zp")]
    nodes, cur = [], "x"
    if int8:
        nodes.append(helper.make_node("QuantizeLinear", ["x", "a_s", "a_zp"], ["q0"]))
        cur = "q0"
    for i in range(depth):
        w = (rng.standard_normal((c, c, k, k)) / np.sqrt(c * k * k)).astype(np.float32)
        if int8:
            scale = (np.abs(w).reshape(c, -1).max(axis=1) / 127.0).astype(np.float32)
            wq = np.round(w / scale[:, None, None, None]).astype(np.int8)
            inits += [numpy_helper.from_array(wq[:, :, 0, 0].T.copy() if matmul else wq, f"wq{i}"),
                      numpy_helper.from_array(scale, f"ws{i}"),
                      numpy_helper.from_array(np.zeros(c, np.int8), f"wz{i}")]
            # the output channel is axis 0 of a Conv weight, axis 1 of a MatMul one
            nodes += [helper.make_node("DequantizeLinear", [cur, "a_s", "a_zp"], [f"d{i}"]),
                      helper.make_node("DequantizeLinear", [f"wq{i}", f"ws{i}", f"wz{i}"], [f"w{i}"],
                                       axis=1 if matmul else 0)]
            x_in = f"d{i}"
        else:
            inits.append(numpy_helper.from_array(w[:, :, 0, 0].T.copy() if matmul else w, f"w{i}"))
            x_in = cur
        if matmul:
            nodes += [helper.make_node("MatMul", [x_in, f"w{i}"], [f"m{i}"]),
                      helper.make_node("Add", [f"m{i}", "b"], [f"c{i}"])]
        else:
            nodes.append(helper.make_node("Conv", [x_in, f"w{i}", "b"], [f"c{i}"], pads=[k // 2] * 4))
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"]))
        cur = f"r{i}"
        if int8:
            nodes.append(helper.make_node("QuantizeLinear", [cur, "a_s", "a_zp"], [f"q{i + 1}"]))
            cur = f"q{i + 1}"
    if int8:
        nodes.append(helper.make_node("DequantizeLinear", [cur, "a_s", "a_zp"], ["y"]))
        cur = "y"
    shape = [hw * hw, c] if matmul else [1, c, hw, hw]
    graph = helper.make_graph(
        nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(cur, TensorProto.FLOAT, shape)], inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    return model


def ort_call(path: Path, threads: int) -> Callable[[np.ndarray], object]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # two sessions alternate in one process: an idle session's spinning workers would steal the cores
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return lambda x: sess.run(None, {"x": x})


def ov_call(path: Path, threads: int) -> Callable[[np.ndarray], object]:
    import openvino as ov

    cfg = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads}
    req = ov.Core().compile_model(str(path), "CPU", cfg).create_infer_request()
    return lambda x: req.infer({0: x})


def chain_macs(c: int, k: int, hw: int) -> int:
    """Multiply-adds of one ``conv_chain`` at batch 1."""
    return c * c * k * k * hw * hw * DEPTH


def timed_ms(call: Callable[[np.ndarray], object], x: np.ndarray, n: int) -> list[float]:
    """``n`` back-to-back calls, ms each."""
    out = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        call(x)
        out.append((time.perf_counter_ns() - t0) / 1e6)
    return out


def paired_medians(calls: dict[str, Callable[[np.ndarray], object]], x: np.ndarray,
                   rounds: int, per_round: int) -> dict[str, float]:
    """Median ms per call, the callers alternating round by round (drift hits all alike)."""
    for call in calls.values():
        for _ in range(10):
            call(x)
    samples: dict[str, list[float]] = {k: [] for k in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            samples[name] += timed_ms(call, x, per_round)
    return {k: float(np.median(v)) for k, v in samples.items()}


def model_call(art: Path, spec: str | None,
               threads: int) -> tuple[Callable[[np.ndarray], object], np.ndarray, str, float, Path]:
    """(call, batch-1 input, spec, GMACs, file) for the artifact's file, run by our own runner for that spec.

    ``spec`` None: the best OpenVINO INT8 file that takes float input (what ``end_to_end.py`` times).
    """
    from resnet_deploy.artifact import load_manifest
    from resnet_deploy.bench.e2e_sides import openvino_int8_spec
    from resnet_deploy.errors import ResNetDeployError
    from resnet_deploy.runtime.resolve import make_runner, resolve
    from resnet_deploy.runtime.timing import make_input

    manifest = load_manifest(art)
    spec = spec or openvino_int8_spec(manifest)
    if spec is None:
        raise ResNetDeployError(f"{art} has no OpenVINO INT8 file; name one with --backend BACKEND:KEY")
    if not manifest.model.gmacs:
        raise ResNetDeployError(f"{art}/manifest.json records no GMACs for the model; re-export it")
    runner = make_runner(art, manifest, resolve(manifest, spec), threads=threads)
    runner.activate()
    x = make_input(tuple(int(v) for v in manifest.input.shape[1:]), 1)
    return runner.infer, x, spec, float(manifest.model.gmacs), Path(runner.model_path)


def share_rounds(chains: dict[str, tuple[Callable[[np.ndarray], object], np.ndarray, float]],
                 model: tuple[Callable[[np.ndarray], object], np.ndarray], gmacs: float,
                 rounds: int, per_round: int, classes: Kernels | None = None) -> list[dict[str, Any]]:
    """The model's batch-1 p50 and every INT8 chain's rate in the same round, round after round.

    Why: the ceiling and the model timed minutes apart meet different hosts (the AVX-512 VNNI host
    measured here flipped between a fast and a slow state every 5-20 s, and the best chain's rate
    moved 335-456 GMAC/s between runs). Timed in one round, both meet the same host, and the share
    ``floor / p50`` is judged on the median over rounds. The model goes first in odd rounds and last
    in even ones; each window starts with two untimed calls and ends with a short pause, so neither
    a cold cache nor a runtime's idle spinning carries from one window into the next.

    ``classes`` (each chain's conv class, the model's MACs per class) adds the round's kernel bound:
    the model's convolutions with each class at the best rate its own kind of chain reached in
    that round and nothing else running (``bound_ms``), and ``max_share = floor / bound_ms``, the
    most of the ceiling these kernels leave reachable.
    """
    def window(call: Callable[[np.ndarray], object], x: np.ndarray) -> float:
        timed_ms(call, x, 2)  # untimed: the window's cold start
        ms = float(np.median(timed_ms(call, x, per_round)))
        time.sleep(0.05)
        return ms

    out = []
    for r in range(rounds):
        order = ["model", *chains] if r % 2 else [*chains, "model"]
        ms = {k: window(*(model if k == "model" else chains[k][:2])) for k in order}
        rates = {k: chains[k][2] / ms[k] / 1e6 for k in chains}
        best = max(rates, key=rates.__getitem__)
        floor = gmacs / rates[best] * 1e3
        row = {"p50_ms": round(ms["model"], 4), "best": best, "rate_gmacs": round(rates[best], 1),
               "floor_ms": round(floor, 4), "share": round(floor / ms["model"], 4)}
        if classes is not None:
            chain_class, model_macs = classes
            by_class: dict[str, float] = {}
            for k, rate in rates.items():
                by_class[chain_class[k]] = max(rate, by_class.get(chain_class[k], 0.0))
            bound = bound_ms(model_macs, by_class)
            row.update(bound_ms=round(bound, 4), max_share=round(floor / bound, 4))
        out.append(row)
    return out


def share_summary(rows: list[dict[str, Any]], spec: str, gmacs: float, target: float = 0.9) -> dict[str, Any]:
    """Median share over rounds, its spread, and how many rounds reached ``target``."""
    shares = [r["share"] for r in rows]
    runtimes = [r["best"].split()[0] for r in rows]
    return {"backend": spec, "best_runtime": max(set(runtimes), key=runtimes.count), "gmacs": gmacs,
            "rounds": rows, "median": float(np.median(shares)), "min": min(shares), "max": max(shares), "target": target,
            "rounds_at_target": sum(1 for v in shares if v >= target),
            "p50_ms": float(np.median([r["p50_ms"] for r in rows])),
            "rate_gmacs": float(np.median([r["rate_gmacs"] for r in rows])),
            **({"max_share": float(np.median([r["max_share"] for r in rows])),
                "max_share_max": max(r["max_share"] for r in rows),
                "bound_ms": float(np.median([r["bound_ms"] for r in rows]))} if all("max_share" in r for r in rows) else {})}


def share_main(args: argparse.Namespace, runtimes: list[str], makers: dict[str, Any], head: list[str]) -> int:
    """``--artifact``: the INT8 chains and the model in the same rounds; Markdown + JSON of the share."""
    import json

    from resnet_deploy.atomic import write_text_atomic
    from resnet_deploy.errors import ResNetDeployError

    try:
        model = model_call(args.artifact, args.backend, args.threads)
    except ResNetDeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    call, xm, spec, gmacs, model_path = model
    chains: dict[str, tuple[Callable[[np.ndarray], object], np.ndarray, float]] = {}
    chain_class: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, c, k, hw in SHAPES:
            path = Path(tmp) / f"{c}_{k}_{hw}_int8.onnx"
            onnx.save(conv_chain(c, k, hw, True), path)
            x = np.random.default_rng(1).random((1, c, hw, hw), dtype=np.float32)
            for rt in runtimes:
                chains[f"{rt} {name}"] = (makers[rt](path, args.threads), x, chain_macs(c, k, hw))
                chain_class[f"{rt} {name}"] = f"{k}x{k}@{hw}"
        model_macs = macs_by_class(conv_macs(read_static(model_path)))
        rows = share_rounds(chains, (call, xm), gmacs, args.rounds, args.per_round, (chain_class, model_macs))
    summary = share_summary(rows, spec, gmacs)
    lines = [*head, f"Our `{spec}` ({gmacs} GMACs) at batch 1 and the INT8 chains of every shape and runtime, "
                  "timed in the same rounds; floor = the model's GMACs at the round's best INT8 rate. Kernel "
                  "bound = the model's convolutions with each class at the best rate a chain of its own kernel "
                  "size reached in that round (3x3 at its own width where there is one), nothing else running; "
                  "max share = floor / bound.", "",
                  "| round | best INT8 chain | GMAC/s | floor ms | our p50 ms | share | kernel bound ms | max share |",
                  "|---:|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {i + 1} | {r['best']} | {r['rate_gmacs']:.0f} | {r['floor_ms']:.2f} | {r['p50_ms']:.2f} "
              f"| {r['share']:.3f} | {r['bound_ms']:.2f} | {r['max_share']:.3f} |" for i, r in enumerate(rows)]
    lines += ["", f"Share of the ceiling: median **{summary['median']:.3f}** over {len(rows)} rounds "
              f"(min {summary['min']:.3f}, max {summary['max']:.3f}; {summary['rounds_at_target']} of {len(rows)} "
              f"rounds at or above {summary['target']:.2f}); our p50 median {summary['p50_ms']:.2f} ms, best rate "
              f"median {summary['rate_gmacs']:.0f} GMAC/s. The kernels' own bound allows at most "
              f"{summary['max_share']:.3f} (median; best round {summary['max_share_max']:.3f}), "
              f"{summary['bound_ms']:.2f} ms of convolutions."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        write_text_atomic(args.out, text)
    if args.json:
        data = {"threads": args.threads, "machine": machine_line(), "share": summary}
        write_text_atomic(args.json, json.dumps(data, indent=2) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--per-round", type=int, default=25)
    p.add_argument("--runtimes", default="onnxruntime,openvino")
    p.add_argument("--out", type=Path, default=None, help="write the Markdown here")
    p.add_argument("--json", type=Path, default=None,
                   help="also write the ceiling per runtime as JSON here (benchmarks/end_to_end.py reads it)")
    p.add_argument("--matmul", action="store_true",
                   help="also time each 1x1 shape in its GEMM form (MatMul on [H*W, C] rows): does a "
                        "runtime's INT8 GEMM kernel beat its 1x1 convolution kernel?")
    p.add_argument("--artifact", type=Path, default=None,
                   help="time this artifact's model at batch 1 in the same rounds as the INT8 chains (no FP32 "
                        "table): its share of the ceiling per round, judged on the median over rounds")
    p.add_argument("--backend", default=None,
                   help="with --artifact: which file to time, as BACKEND:KEY (default: its best OpenVINO INT8 file)")
    args = p.parse_args(argv)
    makers = {"onnxruntime": ort_call, "openvino": ov_call}
    runtimes = [r for r in args.runtimes.split(",") if r]
    head = [
        "# INT8 vs FP32 convolution ceiling on this CPU", "",
        f"- machine: {machine_line()}",
        f"- command: `python benchmarks/int8_ceiling.py {' '.join(argv if argv is not None else sys.argv[1:])}`",
        f"- threads {args.threads}, batch 1, {args.rounds} alternating rounds x {args.per_round} calls, median",
        "",
    ]
    if args.artifact is not None:
        return share_main(args, runtimes, makers, head)
    lines = [
        *head,
        f"| runtime | {DEPTH} chained convs (ResNet-50 shapes) | MMACs | FP32 ms | INT8 ms | INT8/FP32 speed-up | INT8 GMAC/s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    best: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        shapes = [(name, c, k, hw, False) for name, c, k, hw in SHAPES]
        if args.matmul:
            shapes += [(f"{name} as MatMul", c, k, hw, True) for name, c, k, hw in SHAPES if k == 1]
        for name, c, k, hw, matmul in shapes:
            macs = chain_macs(c, k, hw)
            paths = {}
            for kind in ("fp32", "int8"):
                paths[kind] = Path(tmp) / f"{c}_{k}_{hw}_{kind}{'_mm' if matmul else ''}.onnx"
                onnx.save(conv_chain(c, k, hw, kind == "int8", matmul=matmul), paths[kind])
            x = np.random.default_rng(1).random((hw * hw, c) if matmul else (1, c, hw, hw), dtype=np.float32)
            for rt in runtimes:
                calls = {kind: makers[rt](path, args.threads) for kind, path in paths.items()}
                med = paired_medians(calls, x, args.rounds, args.per_round)
                speedup, rate = med["fp32"] / med["int8"], macs / med["int8"] / 1e6
                prev = best.get(rt, (0.0, 0.0))
                best[rt] = (max(prev[0], speedup), max(prev[1], rate))
                lines.append(f"| {rt} | {name} | {macs / 1e6:.0f} | {med['fp32']:.3f} | {med['int8']:.3f} "
                             f"| {speedup:.2f}x | {rate:.0f} |")
                print(lines[-1], file=sys.stderr, flush=True)
    lines += ["", "Ceiling per runtime (best layer):", ""]
    for rt, (speedup, rate) in best.items():
        floor_ms = RESNET50_GMACS / rate * 1e3
        lines.append(f"- {rt}: best INT8/FP32 speed-up {speedup:.2f}x; best INT8 rate {rate:.0f} GMAC/s, "
                     f"at which ResNet-50's {RESNET50_GMACS} GMACs take about {floor_ms:.1f} ms")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    if args.json:
        write_ceiling_json(args.json, best, args.threads)
    return 0


def write_ceiling_json(path: Path, best: dict[str, tuple[float, float]], threads: int) -> None:
    """Best INT8/FP32 speed-up and best INT8 rate per runtime, plus the ResNet-50 floor it implies."""
    import json

    from resnet_deploy.atomic import write_text_atomic

    data = {"threads": threads, "machine": machine_line(), "resnet50_gmacs": RESNET50_GMACS,
            "runtimes": {rt: {"best_speedup": round(s, 3), "best_gmacs_per_s": round(r, 1),
                              "resnet50_floor_ms": round(RESNET50_GMACS / r * 1e3, 3)}
                         for rt, (s, r) in best.items()}}
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())

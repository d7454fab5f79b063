"""Where an INT8 model's batch-1 time goes in OpenVINO, layer by layer, as GMAC/s against the host's ceiling.

``int8_ceiling.py`` measures the best INT8 convolution rate this CPU reaches with no
model around it (per shape class); ``peer_kernels.py`` shows that our compiled graph
and the NNCF peer's use the same kernels. This script says what is left between a
whole network and that ceiling: each convolution's multiply-adds (from the model's
shapes) over its time in OpenVINO's per-node profile (``PERF_COUNT``), summed by
kernel class, and what the network would take if every class ran at the rate given
with ``--rates`` (e.g. the ceiling script's best 3x3 and 1x1 rates).

``--stem s2d`` profiles the same model with its 7x7/s2 stem rewritten, exactly, as
Pad + SpaceToDepth(2) + a 4x4/s1 convolution on 12 channels: the one layer class that
runs below its rate, tried in the form other INT8 stacks use for it. ``--pointwise matmul``
profiles it with every 1x1/s1 convolution in GEMM form (MatMul on ``[N, H*W, C]`` rows).

    python benchmarks/layer_rates.py ARTIFACT [--key int8-openvino] [--batch 1] [--rounds 20]
        [--rates 3x3@56=166,3x3@28=176,3x3@14=186,3x3@7=202,1x1=155] [--stem s2d] [--pointwise matmul]
        [--out benchmarks/results/layer_rates.md]
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from resnet_deploy.bench.conv_classes import conv_macs, read_static
from resnet_deploy.bench.machine import machine_line


def space_to_depth_stem(model: Any) -> Any:
    """Rewrite an ONNX model's 7x7/s2/p3 stem as Pad(3) + SpaceToDepth(2) + 4x4/s1 conv on 12 channels.

    Exact: output pixel i reads padded rows 2i..2i+6, which are blocks i..i+3 of two rows;
    the eighth row of the last block gets a zero weight. The padding happens before the
    input's QuantizeLinear (if any), so a padded 0.0 still dequantises to 0.0.
    """
    from onnx import helper, numpy_helper

    g = model.graph
    conv = next((n for n in g.node if n.op_type == "Conv"
                 and any(a.name == "kernel_shape" and list(a.ints) == [7, 7] for a in n.attribute)), None)
    if conv is None:
        raise SystemExit("error: --stem s2d needs a model with a 7x7 stem convolution")
    attrs = {a.name: list(a.ints) for a in conv.attribute}
    if attrs.get("strides") != [2, 2] or attrs.get("pads") != [3, 3, 3, 3]:
        raise SystemExit("error: --stem s2d needs a 7x7 stem with stride 2 and its padding of 3 inside the conv "
                         "(raw-pixel files pad before it: profile their float-input twin)")
    inits = {i.name: i for i in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    wnode = producer.get(conv.input[1])
    wname = wnode.input[0] if wnode is not None and wnode.op_type == "DequantizeLinear" else conv.input[1]
    w = numpy_helper.to_array(inits[wname])
    c = w.shape[1]
    w2 = np.zeros((w.shape[0], 4 * c, 4, 4), w.dtype)
    for bh in range(2):
        for bw in range(2):
            sub = w[:, :, bh::2, bw::2]
            w2[:, (2 * bh + bw) * c:(2 * bh + bw + 1) * c, :sub.shape[2], :sub.shape[3]] = sub
    inits[wname].CopyFrom(numpy_helper.from_array(w2, wname))
    src = g.input[0].name
    dims = [d.dim_value for d in g.input[0].type.tensor_type.shape.dim]
    feeds = [n for n in g.node if src in n.input]
    if len(dims) != 4 or dims[1] != c or any(n is not conv and n.op_type != "QuantizeLinear" for n in feeds):
        raise SystemExit("error: --stem s2d needs a float NCHW input that feeds the stem (not a raw-pixel file)")
    g.initializer.append(numpy_helper.from_array(np.array([0, 0, 3, 3, 0, 0, 3, 3], np.int64), "stem_s2d_pads"))
    first = min(i for i, n in enumerate(g.node) if src in n.input)
    for n in g.node:
        n.input[:] = ["stem_s2d" if name == src else name for name in n.input]
    g.node.insert(first, helper.make_node("SpaceToDepth", ["stem_s2d_padded"], ["stem_s2d"], blocksize=2))
    g.node.insert(first, helper.make_node("Pad", [src, "stem_s2d_pads"], ["stem_s2d_padded"]))
    for a in conv.attribute:
        if a.name in ("kernel_shape", "strides", "pads"):
            a.ints[:] = {"kernel_shape": [4, 4], "strides": [1, 1], "pads": [0, 0, 0, 0]}[a.name]
    return model


def pointwise_as_matmul(model: Any) -> Any:
    """Rewrite every 1x1/s1 convolution of an ONNX model (Q/DQ or float) as Transpose to NHWC + Reshape to
    ``[N, H*W, Cin]`` + MatMul with the transposed weight (its DequantizeLinear on axis 1) + Reshape +
    Transpose back: the GEMM form, asked of the whole network because on the AVX-512 VNNI host
    ``int8_ceiling.py --matmul`` timed OpenVINO's INT8 MatMul faster than its 1x1 convolution.
    The same arithmetic; INT8 results may differ by the kernels' requantisation rounding.
    """
    from onnx import helper, numpy_helper, shape_inference

    model = shape_inference.infer_shapes(model)
    g = model.graph
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in [*g.value_info, *g.input, *g.output]}
    producer = {o: n for n in g.node for o in n.output}
    inits = {i.name: i for i in g.initializer}
    nodes = []
    for n in g.node:
        attrs = {a.name: list(a.ints) for a in n.attribute}
        out_shape = shapes.get(n.output[0], [])
        if (n.op_type != "Conv" or attrs.get("kernel_shape") != [1, 1] or attrs.get("strides", [1, 1]) != [1, 1]
                or attrs.get("group", [1]) not in ([1], []) or len(out_shape) != 4 or 0 in out_shape[1:]):
            nodes.append(n)
            continue
        dq = producer.get(n.input[1])
        name = dq.input[0] if dq is not None and dq.op_type == "DequantizeLinear" else n.input[1]
        w = numpy_helper.to_array(inits[name])
        cout, cin = w.shape[:2]
        h, wd, tag = out_shape[2], out_shape[3], n.output[0]
        g.initializer.extend([numpy_helper.from_array(w[:, :, 0, 0].T.copy(), f"{tag}_wT"),
                              numpy_helper.from_array(np.array([0, -1, cin], np.int64), f"{tag}_rows"),
                              numpy_helper.from_array(np.array([0, h, wd, cout], np.int64), f"{tag}_nhwc")])
        weight = f"{tag}_wT"
        if name != n.input[1]:
            nodes.append(helper.make_node("DequantizeLinear", [weight, *dq.input[1:]], [f"{tag}_wTd"], axis=1))
            weight = f"{tag}_wTd"
        nodes += [helper.make_node("Transpose", [n.input[0]], [f"{tag}_t"], perm=[0, 2, 3, 1]),
                  helper.make_node("Reshape", [f"{tag}_t", f"{tag}_rows"], [f"{tag}_r"]),
                  helper.make_node("MatMul", [f"{tag}_r", weight], [f"{tag}_mm"])]
        cur = f"{tag}_mm"
        if len(n.input) > 2 and n.input[2]:
            nodes.append(helper.make_node("Add", [cur, n.input[2]], [f"{tag}_b"]))
            cur = f"{tag}_b"
        nodes += [helper.make_node("Reshape", [cur, f"{tag}_nhwc"], [f"{tag}_r2"]),
                  helper.make_node("Transpose", [f"{tag}_r2"], [tag], perm=[0, 3, 1, 2])]
    del g.node[:]
    g.node.extend(nodes)
    return model


def profile(path: Path, batch: int, threads: int, rounds: int) -> tuple[dict[str, tuple[str, str, float]],
                                                                      dict[str, tuple[int, str]], float]:
    """Node name -> (type, kernel, mean ms) over ``rounds`` calls, the convolutions' MACs, the mean wall ms."""
    import time

    import openvino as ov

    core = ov.Core()
    model = read_static(path, batch)
    port = model.inputs[0]
    dims = [int(d) for d in port.get_shape()]
    compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY",
                                                 "INFERENCE_NUM_THREADS": threads, "PERF_COUNT": True})
    rng = np.random.default_rng(0)
    if port.get_element_type().to_dtype() == np.uint8:
        x = rng.integers(0, 256, dims, dtype=np.uint8)
    else:
        x = rng.standard_normal(dims, dtype=np.float32)
    req = compiled.create_infer_request()
    for _ in range(5):
        req.infer({0: x})
    nodes: dict[str, list[Any]] = {}
    wall = 0.0
    for _ in range(rounds):
        t = time.perf_counter()
        req.infer({0: x})
        wall += time.perf_counter() - t
        for p in req.get_profiling_info():
            if p.status == p.Status.EXECUTED:
                rec = nodes.setdefault(p.node_name, [p.node_type, p.exec_type, 0.0])
                rec[2] += p.real_time.total_seconds() * 1e3 / rounds
    return {k: (v[0], v[1], v[2]) for k, v in nodes.items()}, conv_macs(model), 1e3 * wall / rounds


def report(art: Path, key: str, batch: int, threads: int, rounds: int, rates: dict[str, float],
           stem: str = "as-is", pointwise: str = "conv") -> str:
    path = art / f"model.{key}.onnx"
    if not path.is_file():
        raise SystemExit(f"error: {path} not found; pass --key with a file key of the artifact (e.g. int8-openvino)")
    if stem == "s2d" or pointwise == "matmul":
        import tempfile

        import onnx

        model = onnx.load(str(path))
        model = space_to_depth_stem(model) if stem == "s2d" else model
        model = pointwise_as_matmul(model) if pointwise == "matmul" else model
        with tempfile.TemporaryDirectory() as tmp:
            rewritten = Path(tmp) / path.name
            onnx.save(model, str(rewritten))
            nodes, macs, wall = profile(rewritten, batch, threads, rounds)
    else:
        nodes, macs, wall = profile(path, batch, threads, rounds)
    classes: dict[tuple[str, str], list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0])
    other = 0.0
    for name, (typ, kernel, ms) in nodes.items():
        if name not in macs and typ.startswith("FullyConnected"):  # a MatMul runs under "<its name>/<fused op>"
            name = name.split("/")[0]
        if name in macs:
            m, k = macs[name]
            c = classes[(k, kernel)]
            c[0] += m
            c[1] += ms
            c[2] += 1
        else:
            other += ms
    profiled = sum(v[2] for v in nodes.values())
    total_macs = sum(m for m, _ in macs.values())
    title = (f"# Layer rates: {art.name} `{path.name}`" + (", stem as space-to-depth" if stem == "s2d" else "")
             + (", 1x1 convolutions as MatMul" if pointwise == "matmul" else ""))
    lines = [f"{title}, batch {batch}", "",
             f"- machine: {machine_line()}", f"- threads {threads}, {rounds} calls with PERF_COUNT",
             f"- command: `{' '.join([Path(sys.executable).name, *sys.argv])}`", "",
             f"Wall {wall:.2f} ms per call; the profile accounts for {profiled:.2f} ms; "
             f"{total_macs / 1e9:.3f} GMACs in convolutions.", "",
             "| conv class | kernel | layers | GMACs | ms | share of time | GMAC/s | ms at the given rate |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    at_rates = other
    for (k, kernel), (m, ms, n) in sorted(classes.items(), key=lambda kv: -kv[1][1]):
        size = k.split("@")[0]
        rate = rates.get(k, rates.get(size, max(rates.values()))) if rates else None
        ideal = m / (rate * 1e9) * 1e3 if rate else None
        at_rates += ideal if ideal is not None else ms
        lines.append(f"| {k} | {kernel} | {int(n)} | {m / 1e9:.3f} | {ms:.2f} | {100 * ms / profiled:.1f} % | "
                     f"{m / (ms * 1e6):.0f} | {'' if ideal is None else f'{ideal:.2f}'} |")
    lines.append(f"| other nodes | | | | {other:.2f} | {100 * other / profiled:.1f} % | | {other:.2f} |")
    lines.append("")
    best = max(rates.values()) if rates else None
    if best:
        floor = total_macs / (best * 1e9) * 1e3
        lines += [f"At the best rate given ({best:.0f} GMAC/s) the convolutions alone take {floor:.2f} ms: "
                  f"this run reaches {100 * floor / wall:.0f} % of that ceiling.",
                  f"With each class at its own given rate ({', '.join(f'{k} {v:.0f}' for k, v in rates.items())}) "
                  f"the profile would sum to {at_rates:.2f} ms, {100 * floor / at_rates:.0f} % of the "
                  "ceiling: the most these kernels allow.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("artifact", type=Path)
    p.add_argument("--key", default="int8-openvino", help="the artifact's file key (default int8-openvino)")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--rates", default="", help="GMAC/s per class from int8_ceiling.py, by kernel size or size@width, "
                                               "e.g. 3x3@56=166,3x3=202,1x1=155 (unlisted classes take the best rate given)")
    p.add_argument("--stem", choices=("as-is", "s2d"), default="as-is",
                   help="s2d: profile the model with its 7x7 stem rewritten as SpaceToDepth + 4x4 conv (exact)")
    p.add_argument("--pointwise", choices=("conv", "matmul"), default="conv",
                   help="matmul: profile the model with every 1x1/s1 convolution as a MatMul on [N, H*W, C] rows")
    p.add_argument("--out", type=Path, help="also write the Markdown here")
    args = p.parse_args(argv)
    try:
        rates = {k: float(v) for k, v in (item.split("=") for item in args.rates.split(",") if item)}
    except ValueError:
        raise SystemExit(f"error: --rates must look like 3x3=202,1x1=160, got {args.rates!r}") from None
    text = report(args.artifact, args.key, args.batch, args.threads, args.rounds, rates, args.stem, args.pointwise)
    print(text)
    if args.out:
        from resnet_deploy.atomic import write_text_atomic

        write_text_atomic(args.out, text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Where an INT8 model's top-1 agreement with FP32 goes, and whether NNCF keeps more of it.

``quantize`` reports one agreement figure per INT8 file. When it is short of a target
(e.g. 99.5 %), the useful question is which part of the pipeline loses it. This script
re-emits the artifact's INT8 target from its saved ranges (``calibration.json``; nothing
is calibrated again) in a few variants and scores each against FP32 on the same images:

* three ways of running the same file: ONNX Runtime's int8 kernels, ONNX Runtime with graph
  optimisation off (Q/DQ simulated in float: the quantisation noise alone, no int8
  kernel), and OpenVINO's CPU plugin;
* 8-bit instead of 7-bit weights (``reduce_range``, which this project ships for CPUs
  without VNNI);
* the ``--exclude`` most sensitive nodes (the accuracy guard's ranking) kept in float;
* NNCF's own INT8 of the same FP32 model on the same calibration images, both presets,
  in OpenVINO (``--no-peer`` skips it).

It also says how close to a tie the flipped images were in FP32 (top-1 minus top-2 logit):
flips on near-ties are noise that INT8 cannot avoid, flips on clear margins are a bug. With a
few flips in hundreds of images, one variant can win by luck; the mean logit error over every
image is the steadier figure, and the table gives both.

    python benchmarks/int8_agreement.py ARTIFACT [--target openvino] [--exclude 4,16]
        [--eval-data sample] [--eval-size 1000] [--no-peer]
        [--out benchmarks/results/int8_agreement.md]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from resnet_deploy.bench.machine import machine_line


class Scorer:
    """FP32's logits on the eval images, and each variant's agreement with them."""

    def __init__(self, ref: np.ndarray, labels: np.ndarray | None) -> None:
        self.ref, self.labels, self.top = ref, labels, ref.argmax(1)
        srt = np.sort(ref, axis=1)
        self.margin = srt[:, -1] - srt[:, -2]  # FP32 top-1 minus top-2 logit
        self.span = float(ref.max() - ref.min())

    def score(self, logits: np.ndarray) -> dict[str, Any]:
        from resnet_deploy.metrics import agreement, topk_accuracy

        flipped = logits.argmax(1) != self.top
        out: dict[str, Any] = {"agreement": agreement(self.ref, logits), "flips": int(flipped.sum()),
                               # every logit's error, not only the few near-ties that flip: the steadier figure
                               "mean_abs_rel": float(np.abs(logits - self.ref).mean() / self.span),
                               "flip_margin_median": float(np.median(self.margin[flipped])) if flipped.any() else None}
        if self.labels is not None:
            out["top1"] = topk_accuracy(logits, self.labels, 1)
        return out


def ov_logits(model: Any, x: np.ndarray, batch: int = 32) -> np.ndarray:
    """OpenVINO CPU, compiled as our runner compiles it (f32 hint, latency mode)."""
    import openvino as ov

    from resnet_deploy.runtime.openvino import cpu_compile_config
    from resnet_deploy.runtime.ov_forms import with_batch

    core = ov.Core()
    m = with_batch(ov, core.read_model(str(model)) if isinstance(model, (str, Path)) else model, None)
    req = core.compile_model(m, "CPU", cpu_compile_config(None)).create_infer_request()
    return np.concatenate([req.infer({0: x[i:i + batch]})[0].copy() for i in range(0, len(x), batch)])


def measure(art: Path, target: str, exclude: list[int], eval_data: str, eval_size: int, peer: bool,
            say: Any) -> dict[str, Any]:
    """Every variant's score (see the module docstring)."""
    from resnet_deploy.artifact import load_manifest
    from resnet_deploy.data import open_source
    from resnet_deploy.quantize import qdq
    from resnet_deploy.quantize.calibrate import CalibrationRanges
    from resnet_deploy.quantize.evaluate import run_logits
    from resnet_deploy.quantize.sensitivity import measure as sensitivity
    from resnet_deploy.quantize.targets import spec

    manifest = load_manifest(art)
    fp32 = manifest.file("onnx", "fp32")
    if fp32 is None or not (art / "calibration.json").is_file():
        raise SystemExit(f"error: {art} has no model.fp32.onnx and calibration.json; run "
                         f"`resnet-deploy quantize {art}` first")
    x, labels = open_source(eval_data, manifest.preprocessing, split="eval", limit=eval_size).arrays()
    if labels is not None and (labels.max() >= manifest.model.num_classes):
        labels = None  # another label space: agreement only
    scorer = Scorer(run_logits(art / fp32.path, x), labels)
    ranges = CalibrationRanges.load(art / "calibration.json")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="int8-agreement-") as tmp:
        work = Path(tmp)
        prepared = qdq.prepare_model(art / fp32.path, work / "prepared.onnx")
        shipped = spec(target).reduce_range
        variants = [("as shipped", shipped, 0), ("8-bit weights" if shipped else "7-bit weights", not shipped, 0)]
        variants += [(f"{k} most sensitive nodes in float", shipped, k) for k in exclude]
        ranking: list[str] = []
        for name, rr, k in variants:
            say(f"{target}: {name}")
            path = work / f"v{len(rows)}.onnx"
            qdq.emit_qdq(prepared, ranges, target, path, cache_path=work / "cache.json",
                         exclude=ranking[:k], reduce_range=rr)
            if not ranking and exclude:
                ranking = sensitivity(prepared, path, x[:64], work, input_name=manifest.input.name).ranking()
            rows.append({"variant": f"ours ({target}): {name}", "weights": "7-bit" if rr else "8-bit",
                         "ort": scorer.score(run_logits(path, x)),
                         "simulated": scorer.score(run_logits(path, x, optimise=False)),
                         "openvino": scorer.score(ov_logits(path, x))})
        if peer:
            from resnet_deploy.bench.peer import PRESETS, quantize_peer

            for preset in PRESETS:
                say(f"NNCF {preset}")
                model = quantize_peer(art, manifest, preset=preset).model
                rows.append({"variant": f"NNCF {preset}", "weights": "8-bit", "openvino": scorer.score(ov_logits(model, x))})
    return {"artifact": str(art), "arch": manifest.model.arch, "target": target, "images": int(len(x)),
            "eval_data": eval_data, "fp32_top1": float((scorer.top == labels).mean()) if labels is not None else None,
            "fp32_margin_median": float(np.median(scorer.margin)), "rows": rows}


def render(res: dict[str, Any]) -> str:
    """Markdown: one row per variant, agreement (flips) per way of running it."""
    def cell(s: dict[str, Any] | None) -> str:
        return "–" if s is None else f"{100 * s['agreement']:.2f} % ({s['flips']}), {1e3 * s['mean_abs_rel']:.2f}"

    top = f", FP32 top-1 {100 * res['fp32_top1']:.2f} %" if res["fp32_top1"] is not None else ""
    lines = [f"`{res['arch']}` INT8 `{res['target']}` target vs FP32 on {res['images']} `{res['eval_data']}` eval "
             f"images{top}; {machine_line()}.", "",
             "| variant | weights | ORT int8 kernels | ORT Q/DQ simulated | OpenVINO | OpenVINO top-1 | "
             "flips' FP32 margin (median) |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in res["rows"]:
        ov = r["openvino"]
        top1 = f"{100 * ov['top1']:.2f} %" if "top1" in ov else "–"
        margin = "–" if ov["flip_margin_median"] is None else f"{ov['flip_margin_median']:.3f}"
        lines.append(f"| {r['variant']} | {r['weights']} | {cell(r.get('ort'))} | {cell(r.get('simulated'))} | "
                     f"{cell(ov)} | {top1} | {margin} |")
    lines += ["", "Each cell: agreement with FP32 top-1, flipped images in brackets, then the mean |logit error| "
                  "in thousandths of FP32's logit range (every logit counts, so it is steadier than a few flips). "
                  f"The median FP32 margin (top-1 minus top-2 logit) is {res['fp32_margin_median']:.3f} over all "
                  "images; the last column is the same for the images OpenVINO flipped."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("artifact", type=Path)
    p.add_argument("--target", choices=("cpu", "openvino", "tensorrt"), default="openvino")
    p.add_argument("--exclude", default="4,16", help="comma-separated counts of most sensitive nodes kept in float")
    p.add_argument("--eval-data", default="sample")
    p.add_argument("--eval-size", type=int, default=1000)
    p.add_argument("--no-peer", action="store_true", help="skip NNCF's INT8 of the same model")
    p.add_argument("--out", type=Path, help="also write the Markdown here (and the JSON next to it)")
    args = p.parse_args(argv)
    try:
        exclude = [int(k) for k in args.exclude.split(",") if k.strip()]
    except ValueError:
        raise SystemExit(f"error: --exclude must look like 4,16, got {args.exclude!r}") from None
    if not (args.artifact / "manifest.json").is_file():
        raise SystemExit(f"error: {args.artifact} is not an artifact (no manifest.json); pass an exported, "
                         "quantized artifact directory")
    if not args.no_peer:
        from resnet_deploy.bench.peer import probe_peer

        if (why := probe_peer()) is not None:
            raise SystemExit(f"error: the NNCF comparison needs openvino and nncf ({why}); pass --no-peer")
    res = measure(args.artifact, args.target, exclude, args.eval_data, args.eval_size, not args.no_peer,
                  lambda m: print(m, file=sys.stderr, flush=True))
    text = render(res)
    print(text)
    if args.out:
        from resnet_deploy.atomic import write_text_atomic

        write_text_atomic(args.out, text + "\n")
        write_text_atomic(args.out.with_suffix(".json"), json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What OpenVINO's compiled forms (``runtime.ov_forms``) gain per batch size over one dynamic-batch model.

This VM's host flips between a fast and a slow state every few seconds (README, "The slow
host"), so two sides timed in separate processes seconds apart often meet different states
and a 3 % effect drowns. Here the variants live in one process and take turns in short
windows (forward order in even rounds, backward in odd ones); each window starts with 3
untimed calls, so OpenVINO's workers are awake, and no two variants ever run at once. A
figure is the median over rounds of that round's ratio to ``dynamic`` (our runner with
``specialize=False``: the one dynamic-batch model every OpenVINO user starts from).
``dynamic-again``, a second runner of the same kind, is the A/A control: its spread is the
method's noise floor. ``--peer XML`` adds the NNCF model (IR saved by ``end_to_end.py
--work-dir``) through the peer's own runner.

    python benchmarks/ov_forms.py ARTIFACT [--spec openvino:int8-openvino] [--batches 1,2,4,16]
        [--rounds 30] [--window 0.5] [--threads 2] [--peer PEER.xml] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

REFERENCE = "dynamic"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("artifact", type=Path)
    p.add_argument("--spec", default="openvino:int8-openvino", help="our runner's spec (default %(default)s)")
    p.add_argument("--batches", default="1,2,4,16", help="comma-separated batch sizes (default %(default)s)")
    p.add_argument("--rounds", type=int, default=30, help="alternating rounds per batch size (default %(default)s)")
    p.add_argument("--window", type=float, default=0.5, help="timed seconds per variant and round (default %(default)s)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--peer", type=Path, help="NNCF peer IR (.xml) to time beside ours")
    p.add_argument("--out", type=Path, help="write the Markdown table here")
    return p.parse_args(argv)


def make_runners(args: argparse.Namespace) -> dict[str, Any]:
    """Name -> activated runner: forms, dynamic, its A/A twin, and the peer when given."""
    from resnet_deploy.artifact import load_manifest
    from resnet_deploy.runtime.resolve import make_runner, resolve

    manifest = load_manifest(args.artifact)
    cand = resolve(manifest, args.spec)
    runners: dict[str, Any] = {
        "forms": make_runner(args.artifact, manifest, cand, threads=args.threads),
        REFERENCE: make_runner(args.artifact, manifest, cand, threads=args.threads, specialize=False),
        "dynamic-again": make_runner(args.artifact, manifest, cand, threads=args.threads, specialize=False),
    }
    if args.peer is not None:
        from resnet_deploy.bench.peer import PeerModel, PeerRunner

        runners["nncf-peer"] = PeerRunner(args.artifact, manifest, PeerModel(model=str(args.peer), info={}),
                                          threads=args.threads)
    for r in runners.values():
        r.activate()
    return runners


def window_ms(runner: Any, x: np.ndarray, seconds: float) -> float:
    """Median ms per call over one window (the runtime's own timing loop: 3 untimed calls, then >= 3 timed)."""
    from resnet_deploy.runtime.timing import TimingPlan, time_calls

    return float(np.median(time_calls(runner, x, TimingPlan(warmup=3, time_budget=seconds, min_iterations=3)))) / 1e6


def alternate(runners: dict[str, Any], x: np.ndarray, rounds: int, seconds: float) -> dict[str, list[float]]:
    """Per variant, one median per round; the order reverses every round."""
    names = list(runners)
    out: dict[str, list[float]] = {n: [] for n in names}
    for k in range(rounds):
        for name in names if k % 2 == 0 else reversed(names):
            out[name].append(window_ms(runners[name], x, seconds))
    return out


def summarise(ms: dict[str, list[float]]) -> list[dict[str, Any]]:
    """Each variant's median ms and its per-round ratio to the reference (median, min, max, rounds faster)."""
    ref = ms[REFERENCE]
    rows = []
    for name, values in ms.items():
        ratios = [a / b for a, b in zip(values, ref, strict=True)]
        rows.append({"variant": name, "ms": statistics.median(values), "ratio": statistics.median(ratios),
                     "lo": min(ratios), "hi": max(ratios), "faster": sum(r < 1.0 for r in ratios),
                     "rounds": len(ratios)})
    return rows


def row_lines(bs: int, rows: list[dict[str, Any]]) -> list[str]:
    return [f"| {bs} | {r['variant']} | {r['ms']:.3f} | {r['ratio']:.4f} | {r['lo']:.3f}-{r['hi']:.3f} "
            f"| {r['faster']} of {r['rounds']} |" for r in rows]


def render(tables: dict[int, list[dict[str, Any]]], head: list[str]) -> str:
    lines = [*head, "", "| batch | variant | ms per call (median) | ratio to dynamic (median of rounds) | range | "
             "rounds faster |", "|---:|---|---:|---:|---|---:|"]
    for bs, rows in tables.items():
        lines += row_lines(bs, rows)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from resnet_deploy.bench.machine import machine_line
    from resnet_deploy.runtime.timing import make_input

    runners = make_runners(args)
    shape = tuple(int(v) for v in runners["forms"].input_spec.shape[1:])
    dtype = runners["forms"].input_dtype
    head = [f"- host: {machine_line()}",
            f"- command: `python benchmarks/ov_forms.py {' '.join(sys.argv[1:] if argv is None else argv)}`",
            f"- date: {datetime.now(timezone.utc).isoformat(timespec='seconds')}; {args.threads} threads; "
            f"{args.rounds} rounds of {args.window} s windows per variant and batch, in one process"]
    tables: dict[int, list[dict[str, Any]]] = {}
    for bs in [int(b) for b in args.batches.split(",") if b.strip()]:
        x = make_input(shape, bs, seed=bs, dtype=dtype)
        tables[bs] = summarise(alternate(runners, x, args.rounds, args.window))
        print("\n".join(row_lines(bs, tables[bs])), flush=True)
    text = render(tables, head)
    if args.out:
        args.out.write_text(text)
    print(text)
    for r in runners.values():
        r.deactivate()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

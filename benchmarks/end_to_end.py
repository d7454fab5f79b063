"""Issue 15, point 5 in one run: resnet-deploy against OpenVINO+NNCF, inference only and JPEG bytes -> top-5.

Every timed unit runs alone in a fresh spawned process (``bench.worker``), with
the CPU other processes used during its window beside it (``bench.noise``):

1. inference only, each model INT8 at batch 1 and 16: paired rounds of our best
   OpenVINO INT8 file against the NNCF-quantised model (``bench.paired``);
2. end to end on the main (last) model: ``Predictor.predict`` on JPEG bytes
   against what an OpenVINO+NNCF user writes (PIL + numpy + the compiled NNCF
   model, one Python thread; ``bench.e2e_sides.UserBaseline``);
3. the same through ``serve``'s image model over HTTP, N concurrent clients;
4. the main model's batch-1 latency as a share of the host's INT8 ceiling
   (``benchmarks/int8_ceiling.py --artifact``: the best INT8 convolution rate of any runtime, timed
   in the same rounds as the model; the median share over rounds).

Images: camera-sized JPEGs (640-4000 px) of the built-in sample renderings and
scikit-image's photographs. Artifacts are exported + quantised here (224 px,
built-in calibration data) unless --artifacts names a folder with one per model.

    python benchmarks/end_to_end.py --check               # full run, quiet machine (~15-20 min on 2 cores)
    python benchmarks/end_to_end.py --artifacts /tmp/suite_work
    python benchmarks/end_to_end.py --models resnet18 --input-size 64 --rounds 1 --seconds 0.2 \\
        --e2e-seconds 0.5 --images 4 --calib-size 8 --ceiling-rounds 1 --out /tmp/e2e.md   # smoke
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from resnet_deploy.bench.e2e_sides import Isolation, guarded

ROOT = Path(__file__).resolve().parent
DEFAULT_OUT = ROOT / "results" / "end_to_end.md"
PARTS = ("inference", "e2e", "serve", "ceiling")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--models", default="resnet18,resnet50", help="comma-separated; the LAST is the main model")
    p.add_argument("--artifacts", type=Path, help="folder with one INT8 artifact per model (DIR/<model>), read only")
    p.add_argument("--input-size", type=int, default=224, help="when building artifacts (default 224)")
    p.add_argument("--calib-size", type=int, default=512, help="calibration images when building (default 512)")
    p.add_argument("--targets", help="INT8 targets when building (default: quantize's default, every per-runtime file)")
    p.add_argument("--rounds", type=int, default=6, help="paired inference-only rounds vs NNCF (default 6)")
    p.add_argument("--seconds", type=float, default=2.0, help="timed seconds per side, batch and round (default 2)")
    p.add_argument("--e2e-seconds", type=float, default=15.0, help="timed seconds per end-to-end window (default 15)")
    p.add_argument("--images", type=int, default=32, help="camera-sized JPEGs in the set (default 32)")
    p.add_argument("--batch", type=int, default=16, help="end-to-end throughput batch (default 16)")
    p.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients for serve (default 8)")
    p.add_argument("--backend", default="auto", help="Predictor/serve backend for the end-to-end figures (default auto)")
    p.add_argument("--threads", type=int, help="threads for every runtime (default: every usable core)")
    p.add_argument("--ceiling-rounds", type=int, default=8, help="int8_ceiling.py rounds, each timing the model and every INT8 chain (default 8)")
    p.add_argument("--ceiling-per-round", type=int, default=25, help="int8_ceiling.py calls per round (default 25)")
    p.add_argument("--retime", type=int, default=1,
                   help="re-run a part timed while the host was slow, after waiting, up to N times (default 1; 0: off)")
    p.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Markdown result (JSON beside it, .json)")
    p.add_argument("--work-dir", type=Path, help="scratch folder for images, artifacts, peer IR (default: temp); "
                                                 "kept, so a second run reuses the NNCF peer of the same artifact")
    p.add_argument("--check", action="store_true", help="exit 1 when a target fails")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.add_argument("--json", action="store_true", help="print the JSON result on stdout")
    return p.parse_args(argv)


def validate(args: argparse.Namespace) -> None:
    """User mistakes -> one ConfigError line (exit 2), before anything is built or timed."""
    from resnet_deploy.checks import check_int, check_number
    from resnet_deploy.errors import ConfigError

    for name in ("input_size", "calib_size", "rounds", "images", "clients", "ceiling_rounds", "ceiling_per_round"):
        check_int(getattr(args, name), f"--{name.replace('_', '-')}", hint="pass a positive whole number")
    check_int(args.batch, "--batch", minimum=2, hint="pass e.g. 16 (batch 1 is always timed for latency)")
    check_int(args.threads, "--threads", allow_none=True, hint="pass e.g. 2, or leave it out for every core")
    check_int(args.retime, "--retime", minimum=0, hint="pass 0 (off), 1 or 2")
    for name in ("seconds", "e2e_seconds"):
        check_number(getattr(args, name), f"--{name.replace('_', '-')}", minimum=0, exclusive_minimum=True,
                     hint="pass e.g. 2")
    args.model_list = [m.strip() for m in args.models.split(",") if m.strip()]
    args.part_list = [p.strip() for p in args.parts.split(",") if p.strip()]
    if not args.model_list:
        raise ConfigError("--models is empty; pass e.g. resnet18,resnet50")
    bad = sorted(set(args.part_list) - set(PARTS))
    if bad or not args.part_list:
        raise ConfigError(f"unknown --parts {','.join(bad) or '(none)'}; choose from {','.join(PARTS)}")
    if args.artifacts is not None:
        for m in args.model_list:
            if not (args.artifacts / m / "manifest.json").is_file():
                raise ConfigError(f"--artifacts {args.artifacts} has no {m}/manifest.json; "
                                  f"pass a folder with one artifact per model, or leave --artifacts out")


# -- images ------------------------------------------------------------------------------------


def make_photo_set(out_dir: Path, n: int) -> list[Path]:
    """``n`` camera-sized JPEGs (640-4000 px): alternately a real photograph from scikit-image's
    package data and a built-in sample rendering enlarged to a camera size (``resnet_deploy.data.photos``)."""
    from resnet_deploy.atomic import write_bytes_atomic
    from resnet_deploy.data.photos import CAMERA_SIZES, camera_jpegs, sample_jpegs
    from resnet_deploy.errors import MissingDependencyError

    try:
        import skimage  # noqa: F401  (its package data are the real photographs)
    except ImportError as exc:
        raise MissingDependencyError("scikit-image is not installed (its package data are the real photographs "
                                     "of this benchmark); install it with: pip install -e '.[photos]'") from exc
    real = camera_jpegs((n + 1) // 2)
    synth = sample_jpegs("eval", n // 2, sizes=CAMERA_SIZES[::-1])[0] if n > 1 else []
    mixed = [j for pair in zip(real, synth, strict=False) for j in pair] + real[len(synth):]
    return [write_bytes_atomic(out_dir / f"{i:03d}_{j.filename}", j.data) for i, j in enumerate(mixed[:n])]


# -- artifacts (built in a fresh process) -------------------------------------------------------


def build_artifact(arch: str, size: int, calib: int, out: str, targets: str | None) -> str:
    """Child: export ONNX (random init: speed does not depend on weights) + INT8 on the sample set.

    ``targets`` None keeps ``QuantizeConfig``'s default, so every per-runtime INT8 file it makes is there.
    """
    from resnet_deploy.export.config import ExportConfig
    from resnet_deploy.export.pipeline import export_artifact
    from resnet_deploy.quantize.config import QuantizeConfig
    from resnet_deploy.quantize.pipeline import quantize_artifact

    export_artifact(ExportConfig(arch=arch, input_size=size, formats=("onnx",), out=Path(out), force=True))
    extra: dict[str, Any] = {"targets": targets} if targets else {}
    quantize_artifact(Path(out), QuantizeConfig(calib_data="sample", calib_size=calib, eval_size=min(calib, 200),
                                                **extra))
    return out


def artifacts(args: argparse.Namespace, work: Path, ui: Any) -> dict[str, Path]:
    from resnet_deploy.bench.worker import in_fresh_process

    if args.artifacts is not None:
        return {m: args.artifacts / m for m in args.model_list}
    out = {}
    for m in args.model_list:
        with ui.status(f"{m}: export + INT8 ({args.input_size} px, {args.calib_size} sample images), fresh process"):
            out[m] = Path(in_fresh_process(build_artifact, m, args.input_size, args.calib_size,
                                           str(work / m), args.targets).value)
    return out


# -- the parts -----------------------------------------------------------------------------------


def nncf_peer(arch: str, art: Path, work: Path, iso: Isolation, ui: Any) -> Any:
    """The NNCF peer as IR under ``work``: quantised once in a fresh process, reused from a kept ``--work-dir``.

    NNCF's PyTorch work can leave this host slow for minutes (``bench.hostprobe``), so after
    quantising we wait for it to recover; a second run with the same ``--work-dir`` skips it.
    """
    from resnet_deploy.bench.e2e_sides import peer_ir
    from resnet_deploy.bench.peer import PeerModel
    from resnet_deploy.bench.retime import settle
    from resnet_deploy.bench.worker import in_fresh_process

    folder = work / f"peer-{arch}"
    xml, info = folder / "peer_int8.xml", folder / "peer_info.json"
    source = hashlib.sha256((art / "manifest.json").read_bytes()).hexdigest()  # the artifact it was made from
    kept = json.loads(info.read_text()) if info.is_file() else {}
    if xml.is_file() and kept.get("source") == source:
        ui.info(f"{arch}: reusing the NNCF peer in {folder}")
        return PeerModel(model=str(xml), info=kept["info"])
    folder.mkdir(parents=True, exist_ok=True)
    info.unlink(missing_ok=True)
    with ui.status(f"{arch}: NNCF quantisation of the FP32 ONNX (the peer), fresh process"):
        peer = iso.add(f"{arch} NNCF quantisation", in_fresh_process(peer_ir, str(art), str(folder)))
    # written last: its presence (with this artifact's manifest hash) means the IR is whole and current
    info.write_text(json.dumps({"source": source, "info": peer.info}, default=str))
    settle(ui.info)
    return peer


def inference_part(arch: str, art: Path, args: argparse.Namespace, work: Path, iso: Isolation,
                   ui: Any) -> dict[str, Any]:
    """Paired rounds (``bench.paired.paired_rounds``) at batch 1 and ``--batch``, each side a fresh process."""
    from resnet_deploy.artifact import load_manifest
    from resnet_deploy.bench.e2e_sides import infer_side, openvino_int8_spec
    from resnet_deploy.bench.paired import paired_rounds
    from resnet_deploy.bench.retime import settle_side
    from resnet_deploy.bench.timing import TimingPlan

    spec = openvino_int8_spec(load_manifest(art))
    if spec is None:
        return {"ours_spec": None, "error": "the artifact has no OpenVINO-runnable INT8 file"}
    peer = nncf_peer(arch, art, work, iso, ui)
    plan = TimingPlan(warmup=10, time_budget=args.seconds)
    noise: dict[int, list[dict[str, Any]]] = {1: [], args.batch: []}

    def side(unit: str, spec: str | None, peer: Any) -> Callable[[list[int]], dict[int, float]]:
        def run(batches: list[int]) -> dict[int, float]:
            got = iso.run(unit, infer_side, str(art), spec, peer, args.threads, batches, plan)
            for bs, (_, n) in got.items():
                noise[bs].append(dict(n, side="peer" if peer is not None else "ours"))
            return {bs: v for bs, (v, _) in got.items()}
        return run

    with ui.progress(f"{arch}: inference-only rounds, {spec} vs OpenVINO+NNCF", total=args.rounds) as advance:
        metrics = paired_rounds(side(f"{arch} ours inference ({spec})", spec, None),
                                side(f"{arch} OpenVINO+NNCF inference", None, peer),
                                [1, args.batch], args.rounds, on_round=lambda: advance(1), before_side=settle_side)
    out: dict[str, Any] = {"ours_spec": spec, "peer_info": peer.info, "batch": args.batch}
    for key, m in metrics.items():
        out[key] = dict(m.summary(), noise=noise[m.batch])
    return out


def e2e_part(arch: str, art: Path, photos: list[Path], args: argparse.Namespace, work: Path, iso: Isolation,
             ui: Any) -> dict[str, Any]:
    """``Predictor.predict`` and the OpenVINO+NNCF user's pipeline, each alone in a fresh process."""
    from resnet_deploy.artifact import load_manifest
    from resnet_deploy.bench.e2e_sides import baseline_side, predictor_side

    pre = load_manifest(art).preprocessing
    paths = [str(p) for p in photos]
    xml = nncf_peer(arch, art, work, iso, ui).model
    out: dict[str, Any] = {"arch": arch, "batch": args.batch}
    with ui.status(f"{arch}: Predictor.predict on JPEG bytes (backend {args.backend}), fresh process"):
        out["ours"] = iso.run(f"{arch} Predictor.predict end to end", predictor_side, str(art), args.backend,
                              args.threads, paths, args.batch, args.e2e_seconds)
    pre_d = {"resize": pre.resize, "crop": pre.crop, "mean": list(pre.mean), "std": list(pre.std)}
    with ui.status(f"{arch}: baseline PIL + numpy + OpenVINO (NNCF model), fresh process"):
        out["baseline"] = iso.run(f"{arch} PIL+numpy+OpenVINO+NNCF baseline end to end", baseline_side, str(xml),
                                  pre_d, args.threads, paths, args.batch, args.e2e_seconds)
    return out


def serve_part(arch: str, art: Path, photos: list[Path], e2e: dict[str, Any], args: argparse.Namespace,
               iso: Isolation, ui: Any) -> dict[str, Any]:
    """``serve`` on loopback in its own process, ``--clients`` HTTP clients from a fresh process."""
    from resnet_deploy.bench.e2e_sides import serve_side

    ours = e2e.get("ours") or {}
    backend = ours.get("backend") or (args.backend if args.backend != "auto" else "openvino")
    rate = (ours.get("throughput") or {}).get("images_per_s") or 10.0
    per_client = max(4, round(rate * args.e2e_seconds / args.clients))
    with ui.status(f"{arch}: serve ({backend}) image model, {args.clients} HTTP clients x {per_client} JPEGs"):
        return iso.run(f"{arch} serve HTTP load generator", serve_side, str(art), backend,
                       [str(p) for p in photos], args.clients, per_client, args.batch)


def ceiling_part(arch: str, art: Path, args: argparse.Namespace, work: Path, ui: Any) -> dict[str, Any]:
    """``int8_ceiling.py --artifact`` in its own process: our batch-1 p50 and the INT8 chains in the same rounds.

    The share is the median over rounds of (floor at that round's best INT8 rate) / (our p50 in that
    round), so the ceiling and the model meet the same host; timed minutes apart they did not.
    """
    import os

    from resnet_deploy.artifact import load_manifest
    from resnet_deploy.bench.e2e_report import host_class
    from resnet_deploy.bench.e2e_sides import discounted, openvino_int8_spec
    from resnet_deploy.bench.hostprobe import probed, record
    from resnet_deploy.bench.noise import NoiseProbe

    spec = openvino_int8_spec(load_manifest(art))
    if spec is None:
        return {"arch": arch, "error": "the artifact has no OpenVINO-runnable INT8 file"}
    out_json = work / "int8_ceiling_share.json"
    cmd = [sys.executable, str(ROOT / "int8_ceiling.py"), "--threads", str(args.threads), "--rounds",
           str(args.ceiling_rounds), "--per-round", str(args.ceiling_per_round), "--artifact", str(art),
           "--backend", spec, "--json", str(out_json)]

    def timed() -> tuple[Any, Any, float]:
        with ui.status(f"INT8 ceiling and {spec} in the same rounds (benchmarks/int8_ceiling.py), own process"), \
                NoiseProbe() as probe:
            t0 = os.times()
            res = subprocess.run(cmd, capture_output=True, text=True)
            t1 = os.times()
        return res, probe, t1.children_user + t1.children_system - t0.children_user - t0.children_system

    (res, probe, child_cpu), host = probed(timed)  # the cross-core probe around it, as for every other unit
    if res.returncode != 0:
        return {"arch": arch, "error": f"int8_ceiling.py failed: {(res.stderr.strip().splitlines() or ['?'])[-1]}"}
    noise = discounted(probe.result, child_cpu / max(probe.result.window_s, 1e-9)) if probe.result else None
    share = json.loads(out_json.read_text())["share"]
    floor_ms = share["gmacs"] / share["rate_gmacs"] * 1e3
    return {"arch": arch, "backend": spec, "gmacs": share["gmacs"], "rate_gmacs": share["rate_gmacs"],
            "runtime": share["best_runtime"], "p50_ms": share["p50_ms"], "floor_ms": floor_ms,
            "share": share["median"], "share_min": share["min"], "share_max": share["max"],
            "rounds": len(share["rounds"]), "rounds_at_target": share["rounds_at_target"],
            "per_round": share["rounds"], "host_class": host_class(),
            **{k: share[k] for k in ("max_share", "max_share_max", "bound_ms") if k in share},
            "noise": [record(noise.to_dict(), host) if noise else {}]}


def _size_summary(photos: list[Path]) -> str:
    from PIL import Image

    dims = sorted({Image.open(p).size for p in photos}, key=lambda d: d[0] * d[1])
    mb = sum(p.stat().st_size for p in photos) / len(photos) / 1e6
    return f"{dims[0][0]}x{dims[0][1]} to {dims[-1][0]}x{dims[-1][1]}, mean {mb:.2f} MB"


Step = tuple[tuple[str, ...], str, Callable[[], dict[str, Any]]]  # (where in the results, what, how)


def run(args: argparse.Namespace, ui: Any) -> dict[str, Any]:
    from resnet_deploy.bench.machine import machine_info, machine_line, usable_cores

    args.threads = args.threads or usable_cores()
    parts = set(args.part_list)
    notes: list[str] = []
    results: dict[str, Any] = {
        "machine_line": machine_line(), "machine": machine_info(), "date": dt.datetime.now(dt.timezone.utc).isoformat(),
        "command": " ".join(["python", *sys.argv]), "notes": notes,
        "config": {"threads": args.threads, "rounds": args.rounds, "seconds": args.e2e_seconds,
                   "timing": f"warm-up 10, {args.seconds:g} s per side and batch", "images": args.images,
                   "batch": args.batch, "clients": args.clients, "backend": args.backend, "parts": sorted(parts),
                   "main_model": args.model_list[-1]}}
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="end_to_end-"))
    work.mkdir(parents=True, exist_ok=True)
    iso, main = Isolation(), args.model_list[-1]
    try:
        with ui.status(f"{args.images} camera-sized JPEGs (sample renderings + scikit-image photographs)"):
            photos = make_photo_set(work / "photos", args.images)
        results["config"]["image_sizes"] = _size_summary(photos)
        arts = artifacts(args, work, ui)
        models = args.model_list if "inference" in args.part_list else [main]
        steps: list[Step] = []
        if "inference" in parts:
            steps += [(("inference", m), f"{m} inference rounds",
                       lambda m=m: inference_part(m, arts[m], args, work, iso, ui)) for m in models]
        if "e2e" in parts:
            steps.append((("e2e",), "end to end", lambda: e2e_part(main, arts[main], photos, args, work, iso, ui)))
        if "ceiling" in parts:
            steps.append((("ceiling",), "ceiling", lambda: ceiling_part(main, arts[main], args, work, ui)))
        if "serve" in parts:  # last: starting and stopping Triton can leave this host slow for a while
            steps.append((("serve",), "serve",
                          lambda: serve_part(main, arts[main], photos, results.get("e2e") or {}, args, iso, ui)))
        run_steps(steps, results, notes, ui, args.retime)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    results["isolation"] = iso.to_list()
    return results


def _get(results: dict[str, Any], path: tuple[str, ...]) -> Any:
    d, key = _slot(results, path)
    return d.get(key)


def _slot(results: dict[str, Any], path: tuple[str, ...]) -> tuple[dict[str, Any], str]:
    d = results
    for key in path[:-1]:
        d = d.setdefault(key, {})
    return d, path[-1]


def run_steps(steps: list[Step], results: dict[str, Any], notes: list[str], ui: Any, retime: int) -> None:
    """Each step once, in order, after waiting for a slow host (``settle``); then up to ``retime`` times the
    steps whose figures were timed while the host was slow, each after waiting again (a later step that used
    an earlier one's figures follows it)."""
    from resnet_deploy.bench.e2e_sides import noise_records
    from resnet_deploy.bench.hostprobe import mark, reference
    from resnet_deploy.bench.retime import settle

    def do(step: Step) -> None:
        d, key = _slot(results, step[0])
        d[key] = guarded(step[1], step[2], notes)

    def judge() -> None:  # a figure timed while the host was slow is NOISY, like other processes' use
        noises = noise_records({k: results.get(k) for k in PARTS})
        mark(noises, reference(noises))

    for step in steps:  # each part starts on a host that is not slow (after artifacts, NNCF, the part before)
        settle(ui.info)
        do(step)
    for attempt in range(retime):
        judge()
        slow = [st for st in steps if any(n.get("host_slow") for n in noise_records(_get(results, st[0])))]
        if not slow:
            break
        ui.info(f"re-timing {len(slow)} part(s) timed while the host was slow (try {attempt + 1} of {retime})")
        for step in slow:
            settle(ui.info)
            do(step)
    judge()


def write_results(results: dict[str, Any], out: Path) -> list[Any]:
    """Markdown + JSON, each atomically (temp file, then rename)."""
    from resnet_deploy.atomic import write_text_atomic
    from resnet_deploy.bench.e2e_report import all_targets, render_markdown

    targets = all_targets(results)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, render_markdown(results, targets))
    record = dict(results, targets=[t.to_dict() for t in targets])
    write_text_atomic(out.with_suffix(".json"), json.dumps(record, indent=2, default=str) + "\n")
    return targets


def main(argv: list[str] | None = None) -> int:
    from resnet_deploy.cli._common import Output
    from resnet_deploy.errors import ResNetDeployError

    args = parse_args(argv)
    ui = Output(quiet=args.quiet, as_json=args.json)
    try:
        validate(args)
        results = run(args, ui)
        targets = write_results(results, args.out)
    except ResNetDeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for t in targets:
        ui.info(t.line())
    ui.info(f"results: {args.out} (and {args.out.with_suffix('.json').name})")
    if args.json:
        print(json.dumps(dict(results, targets=[t.to_dict() for t in targets]), indent=2, default=str))
    return 1 if args.check and any(t.status == "FAIL" for t in targets) else 0


if __name__ == "__main__":
    sys.exit(main())

"""The GPU check: every GPU path of resnet-deploy, one row each, one table plus JSON.

Run by ``scripts/gpu_check.sh`` (which first installs the TensorRT/cuda-python/
onnxruntime-gpu wheels that match the driver when pip can reach an index), or
directly: ``python scripts/gpu_check.py [--artifact DIR] [--out DIR]``.

Rows (each passes, fails, or skips with the reason its piece is missing):

- environment: driver, GPU, module versions;
- artifact: the one given, or a fresh export (random weights) with FP16 and INT8 (TensorRT Q/DQ) files;
- TensorRT (or TensorRT-RTX where the GPU is one it supports): FP32/FP16/INT8 engine builds; parity
  of each engine against ONNX Runtime CPU running the same ONNX file at batches 1, 3 and the profile
  max; an out-of-profile batch refused; CUDA-graph replay across batch 8 -> 4 -> 8;
- ONNX Runtime CUDA and TensorRT providers: the active-provider check, then parity;
- PyTorch CUDA from the artifact's model.pt2 (no TensorRT needed): eager FP32, eager FP16,
  channels-last FP16, torch.compile, CUDA-graph replay 8 -> 4 -> 8, each against the CPU reference.

Exit status: 0 when no row failed (skips are fine), 1 when one did.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run from a checkout without installing the package

from resnet_deploy._optional import is_available, try_import  # noqa: E402

PROFILE = (1, 8, 16)  # engine profile: batches 1, 3 and 16 are checked, 17 must be refused
PARITY_BATCHES = (1, 3, PROFILE[2])
# max |a-b| / range(reference) allowed per precision (same ONNX file on both sides)
TOLERANCE = {"fp32": 1e-3, "fp16": 2e-2, "int8": 6e-2}


class Skip(Exception):
    """A row that cannot run here; the message is the reason."""


@dataclass
class Row:
    check: str
    status: str  # pass | fail | skip
    detail: str = ""
    seconds: float = 0.0
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    env: dict[str, Any] = field(default_factory=dict)

    def run(self, check: str, fn: Callable[[], tuple[str, dict[str, Any]] | str]) -> Row:
        t0 = time.perf_counter()
        try:
            out = fn()
            detail, metrics = (out, {}) if isinstance(out, str) else out
            row = Row(check, "pass", detail, metrics=metrics)
        except Skip as exc:
            row = Row(check, "skip", str(exc))
        except Exception as exc:  # noqa: BLE001 - a failed row is reported, the others still run
            row = Row(check, "fail", f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
        row.seconds = round(time.perf_counter() - t0, 2)
        self.rows.append(row)
        print(f"[{row.status:4}] {check}: {row.detail}", flush=True)
        return row

    def skip(self, check: str, reason: str) -> None:
        self.run(check, lambda: (_ for _ in ()).throw(Skip(reason)))

    @property
    def failed(self) -> bool:
        return any(r.status == "fail" for r in self.rows)

    def table(self) -> str:
        width = max([len(r.check) for r in self.rows] + [5])
        lines = [f"{'check':<{width}}  status  detail", f"{'-' * width}  ------  ------"]
        lines += [f"{r.check:<{width}}  {r.status:<6}  {r.detail}" for r in self.rows]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        counts = {s: sum(r.status == s for r in self.rows) for s in ("pass", "fail", "skip")}
        return {"env": self.env, "counts": counts, "rows": [asdict(r) for r in self.rows]}


# -- environment ---------------------------------------------------------------
def driver_info() -> dict[str, str] | None:
    """Driver version, GPU name and compute capability of the first GPU CUDA uses (nvidia-smi)."""
    from resnet_deploy.runtime.gpu import gpu_info

    gpu = gpu_info()
    return None if gpu is None else {"driver": gpu.driver, "gpu": gpu.name, "compute_capability": gpu.compute_capability}


def environment() -> dict[str, Any]:
    env: dict[str, Any] = {"python": sys.version.split()[0], "gpu": driver_info()}
    for name in ("tensorrt", "tensorrt_rtx", "cuda.bindings", "onnxruntime", "torch", "torch_tensorrt", "cupy"):
        mod = try_import(name)
        env[name] = getattr(mod, "__version__", "installed") if mod is not None else None
    ort = try_import("onnxruntime")
    env["onnxruntime_providers"] = list(ort.get_available_providers()) if ort is not None else []
    torch = try_import("torch")
    env["torch_cuda"] = getattr(getattr(torch, "version", None), "cuda", None) if torch is not None else None
    return env


def no_gpu() -> str | None:
    from resnet_deploy.runtime.gpu import gpu_info, no_gpu_reason

    return no_gpu_reason() if gpu_info() is None else None


# -- artifact ------------------------------------------------------------------
def make_artifact(out: Path, arch: str, size: int) -> tuple[str, dict[str, Any]]:
    """Export ``arch`` (random weights) with model.pt2, then FP16 and INT8 (TensorRT Q/DQ) files.

    Degrades instead of failing: without onnx/onnxruntime (a bare PyTorch image) the artifact
    holds model.pt2 only, so the PyTorch CUDA rows still run and the others skip.
    """
    from resnet_deploy.export.pipeline import ExportConfig, export_artifact

    what = f"{arch} at {size} px (random weights) in {out}"
    try:
        export_artifact(ExportConfig(arch=arch, num_classes=10, input_size=size,
                                     formats=("onnx", "exported-program"), out=out, force=True))
    except Exception as exc:  # noqa: BLE001 - fall back to what PyTorch alone can write
        export_artifact(ExportConfig(arch=arch, num_classes=10, input_size=size,
                                     formats=("exported-program",), out=out, force=True))
        return f"{what}: model.pt2 only (ONNX export failed: {type(exc).__name__}: {str(exc)[:120]})", {}
    try:
        from resnet_deploy.quantize.pipeline import QuantizeConfig, quantize_artifact

        quantize_artifact(out, QuantizeConfig(calib_data="sample", calib_size=64, calib_method="minmax",
                                              targets=("tensorrt",), fp16=True, batch_size=16, report_size=8,
                                              eval_size=32))
    except Exception as exc:  # noqa: BLE001
        return f"{what}: fp32 ONNX + model.pt2 (no FP16/INT8: {type(exc).__name__}: {str(exc)[:120]})", {}
    return what, {}


def inputs(manifest: Any, n: int = PROFILE[2] + 1, seed: int = 0) -> np.ndarray:
    chw = [int(v) for v in manifest.input.shape[1:]]
    return np.random.default_rng(seed).standard_normal((n, *chw)).astype(np.float32)


def ort_cpu(art: Path, rel: str, x: np.ndarray) -> np.ndarray:
    """The reference: ONNX Runtime on the CPU, the same ONNX file the GPU path was built from."""
    ort = try_import("onnxruntime")
    if ort is None:
        raise Skip("onnxruntime is not installed (the CPU reference)")
    sess = ort.InferenceSession(str(art / rel), providers=["CPUExecutionProvider"])
    return np.asarray(sess.run(None, {sess.get_inputs()[0].name: x})[0], dtype=np.float32)


def compare(out: np.ndarray, ref: np.ndarray, tol: float, what: str) -> dict[str, Any]:
    """max |Δ| relative to the reference's range, and top-1 agreement; raises when over ``tol``."""
    rel = float(np.abs(out - ref).max() / max(float(np.ptp(ref)), 1e-12))
    agree = float((out.argmax(1) == ref.argmax(1)).mean())
    if not np.isfinite(out).all() or rel > tol:
        raise AssertionError(f"{what}: max |Δ|/range {rel:.2e} > {tol:.0e} (top-1 agreement {agree:.3f})")
    return {"rel_max_abs": rel, "top1_agreement": agree}


def parity_at_batches(infer: Callable[[np.ndarray], np.ndarray], ref: np.ndarray, x: np.ndarray,
                      tol: float) -> tuple[str, dict[str, Any]]:
    metrics = {f"batch{n}": compare(infer(x[:n]), ref[:n], tol, f"batch {n}") for n in PARITY_BATCHES}
    worst = max(m["rel_max_abs"] for m in metrics.values())
    return f"batches {', '.join(map(str, PARITY_BATCHES))}: max |Δ|/range {worst:.1e} <= {tol:.0e}", metrics


# -- TensorRT engines ----------------------------------------------------------
def engine_family(gpu: dict[str, str] | None) -> tuple[str | None, str | None, str]:
    """(family to build, why its engines cannot run here or None, why nothing can be built)."""
    from resnet_deploy.runtime.gpu import parse_cc
    from resnet_deploy.runtime.trt_compat import RTX_DEFAULT_CCS, rtx_can_run

    if is_available("tensorrt") and gpu is not None:
        return "tensorrt", None, ""
    if is_available("tensorrt_rtx"):
        if gpu is None:
            return "tensorrt-rtx", no_gpu(), ""
        if not rtx_can_run(RTX_DEFAULT_CCS, parse_cc(gpu["compute_capability"])):
            why = (f"TensorRT-RTX engines run on compute capability {', '.join(RTX_DEFAULT_CCS)}, not on "
                   f"{gpu['gpu']} ({gpu['compute_capability']}); install tensorrt for this GPU")
            return "tensorrt-rtx", why, ""
        return "tensorrt-rtx", None, ""
    if is_available("tensorrt"):
        return None, None, f"tensorrt is installed but cannot build without a GPU ({no_gpu()})"
    return None, None, "no tensorrt or tensorrt_rtx module (pip install 'resnet-deploy[tensorrt]')"


def build_row(art: Path, family: str, precision: str) -> tuple[str, dict[str, Any]]:
    from resnet_deploy.engines import EngineConfig, build_engine

    try:
        res = build_engine(art, EngineConfig(precision=precision, family=family, min_batch=PROFILE[0],
                                             opt_batch=PROFILE[1], max_batch=PROFILE[2]))
    except Exception as exc:
        if "has no model." in str(exc):  # the artifact lacks this precision's ONNX
            raise Skip(str(exc)) from exc
        raise
    return f"{res.entry.path} ({res.entry.size / 1e6:.1f} MB, {res.build_seconds:.0f} s)", {"meta": res.meta}


def engine_runner(art: Path, rel: str, **options: Any) -> Any:
    from resnet_deploy.artifact import read_manifest
    from resnet_deploy.runtime.tensorrt import TensorRTRunner

    m = read_manifest(art)
    entry = next(f for f in m.files if f.path == rel)
    reason = TensorRTRunner.probe() or TensorRTRunner.entry_reason(m, entry)
    if reason:
        raise Skip(reason)
    return TensorRTRunner(art, m, entry, **options)


def engine_parity(art: Path, rel: str, source: str, precision: str, x: np.ndarray) -> tuple[str, dict]:
    runner = engine_runner(art, rel)
    ref = ort_cpu(art, source, x[: PROFILE[2]])
    with runner:
        return parity_at_batches(runner.infer, ref, x, TOLERANCE[precision])


def engine_refuses_out_of_profile(art: Path, rel: str, x: np.ndarray) -> str:
    from resnet_deploy.errors import InvalidInputError

    with engine_runner(art, rel) as runner:
        try:
            runner.infer(x[: PROFILE[2] + 1])
        except InvalidInputError as exc:
            return f"batch {PROFILE[2] + 1} refused: {exc}"
    raise AssertionError(f"batch {PROFILE[2] + 1} (profile max {PROFILE[2]}) was accepted")


def engine_graph_replay(art: Path, rel: str, x: np.ndarray) -> tuple[str, dict[str, Any]]:
    """8 -> 4 -> 8 (twice each) with CUDA graphs: every output equals the plain run's."""
    with engine_runner(art, rel) as plain:
        want = {n: plain.infer(x[:n]) for n in (8, 4)}
    with engine_runner(art, rel, cuda_graph=True) as runner:
        for n in (8, 8, 4, 4, 8, 8):
            np.testing.assert_allclose(runner.infer(x[:n]), want[n], rtol=1e-3, atol=1e-3)
        info = {"mode": runner.cuda_graph_mode, "captured": runner.graphs_captured,
                "replayed": runner.captures_replayed}
    if runner.family == "tensorrt" and (info["captured"] < 3 or info["replayed"] < 3):
        raise AssertionError(f"expected >= 3 captures and replays across 8 -> 4 -> 8, got {info}")
    return f"8 -> 4 -> 8 equal to plain runs ({info['mode']}, {info['captured']} captured)", info


def tensorrt_rows(report: Report, art: Path, x: np.ndarray) -> None:
    family, run_reason, none_reason = engine_family(report.env.get("gpu"))
    sources = {"fp32": "model.fp32.onnx", "fp16": "model.fp16.onnx", "int8": "model.int8-tensorrt.onnx"}
    keys = {"fp32": "fp32", "fp16": "fp16", "int8": "int8-tensorrt"}
    for p in sources:
        name, rel = f"{family or 'tensorrt'} {p}", f"engines/model.{keys[p]}.{family}.plan"
        if family is None:
            for what in ("build", "parity"):
                report.skip(f"{name} {what}", none_reason)
            continue
        built = report.run(f"{name} build", lambda p=p: build_row(art, family, p)).status == "pass"
        if not built or run_reason:
            report.skip(f"{name} parity vs ORT CPU", run_reason or "the engine was not built")
            continue
        report.run(f"{name} parity vs ORT CPU", lambda p=p, rel=rel: engine_parity(art, rel, sources[p], p, x))
    rel = f"engines/model.fp32.{family}.plan"
    for check, fn in (("refuses out-of-profile batch", lambda: engine_refuses_out_of_profile(art, rel, x)),
                      ("CUDA graph 8 -> 4 -> 8", lambda: engine_graph_replay(art, rel, x))):
        if family is None or run_reason or not (art / rel).is_file():
            report.skip(f"{family or 'tensorrt'} {check}", none_reason or run_reason or "no fp32 engine")
        else:
            report.run(f"{family} {check}", fn)


# -- ONNX Runtime GPU providers ------------------------------------------------
def ort_provider_row(art: Path, backend: str, rel: str, precision: str, x: np.ndarray) -> tuple[str, dict]:
    from resnet_deploy.artifact import read_manifest
    from resnet_deploy.runtime.ort_gpu import OrtCudaRunner, OrtTensorRTRunner

    cls = OrtCudaRunner if backend == "onnxruntime-cuda" else OrtTensorRTRunner
    reason = cls.probe()
    if reason:
        raise Skip(reason)
    m = read_manifest(art)
    entry = next((f for f in m.files if f.path == rel), None)
    if entry is None:
        raise Skip(f"the artifact has no {rel}")
    runner = cls(art, m, entry, batch=PROFILE)
    with runner:  # activate() runs the active-provider check: a silent CPU fallback fails here
        active = list(runner.session.get_providers())
        detail, metrics = parity_at_batches(runner.infer, ort_cpu(art, rel, x[: PROFILE[2]]), x, TOLERANCE[precision])
    return f"active {active[0]}; {detail}", {"active_providers": active, **metrics}


def ort_rows(report: Report, art: Path, x: np.ndarray) -> None:
    for backend, rel, precision in (("onnxruntime-cuda", "model.fp32.onnx", "fp32"),
                                    ("onnxruntime-cuda", "model.fp16.onnx", "fp16"),
                                    ("onnxruntime-tensorrt", "model.fp32.onnx", "fp32"),
                                    ("onnxruntime-tensorrt", "model.int8-tensorrt.onnx", "int8")):
        report.run(f"{backend} {precision}", lambda b=backend, r=rel, p=precision: ort_provider_row(art, b, r, p, x))


# -- main ----------------------------------------------------------------------
def get_artifact(report: Report, args: argparse.Namespace, out: Path) -> Path | None:
    if args.artifact:
        art = Path(args.artifact)
        ok = report.run("artifact", lambda: f"given: {art}" if (art / "manifest.json").is_file()
                        else (_ for _ in ()).throw(FileNotFoundError(f"{art}/manifest.json")))
    else:
        art = out / "artifact"
        ok = report.run("artifact", lambda: make_artifact(art, args.arch, args.size))
    return art if ok.status == "pass" else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--artifact", help="an artifact directory to check (default: export a fresh one)")
    ap.add_argument("--out", default=None, help="where the table, JSON and the made artifact go")
    ap.add_argument("--arch", default="resnet18")
    ap.add_argument("--size", type=int, default=64)
    args = ap.parse_args(argv)
    out = Path(args.out or ROOT / "benchmarks" / "results" / f"gpu-check-{time.strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    report = Report(env=environment())
    gpu = report.env["gpu"]
    report.run("environment", lambda: (f"driver {gpu['driver']}, {gpu['gpu']} (cc {gpu['compute_capability']})"
                                       if gpu else f"{no_gpu()}; CPU-only rows still run"))
    art = get_artifact(report, args, out)
    if art is None:
        report.skip("all GPU rows", "no artifact to check (see the artifact row)")
    else:
        from gpu_check_torch import torch_rows

        from resnet_deploy.artifact import read_manifest

        x = inputs(read_manifest(art))
        tensorrt_rows(report, art, x)
        ort_rows(report, art, x)
        torch_rows(report, art, x)
    write_outputs(report, out)
    return 1 if report.failed else 0


def write_outputs(report: Report, out: Path) -> None:
    from resnet_deploy.atomic import write_bytes_atomic

    table = report.table()
    write_bytes_atomic(out / "gpu_check.json", json.dumps(report.to_dict(), indent=2, default=str).encode())
    write_bytes_atomic(out / "gpu_check.md", f"```\n{table}\n```\n".encode())
    print("\n" + table)
    print(json.dumps(report.to_dict()["counts"]), f"-> {out}/gpu_check.json")


if __name__ == "__main__":
    sys.modules.setdefault("gpu_check", sys.modules["__main__"])  # one Skip/Report class for gpu_check_torch
    sys.exit(main())

"""The parity gate: every exported file must compute what the PyTorch model computes.

``compare_logits`` is the reusable metric (FP16/INT8 parity call it with looser
tolerances); ``run_exported`` runs a saved file the way the run side will
(ONNX through onnxruntime's CPU provider, TorchScript via torch.jit.load, the
ExportedProgram via torch.export.load().module()), batch by batch so that the
dynamic batch axis is exercised (first a batch of 1, then larger batches).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from resnet_deploy.errors import ParityError

FP32_REL_RANGE_TOL = 1e-3  # max_abs <= 1e-3 x (reference logit range)
FP32_MIN_TOP1 = 1.0
PARITY_SEED = 0
PARITY_BATCH = 8


def compare_logits(
    ref: np.ndarray,
    out: np.ndarray,
    *,
    rel_range_tol: float = FP32_REL_RANGE_TOL,
    min_top1_agreement: float = FP32_MIN_TOP1,
) -> dict[str, Any]:
    """Error metrics of ``out`` against reference logits ``ref`` (both [N, classes]).

    max_abs: largest absolute difference; rel_to_range: max_abs / (max(ref) - min(ref)),
    the gated number, scale-free across models; max_rel: largest |diff| / max(|ref|,
    1e-3 x range) per element (the floor keeps near-zero logits from dominating);
    top1_agreement: share of rows whose arg-max matches. ``passed`` applies the
    tolerances given.
    """
    ref = np.asarray(ref, dtype=np.float64)
    out = np.asarray(out, dtype=np.float64)
    if ref.shape != out.shape:
        return {"max_abs": float("inf"), "max_rel": float("inf"), "rel_to_range": float("inf"),
                "top1_agreement": 0.0, "n": int(ref.shape[0]) if ref.ndim else 0, "passed": False,
                "error": f"shape {list(out.shape)} != reference {list(ref.shape)}"}
    n = int(ref.shape[0])
    diff = np.abs(out - ref)
    finite = bool(np.isfinite(out).all())
    value_range = float(ref.max() - ref.min()) if ref.size else 0.0
    max_abs = float(diff.max()) if diff.size else 0.0
    if not finite:
        max_abs = float("inf")
    floor = max(1e-3 * value_range, 1e-12)
    max_rel = float((diff / np.maximum(np.abs(ref), floor)).max()) if diff.size and finite else float("inf")
    rel_to_range = max_abs / value_range if value_range > 0 else (0.0 if max_abs == 0 else float("inf"))
    top1 = float((ref.argmax(axis=1) == out.argmax(axis=1)).mean()) if n and finite else 0.0
    passed = finite and rel_to_range <= rel_range_tol and top1 >= min_top1_agreement
    return {
        "max_abs": max_abs,
        "max_rel": max_rel,
        "rel_to_range": rel_to_range,
        "top1_agreement": top1,
        "n": n,
        "passed": bool(passed),
        "tolerance": {"rel_to_range": rel_range_tol, "top1_agreement": min_top1_agreement},
    }


def fixed_inputs(input_size: int, n: int = PARITY_BATCH, seed: int = PARITY_SEED, in_chans: int = 3) -> np.ndarray:
    """A reproducible N(0, 1) batch: roughly the statistics of normalised images."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, in_chans, input_size, input_size)).astype(np.float32)


def chunks(x: np.ndarray, size: int = PARITY_BATCH - 1) -> list[np.ndarray]:
    """A batch of 1 first, then batches of ``size``: both shapes must run from one file."""
    if len(x) == 0:
        return []
    parts = [x[:1]]
    parts += [x[i:i + size] for i in range(1, len(x), size)]
    return parts


def _onnx_runner(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return lambda x: sess.run(None, {name: x})[0]


def _torch_runner(module: Any) -> Callable[[np.ndarray], np.ndarray]:
    import torch

    def run(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return module(torch.from_numpy(np.ascontiguousarray(x))).numpy()

    return run


def runner_for(fmt: str, path: str | Path) -> Callable[[np.ndarray], np.ndarray]:
    """A numpy -> numpy callable over a saved file of format ``fmt``."""
    path = Path(path)
    if fmt == "onnx":
        return _onnx_runner(path)
    if fmt == "torchscript":
        from resnet_deploy.export.torchscript import load_torchscript

        return _torch_runner(load_torchscript(path))
    if fmt == "exported-program":
        from resnet_deploy.export.exported_program import load_program

        return _torch_runner(load_program(path))
    raise ValueError(f"no parity runner for format {fmt!r}")


def run_batches(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    return np.concatenate([np.asarray(fn(part)) for part in chunks(x)], axis=0)


def check_parity(
    key: str, fmt: str, path: str | Path, x: np.ndarray, ref: np.ndarray, **tolerances: float
) -> dict[str, Any]:
    """Run the saved file on ``x`` and compare with ``ref``; ParityError (exit 1) if off."""
    out = run_batches(runner_for(fmt, path), x)
    metrics = compare_logits(ref, out, **tolerances)
    if not metrics["passed"]:
        raise ParityError(describe_failure(key, metrics))
    return metrics


def describe_failure(key: str, m: dict[str, Any]) -> str:
    """One line naming the format and the numbers against the bar."""
    tol = m.get("tolerance", {})
    if "error" in m:
        return f"{key} parity failed: {m['error']}; the export is broken, please report it"
    return (
        f"{key} parity failed: max_abs {m['max_abs']:.3g} = {m['rel_to_range']:.3g} x logit range "
        f"(allowed {tol.get('rel_to_range', FP32_REL_RANGE_TOL):g}), top-1 agreement "
        f"{100 * m['top1_agreement']:.1f}% (needed {100 * tol.get('top1_agreement', FP32_MIN_TOP1):.0f}%) "
        f"on {m['n']} inputs; nothing was written"
    )

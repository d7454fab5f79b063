"""The peer we measure ourselves against: OpenVINO + NNCF's own INT8 quantisation.

``nncf.quantize`` (NNCF 3.x post-training quantisation) runs on the OpenVINO
model read from the artifact's FP32 ONNX, calibrated on the SAME calibration
data our INT8 used (``open_source(..., split="calib")``, one image per
``nncf.Dataset`` item so ``subset_size`` = the number of calibration images),
with the ``performance`` preset (symmetric weights and activations, NNCF's
default for CNNs; ``mixed`` = asymmetric activations is selectable). The result
is compiled for the CPU with ``INFERENCE_PRECISION_HINT=f32`` (OpenVINO's CPU
default is bf16 on bf16-capable CPUs, which would change the numbers beyond
INT8), ``PERFORMANCE_HINT=LATENCY`` and the same thread count as our runners,
and timed by the same harness as a row named ``openvino-nncf:int8``. It runs as one
dynamic-batch model, as the NNCF model comes out; our OpenVINO runner's static and streams
forms (``runtime.ov_forms``) are ours, so a ratio against the peer includes them
(``benchmarks/ov_forms.py`` separates what they gain from what the model files do).
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from resnet_deploy._optional import require, try_import, why_missing
from resnet_deploy.artifact import FileEntry, Manifest
from resnet_deploy.errors import ResNetDeployError
from resnet_deploy.runtime.base import Runner, first_line
from resnet_deploy.runtime.openvino import cpu_compile_config

PRESETS = ("performance", "mixed")


@dataclass
class PeerModel:
    """An NNCF-quantised OpenVINO model kept in memory, with how it was made."""

    model: Any  # openvino.Model
    info: dict[str, Any]


def probe_peer() -> str | None:
    """Why the peer cannot be built here, or None."""
    for mod in ("openvino", "nncf"):
        if try_import(mod) is None:
            return f"{mod} is not installed ({why_missing(mod)})"
    return None


def default_calib_data(manifest: Manifest) -> str:
    """The data spec our own INT8 was calibrated on (``manifest.calibration.dataset``), else "sample"."""
    name = manifest.calibration.dataset if manifest.calibration else ""
    if not name or name.split(":")[0] == "sample":
        return "sample"
    return name if Path(name).exists() else "sample"


def quantize_peer(
    artifact_dir: Any,
    manifest: Manifest,
    calib_data: str | None = None,
    calib_size: int | None = None,
    preset: str = "performance",
    on_warning: Any = None,
) -> PeerModel:
    """``nncf.quantize`` the artifact's FP32 ONNX on ``calib_data`` (see module docstring).

    ``calib_data=None`` / ``calib_size=None`` use the data and count recorded in
    ``manifest.calibration`` (so the peer sees exactly the images our INT8 saw);
    ``info["same_data_as_ours"]`` says whether the content fingerprints match.
    """
    if preset not in PRESETS:
        raise ResNetDeployError(f"unknown NNCF preset '{preset}'; choose performance or mixed")
    from resnet_deploy.data import open_source

    ov = require("openvino", purpose="the OpenVINO+NNCF peer")
    nncf = require("nncf", purpose="the OpenVINO+NNCF peer")
    entry = manifest.file("onnx", "fp32")
    if entry is None:
        raise ResNetDeployError("the artifact has no model.fp32.onnx for the NNCF peer; re-export it")
    calib_data = calib_data or default_calib_data(manifest)
    if calib_size is None and manifest.calibration:
        calib_size = manifest.calibration.count
    src = open_source(calib_data, manifest.preprocessing, split="calib", limit=calib_size,
                      on_warning=on_warning)
    items = [x for x, _ in src.batches(1)]
    t0 = time.perf_counter()
    model = ov.Core().read_model(str(Path(artifact_dir) / entry.path))
    dataset = nncf.Dataset(items)
    level = logging.getLogger("nncf").level
    nncf.set_log_level(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # NNCF's progress bars
            qmodel = nncf.quantize(
                model, dataset, preset=nncf.QuantizationPreset(preset),
                target_device=nncf.TargetDevice.CPU, subset_size=len(items),
            )
    finally:
        nncf.set_log_level(level)
    info = {
        "tool": f"nncf {_version('nncf')} + openvino {_version('openvino')}",
        "api": "nncf.quantize(ov_model, nncf.Dataset, preset, target_device=CPU, subset_size)",
        "preset": preset,
        "calib_data": src.name,
        "calib_count": len(items),
        "calib_sha256": src.sha256,
        "same_data_as_ours": manifest.calibration is not None
        and src.sha256 == manifest.calibration.dataset_sha256,
        "inference_precision_hint": "f32",
        "seconds": round(time.perf_counter() - t0, 2),
    }
    return PeerModel(model=qmodel, info=info)


Kernel = tuple[str, str]  # (OpenVINO layer type, CPU kernel), e.g. ("Convolution", "jit_avx2_1x1_I8")


def runtime_kernels(compiled: Any) -> Counter[Kernel]:
    """How often each (layer type, kernel) occurs in what OpenVINO compiled (``get_runtime_model``).

    Constants are left out: they are data folded into the kernels, not work.
    """
    counts: Counter[Kernel] = Counter()
    for op in compiled.get_runtime_model().get_ordered_ops():
        rt = op.get_rt_info()
        layer = rt["layerType"].astype(str)
        if layer != "Const":
            counts[(layer, rt["primitiveType"].astype(str))] += 1
    return counts


def kernel_diff(ours: Counter[Kernel], peer: Counter[Kernel]) -> tuple[list[Kernel], list[Kernel]]:
    """(kernels only in ours, kernels only in the peer's): the structural difference of two compiled graphs."""
    return sorted(set(ours) - set(peer)), sorted(set(peer) - set(ours))


def _version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


class PeerRunner(Runner):
    """Runs a ``PeerModel`` on the OpenVINO CPU plugin (FP32 inference precision)."""

    backend = "openvino-nncf"
    formats = ("onnx",)

    def __init__(self, artifact_dir: Any, manifest: Manifest, peer: PeerModel,
                 threads: int | None = None) -> None:
        src = manifest.file("onnx", "fp32")
        entry = FileEntry(path=src.path if src else "model.fp32.onnx", format="onnx", precision="int8")
        super().__init__(artifact_dir, manifest, entry, threads=threads)
        self.peer = peer

    @classmethod
    def probe(cls) -> str | None:
        return probe_peer()

    def compile_config(self) -> dict[str, Any]:
        return cpu_compile_config(self.threads)  # the same properties as our openvino runner

    def _activate(self) -> None:
        ov = require("openvino", purpose="the OpenVINO+NNCF peer")
        self.compiled = ov.Core().compile_model(self.peer.model, "CPU", self.compile_config())
        self.request = self.compiled.create_infer_request()

    def _infer(self, batch: np.ndarray) -> np.ndarray:
        self.request.infer(batch, share_inputs=True)
        return self.request.get_output_tensor(0).data.copy()

    def _deactivate(self) -> None:
        self.request = None
        self.compiled = None


def prepare_peer(
    art: Path, manifest: Manifest, cfg: Any, threads: int, report: Any, ui: Any,
) -> tuple[PeerModel | None, Any]:
    """``run_bench``'s peer step: quantise the peer once and make its row (``BackendRow``), skipped or
    failed with the reason when that is impossible; ``report`` gets the peer's info and notes."""
    from resnet_deploy.bench.report import PEER_BACKEND, BackendRow

    fp32 = manifest.file("onnx", "fp32") or FileEntry(path="model.fp32.onnx", format="onnx")
    peer_row = BackendRow(spec=f"{PEER_BACKEND}:int8", backend=PEER_BACKEND, status="ok", key="int8",
                          precision="int8", threads=threads, peer=True, file=fp32.path)
    reason = probe_peer()
    if reason:
        peer_row.status, peer_row.reason = "skipped", reason
        return None, peer_row
    try:
        calib = cfg.calib_data or default_calib_data(manifest)
        with ui.status(f"NNCF peer: quantizing FP32 ONNX on '{calib}'"):
            peer_model = quantize_peer(art, manifest, calib, cfg.calib_size, cfg.peer_preset)
    except ResNetDeployError as exc:
        peer_row.status, peer_row.reason = "failed", str(exc)
        return None, peer_row
    except Exception as exc:  # the peer failing must not end our run
        peer_row.status, peer_row.reason = "failed", first_line(exc, 300)
        return None, peer_row
    info = peer_model.info
    peer_row.notes.append(f"quantized by {info['tool']} ({info['preset']}) on {info['calib_count']} "
                          f"images of {info['calib_data']}")
    if manifest.calibration and not info["same_data_as_ours"]:
        report.notes.append("the NNCF peer was calibrated on different data than our INT8 "
                            f"({info['calib_data']}); pass --calib-data to match")
    report.config["peer_info"] = info
    return peer_model, peer_row

"""The typed manifest: every section survives save + load, the JSON has the documented names,
and a schema-1 manifest written before the typed sections (old drift keys, no digest) still loads."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from resnet_deploy.artifact import (
    BenchRowSummary,
    BenchSummary,
    Calibration,
    EngineRecord,
    FileEntry,
    Fp16Record,
    InputSpec,
    Manifest,
    ModelInfo,
    ParityRecord,
    Preprocessing,
    Quantization,
    QuantTarget,
    Selection,
    load_manifest,
    manifest_digest,
    read_manifest,
    save_manifest,
)
from resnet_deploy.metrics import Drift

SHA_A, SHA_B = "a" * 64, "b" * 64
PROFILE = {"input": {"min": [1, 3, 32, 32], "opt": [4, 3, 32, 32], "max": [16, 3, 32, 32]}}

# What the file must hold, written out by hand (not produced by to_dict): a dropped or
# renamed field on the writing side makes the comparison fail.
EXPECTED: dict[str, Any] = {
    "schema_version": 1,
    "model": {"arch": "resnet20", "num_classes": 3, "variant": "v1", "params": 1234, "gmacs": 0.5,
              "checkpoint_sha256": SHA_A, "labels": ["cat", "dog", "eel"]},
    "input": {"name": "pixels", "output_name": "scores", "layout": "nchw", "dtype": "float",
              "shape": [-1, 3, 32, 32], "batch_axis_name": "n"},
    "preprocessing": {"resize": 36, "crop": 32, "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.3, 0.4],
                      "channel_order": "BGR", "interpolation": "bicubic", "scale": 0.5},
    "files": [{"path": "model.fp32.onnx", "format": "onnx", "precision": "fp32", "target": None,
               "size": 7, "sha256": SHA_B, "extra": {"opset": 20}},
              {"path": "model.int8-cpu.onnx", "format": "onnx", "precision": "int8", "target": "cpu",
               "size": 3, "sha256": SHA_A, "extra": {"excluded_nodes": 1}},
              {"path": "model.int8-cpu-raw.onnx", "format": "onnx", "precision": "int8", "target": "cpu",
               "size": 3, "sha256": SHA_A, "extra": {"folded_from": "x"},
               "input": {"name": "pixels", "output_name": "scores", "layout": "NHWC", "dtype": "uint8",
                         "shape": [-1, 32, 32, 3], "batch_axis_name": "n"}}],
    "parity": {"onnx:fp32": {"max_abs": 1e-6, "max_rel": 2e-5, "rel_to_range": 3e-7, "top1_agreement": 0.99,
                             "n": 40, "passed": True, "tolerance": {"rel_to_range": 0.001}}},
    "calibration": {"method": "percentile", "count": 64, "dataset": "imgs", "dataset_sha256": SHA_A,
                    "file": "ranges/calibration.json", "percentile": 99.99, "seconds": 1.5, "tensors": 57},
    "quantization": {
        "targets": {"cpu": {"file": "model.int8-cpu.onnx", "activations": "uint8 asymmetric",
                            "weights": "int8 symmetric", "format": "qdq", "description": "U8S8",
                            "size": 3, "size_ratio": 0.3, "fusion": {"convs": 19, "int8": 18, "float": 1},
                            "max_drop": 0.5, "rounds": 2, "created_at": "2026-01-01T00:00:00+00:00"}},
        "drift": {"int8-cpu": {"n": 600, "labelled": True, "agreement": 0.99, "max_abs": 0.3,
                               "cosine_mean": 0.999, "mean_abs": 0.01, "cosine_min": 0.95, "top1": 0.96,
                               "top5": 1.0, "ref_top1": 0.97, "ref_top5": 1.0, "drop_points": pytest.approx(1.0)}},
        "excluded_nodes": {"cpu": ["/layer1/conv"]},
        "fp16": {"file": "model.fp16.onnx", "keep_io_types": False,
                 "parity": {"max_abs": 0.005, "max_rel": 0.002, "rel_to_range": 0.0004, "top1_agreement": 1.0,
                            "n": 32, "passed": True, "tolerance": {"top1_agreement": 0.99}}},
        "report": "quant_report.json",
    },
    "engines": [{"path": "engines/model.fp32.tensorrt.plan", "family": "tensorrt", "library_version": "10.3.0",
                 "precision": "fp32", "key": "fp32", "source": "model.fp32.onnx", "source_onnx_sha256": SHA_B,
                 "profile": PROFILE, "build_seconds": 2.5, "gpu_name": "NVIDIA A10", "compute_capability": "8.6",
                 "hardware_compatibility": "ampere_plus", "version_compatible": True,
                 "target_compute_capabilities": ["8.6"], "builder_optimization_level": 3, "workspace_mib": 512,
                 "parser_version": "200", "built_at": "2026-01-02T00:00:00+00:00"}],
    "bench": {"created_at": "2026-01-03T00:00:00+00:00", "report": "bench/report.json",
              "machine": {"hostname": "vm"}, "threads": 2, "reference": "torch:fp32",
              "rows": {"onnxruntime:fp32": {"status": "ok", "p50_ms": 0.6, "best_batch": 4, "top1": 0.96},
                       "tensorrt:fp32": {"status": "skipped", "reason": "no GPU"}},
              "peer_comparison": {"speedup": 1.2}, "harness_overhead_pct": 0.4},
    "selection": {"backend": "onnxruntime:int8-cpu", "strategy": "min-latency", "file": "model.int8-cpu.onnx",
                  "max_drop": 0.5, "reason": "fastest", "metrics": {"p50_ms": 0.5, "top1": None}, "threads": 2,
                  "created_at": "2026-01-04T00:00:00+00:00",
                  "host": {"cpu_model": "Test CPU", "cpu_family_model": "6/143", "cpu_flags": ["avx2"]}},
    "toolchain": {"python": "3.11.7", "onnx": "1.23.2"},
    "created_at": "2026-01-05T00:00:00+00:00",
}


def full_manifest() -> Manifest:
    """Every section filled with non-default values, built directly (not through from_dict)."""
    parity = ParityRecord(1e-6, 2e-5, 3e-7, 0.99, 40, True, {"rel_to_range": 0.001})
    fp16 = ParityRecord(0.005, 0.002, 0.0004, 1.0, 32, True, {"top1_agreement": 0.99})
    return Manifest(
        model=ModelInfo("resnet20", 3, "v1", 1234, 0.5, SHA_A, ["cat", "dog", "eel"]),
        input=InputSpec("pixels", "scores", "nchw", "float", [-1, 3, 32, 32], "n"),
        preprocessing=Preprocessing(36, 32, [0.5, 0.4, 0.3], [0.2, 0.3, 0.4], "BGR", "bicubic", 0.5),
        files=[FileEntry("model.fp32.onnx", "onnx", "fp32", None, 7, SHA_B, {"opset": 20}),
               FileEntry("model.int8-cpu.onnx", "onnx", "int8", "cpu", 3, SHA_A, {"excluded_nodes": 1}),
               FileEntry("model.int8-cpu-raw.onnx", "onnx", "int8", "cpu", 3, SHA_A, {"folded_from": "x"},
                         InputSpec("pixels", "scores", "NHWC", "uint8", [-1, 32, 32, 3], "n"))],
        parity={"onnx:fp32": parity},
        calibration=Calibration("percentile", 64, "imgs", SHA_A, "ranges/calibration.json", 99.99, 1.5, 57),
        quantization=Quantization(
            targets={"cpu": QuantTarget("model.int8-cpu.onnx", "uint8 asymmetric", "int8 symmetric", "qdq", "U8S8",
                                        3, 0.3, {"convs": 19, "int8": 18, "float": 1}, 0.5, 2,
                                        "2026-01-01T00:00:00+00:00")},
            drift={"int8-cpu": Drift(600, True, 0.99, 0.3, 0.999, 0.01, 0.95, 0.96, 1.0, 0.97, 1.0)},
            excluded_nodes={"cpu": ["/layer1/conv"]},
            fp16=Fp16Record("model.fp16.onnx", fp16, keep_io_types=False),
            report="quant_report.json",
        ),
        engines=[EngineRecord("engines/model.fp32.tensorrt.plan", "tensorrt", "10.3.0", "fp32", "fp32",
                              "model.fp32.onnx", SHA_B, copy.deepcopy(PROFILE), 2.5, "NVIDIA A10", "8.6",
                              "ampere_plus", True, ["8.6"], 3, 512, "200", "2026-01-02T00:00:00+00:00")],
        bench=BenchSummary("2026-01-03T00:00:00+00:00", "bench/report.json", {"hostname": "vm"}, 2, "torch:fp32",
                           {"onnxruntime:fp32": BenchRowSummary("ok", p50_ms=0.6, best_batch=4, top1=0.96),
                            "tensorrt:fp32": BenchRowSummary("skipped", reason="no GPU")},
                           {"speedup": 1.2}, 0.4),
        selection=Selection("onnxruntime:int8-cpu", "min-latency", "model.int8-cpu.onnx", 0.5, "fastest",
                            {"p50_ms": 0.5, "top1": None}, 2, "2026-01-04T00:00:00+00:00",
                            {"cpu_model": "Test CPU", "cpu_family_model": "6/143", "cpu_flags": ["avx2"]}),
        toolchain={"python": "3.11.7", "onnx": "1.23.2"},
        created_at="2026-01-05T00:00:00+00:00",
    )


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    m = full_manifest()
    save_manifest(m, tmp_path)
    raw = json.loads((tmp_path / "manifest.json").read_text())
    digest = raw.pop("digest")
    assert raw == EXPECTED  # every field written, under its documented name
    assert digest == manifest_digest(raw)
    back = read_manifest(tmp_path)
    assert back == m  # every field read back (all values differ from the defaults)
    for section in dataclasses.fields(Manifest):  # no section was left at its default
        default = Manifest(model=m.model)
        if section.name not in ("model", "schema_version"):
            assert getattr(back, section.name) != getattr(default, section.name), section.name


def test_every_field_of_every_section_differs_from_its_default() -> None:
    """Guards the round trip above: a field left at its default would not prove it is read."""
    m = full_manifest()
    records = [m.model, m.input, m.preprocessing, m.files[2], m.calibration, m.quantization,
               m.quantization.targets["cpu"], m.quantization.fp16, m.engines[0], m.bench, m.selection]
    for rec in records:
        for f in dataclasses.fields(rec):
            if f.default is not dataclasses.MISSING:
                assert getattr(rec, f.name) != f.default, f"{type(rec).__name__}.{f.name}"
            elif f.default_factory is not dataclasses.MISSING:
                assert getattr(rec, f.name) != f.default_factory(), f"{type(rec).__name__}.{f.name}"


def test_schema1_manifest_with_old_drift_keys_and_no_digest_still_loads(tmp_path: Path) -> None:
    """A manifest as resnet-deploy wrote it before the typed sections (quantize's old key names)."""
    (tmp_path / "model.fp32.onnx").write_bytes(b"0123456")
    old = {
        "schema_version": 1,
        "model": {"arch": "resnet20", "num_classes": 10, "variant": "v1.5", "params": 5, "gmacs": 0.04,
                  "checkpoint_sha256": None, "labels": None},
        "input": {"name": "input", "output_name": "logits", "layout": "NCHW", "dtype": "float32",
                  "shape": [-1, 3, 32, 32], "batch_axis_name": "batch"},
        "preprocessing": {"resize": 36, "crop": 32, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                          "channel_order": "RGB", "interpolation": "bilinear", "scale": 0.00392156862745098},
        "files": [{"path": "model.fp32.onnx", "format": "onnx", "precision": "fp32", "target": None,
                   "size": 7, "sha256": "", "extra": {}}],
        "parity": {},
        "calibration": {"method": "minmax", "percentile": None, "count": 64, "dataset": "sample:calib",
                        "dataset_sha256": SHA_A, "file": "calibration.json", "seconds": 0.17},
        "quantization": {"drift": {"int8-cpu": {"agreement": 0.99, "max_abs": 0.3, "cosine": 0.9996,
                                                "cosine_min": 0.99, "n": 600, "labelled": True,
                                                "top1_fp32": 0.965, "top1": 0.968, "top5_fp32": 1.0, "top5": 1.0}},
                         "excluded_nodes": {"cpu": []}},
        "engines": [],
        "bench": {},
        "selection": {"backend": "openvino", "file": "model.fp32.onnx"},
        "toolchain": {"python": "3.11.7"},
        "created_at": "2025-01-01T00:00:00+00:00",
    }
    (tmp_path / "manifest.json").write_text(json.dumps(old))
    m = load_manifest(tmp_path)
    d = m.quantization.drift["int8-cpu"]
    assert (d.cosine_mean, d.ref_top1, d.ref_top5, d.top1) == (0.9996, 0.965, 1.0, 0.968)
    assert d.drop_points == pytest.approx(100 * (0.965 - 0.968))
    assert m.calibration is not None and m.calibration.tensors == 0 and m.bench is None
    assert m.selection == Selection(backend="openvino", file="model.fp32.onnx")
    save_manifest(m, tmp_path)  # rewritten with the new names and a digest
    raw = json.loads((tmp_path / "manifest.json").read_text())
    new = raw["quantization"]["drift"]["int8-cpu"]
    assert new["cosine_mean"] == 0.9996 and new["ref_top1"] == 0.965 and "cosine" not in new
    assert raw["digest"] == manifest_digest(raw) and load_manifest(tmp_path) == m

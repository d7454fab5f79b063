"""The INT8 targets: one Q/DQ flavour per consumer, all emitted from the same ranges.

``cpu`` (ONNX Runtime on x86/ARM CPUs): uint8 asymmetric activations with int8
per-channel symmetric weights (U8S8). ORT fuses every Conv into QLinearConv only
in this form; int8 activations (S8S8, ORT's quantize_static default) leave about
half the convs in float on x86, no faster than FP32. Weights use ORT's
``reduce_range`` (7-bit values, [-64, 64], still stored as int8): on x86 CPUs
without VNNI, MLAS's U8S8 kernel sums pairs of u8*s8 products in saturating
int16, and with full-range weights the tiny demo model lost 1.3 pt of FP32
agreement to that saturation alone (Q/DQ simulated in float: 99.5 %, int8 kernels:
98.2 %; with reduce_range both 99.8 %, same latency; benchmarks/results/int8.md).
An artifact is built once and served on unknown CPUs, so the safe form is the default.

``tensorrt`` (TensorRT, strongly typed, explicit quantization): int8 symmetric
activations and weights (zero point 0 everywhere), per-channel weights, a
dedicated Q/DQ pair per consumer, Q/DQ on the inputs of Conv/Gemm, and on
each residual Add a Q/DQ on the identity (shortcut) input ONLY: the conv-branch
input reaches the Add in float, so TensorRT fuses Conv+Add(+ReLU) into one int8
kernel (NVIDIA's ResNet placement; ``quantize/residual.py`` removes the pair ORT
puts on the conv branch). No Q/DQ on the outputs of Conv/Gemm/Add.

``openvino`` (OpenVINO's CPU plugin): the ``cpu`` form (same ranges, U8S8, 7-bit
weights) with two changes so OpenVINO compiles the graph NNCF's own INT8 gives it:
float biases (``QuantizeBias: False``; an int32 bias DequantizeLinear is what ORT
fuses into QLinearConv/QGemm, while OpenVINO folds a float bias into its int8
FullyConnected directly), and the classifier's input Q/DQ moved onto the pooled
tensor (``quantize/head.py``), so OpenVINO fuses it into the pooling instead of
running an f32 FakeQuantize and Reorder. ONNX Runtime keeps the ``cpu`` form.

All keep the classifier's logits in float (no Q/DQ on the Gemm output): uint8
logits would tie near the top and cost top-5 accuracy for no speed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FILE_NAMES = {
    "cpu": "model.int8-cpu.onnx",
    "tensorrt": "model.int8-tensorrt.onnx",
    "openvino": "model.int8-openvino.onnx",
}

# op types whose quantized form ORT's CPU provider runs with int8 kernels
INT8_CONV_OPS = ("QLinearConv", "ConvInteger", "NhwcQLinearConv")
FLOAT_CONV_OPS = ("Conv", "FusedConv", "NchwcConv")


@dataclass(frozen=True)
class TargetSpec:
    """How ``quantize_static`` is called for one target (besides the shared ranges)."""

    name: str
    activation_type: str  # onnxruntime.quantization.QuantType member name
    weight_type: str
    extra_options: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    reduce_range: bool = False  # 7-bit weights (see the module docstring)
    residual_identity_only: bool = False  # Q/DQ on the shortcut input of residual Adds only (TensorRT)
    pooled_head_qdq: bool = False  # the classifier's input Q/DQ on the pooled tensor (OpenVINO)

    @property
    def file_name(self) -> str:
        return FILE_NAMES[self.name]

    def quant_types(self) -> tuple[Any, Any]:
        from onnxruntime.quantization import QuantType

        return QuantType[self.activation_type], QuantType[self.weight_type]


# onnxruntime quantize_static extra_options shared by the U8S8 forms (cpu, openvino)
_U8S8: dict[str, Any] = {
    "ActivationSymmetric": False,
    "WeightSymmetric": True,
    "OpTypesToExcludeOutputQuantization": ["Gemm"],
}

SPECS: dict[str, TargetSpec] = {
    "cpu": TargetSpec(
        name="cpu",
        activation_type="QUInt8",
        weight_type="QInt8",
        extra_options=dict(_U8S8),
        description="U8S8 QDQ for ONNX Runtime CPU (uint8 activations, per-channel int8 weights)",
        reduce_range=True,
    ),
    "tensorrt": TargetSpec(
        name="tensorrt",
        activation_type="QInt8",
        weight_type="QInt8",
        extra_options={
            "ActivationSymmetric": True,
            "WeightSymmetric": True,
            "DedicatedQDQPair": True,
            "OpTypesToExcludeOutputQuantization": ["Conv", "Gemm", "Add"],
            "QDQOpTypePerChannelSupportToAxis": {"Gemm": 0},
            # TensorRT's ONNX parser rejects int32 DequantizeLinear (ORT's bias quantization):
            # "input has type Int32 but must have type FP8, FP4, Int4, Int8, or UInt8". Keep biases float.
            "QuantizeBias": False,
        },
        description="S8S8 symmetric QDQ for TensorRT (zero point 0, Q/DQ on the identity input of residual Adds)",
        residual_identity_only=True,
    ),
    "openvino": TargetSpec(
        name="openvino",
        activation_type="QUInt8",
        weight_type="QInt8",
        extra_options={**_U8S8, "QuantizeBias": False},  # float biases: OpenVINO's FC/conv take them as is
        description="U8S8 QDQ for OpenVINO CPU (the cpu form with float biases and the head's Q/DQ "
        "on the pooled tensor, as NNCF places it)",
        reduce_range=True,
        pooled_head_qdq=True,
    ),
}


def spec(target: str) -> TargetSpec:
    return SPECS[target]


def manifest_entry(target: str) -> dict[str, Any]:
    """What the manifest records about how a target was emitted."""
    s = SPECS[target]
    return {
        "file": s.file_name,
        "activations": "uint8 asymmetric" if s.activation_type == "QUInt8" else "int8 symmetric",
        "weights": "int8 symmetric per-channel" + (" (7-bit range)" if s.reduce_range else ""),
        "format": "QDQ",
        "description": s.description,
    }

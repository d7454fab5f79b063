"""The contents of each ``config.pbtxt`` in a generated Triton repository, as plain data.

Kept apart from file writing so the choices are easy to read and test:
``plan_configs(plan)`` returns ``{model_name: config_dict}`` which
``pbtxt.dumps`` renders. Field names follow Triton's ``model_config.proto``
(ModelConfig, ModelInput/Output, ModelDynamicBatching, ModelInstanceGroup,
ModelOptimizationPolicy.ExecutionAccelerators, ModelEnsembling).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from resnet_deploy.artifact import Preprocessing
from resnet_deploy.serve.pbtxt import Enum, Map, string_parameters

_TRITON_TYPES = {"float32": "TYPE_FP32", "float16": "TYPE_FP16", "uint8": "TYPE_UINT8", "int8": "TYPE_INT8"}
_PRECISION_MODE = {"fp32": "FP32", "fp16": "FP16", "int8": "INT8"}
IMAGE_INPUT = "image"  # ensemble / preprocess input: one encoded image per batch item


@dataclass(frozen=True)
class ModelIO:
    """The network's tensors: names, element types (numpy names), CHW and class count.

    ``layout`` NHWC: a raw-pixel network (uint8 crops in, preprocessing folded into it)."""

    input_name: str
    input_type: str
    output_name: str
    output_type: str
    channels: int
    size: int
    num_classes: int
    layout: str = "NCHW"

    @property
    def dims(self) -> list[int]:
        """The input's dims without the batch axis."""
        if self.layout == "NHWC":
            return [self.size, self.size, self.channels]
        return [self.channels, self.size, self.size]


@dataclass(frozen=True)
class RepoPlan:
    """Everything that decides the configs (no paths, no file contents)."""

    name: str
    backend: str  # onnxruntime | openvino | tensorrt
    precision: str  # fp32 | int8 | fp16
    kind: str  # cpu | gpu
    max_batch: int
    instances: int
    dynamic_batching: bool
    max_queue_delay_us: int
    io: ModelIO
    preprocessing: Preprocessing
    has_labels: bool
    preprocess: bool = True


def triton_type(numpy_name: str) -> Enum:
    if numpy_name not in _TRITON_TYPES:
        raise ValueError(f"no Triton data type for {numpy_name}")
    return Enum(_TRITON_TYPES[numpy_name])


def preferred_batch_sizes(max_batch: int) -> list[int]:
    """A quarter, half and all of ``max_batch``: batches the scheduler should aim for."""
    return sorted({max(1, max_batch // 4), max(1, max_batch // 2), max_batch})


def _batching(plan: RepoPlan) -> dict[str, Any] | None:
    if not plan.dynamic_batching or plan.max_batch <= 1:
        return None
    return {
        "preferred_batch_size": preferred_batch_sizes(plan.max_batch),
        "max_queue_delay_microseconds": plan.max_queue_delay_us,
    }


def _instances(count: int, kind: str) -> list[dict[str, Any]]:
    return [{"count": count, "kind": Enum("KIND_GPU" if kind == "gpu" else "KIND_CPU")}]


def _backend_fields(plan: RepoPlan) -> dict[str, Any]:
    """backend/platform, model file name and the backend's optimisation settings."""
    if plan.backend == "tensorrt":
        return {"platform": "tensorrt_plan", "default_model_filename": "model.plan"}
    if plan.backend == "openvino":
        # OpenVINO backend reads ONNX directly; one stream per instance, latency hint for one.
        return {
            "backend": "openvino",
            "default_model_filename": "model.onnx",
            "parameters": string_parameters({
                "NUM_STREAMS": plan.instances,
                "PERFORMANCE_HINT": "LATENCY" if plan.instances == 1 else "THROUGHPUT",
            }),
        }
    fields: dict[str, Any] = {"backend": "onnxruntime", "default_model_filename": "model.onnx"}
    if plan.kind == "gpu":
        # ORT's TensorRT execution provider (CUDA EP as fallback); INT8 uses the Q/DQ nodes
        # already in model.int8-tensorrt.onnx, so no calibration table is involved.
        fields["optimization"] = {
            "execution_accelerators": {
                "gpu_execution_accelerator": [{
                    "name": "tensorrt",
                    "parameters": Map({
                        "precision_mode": _PRECISION_MODE[plan.precision],
                        "max_workspace_size_bytes": "1073741824",
                    }),
                }],
            },
        }
    return fields


def network_config(plan: RepoPlan) -> dict[str, Any]:
    io = plan.io
    output: dict[str, Any] = {
        "name": io.output_name, "data_type": triton_type(io.output_type), "dims": [io.num_classes],
    }
    if plan.has_labels:
        output["label_filename"] = "labels.txt"
    fields = _backend_fields(plan)
    tail = {"optimization": fields.pop("optimization", None), "parameters": fields.pop("parameters", None)}
    return {
        "name": plan.name,
        **fields,
        "max_batch_size": plan.max_batch,
        "input": [{
            "name": io.input_name, "data_type": triton_type(io.input_type), "dims": io.dims,
        }],
        "output": [output],
        "dynamic_batching": _batching(plan),
        "instance_group": _instances(plan.instances, plan.kind),
        **tail,
    }


def preprocess_config(plan: RepoPlan) -> dict[str, Any]:
    """Python backend on CPU: its parameters carry the manifest's preprocessing."""
    pre, io = plan.preprocessing, plan.io
    params = {
        "resize": pre.resize,
        "crop": pre.crop,
        "mean": ",".join(repr(float(v)) for v in pre.mean),
        "std": ",".join(repr(float(v)) for v in pre.std),
        "scale": repr(float(pre.scale)),
        "channel_order": pre.channel_order,
        "interpolation": pre.interpolation,
        "dtype": io.input_type,
        "layout": io.layout,  # NHWC: uint8 crops for a raw-pixel network, no normalising
        "input_name": IMAGE_INPUT,
        "output_name": io.input_name,
    }
    return {
        "name": f"{plan.name}_preprocess",
        "backend": "python",
        "max_batch_size": plan.max_batch,
        "input": [{"name": IMAGE_INPUT, "data_type": Enum("TYPE_STRING"), "dims": [1]}],
        "output": [{
            "name": io.input_name, "data_type": triton_type(io.input_type), "dims": io.dims,
        }],
        "dynamic_batching": _batching(plan),
        "instance_group": _instances(plan.instances, "cpu"),
        "parameters": string_parameters(params),
    }


def ensemble_config(plan: RepoPlan) -> dict[str, Any]:
    """bytes -> ``<name>_preprocess`` -> ``<name>``: clients send images in one request."""
    io = plan.io
    output: dict[str, Any] = {
        "name": io.output_name, "data_type": triton_type(io.output_type), "dims": [io.num_classes],
    }
    if plan.has_labels:
        output["label_filename"] = "labels.txt"
    tensor = "preprocessed_" + io.input_name
    return {
        "name": f"{plan.name}_ensemble",
        "platform": "ensemble",
        "max_batch_size": plan.max_batch,
        "input": [{"name": IMAGE_INPUT, "data_type": Enum("TYPE_STRING"), "dims": [1]}],
        "output": [output],
        "ensemble_scheduling": {"step": [
            {
                "model_name": f"{plan.name}_preprocess", "model_version": -1,
                "input_map": Map({IMAGE_INPUT: IMAGE_INPUT}),
                "output_map": Map({io.input_name: tensor}),
            },
            {
                "model_name": plan.name, "model_version": -1,
                "input_map": Map({io.input_name: tensor}),
                "output_map": Map({io.output_name: io.output_name}),
            },
        ]},
    }


def plan_configs(plan: RepoPlan) -> dict[str, dict[str, Any]]:
    """``{model_name: config}`` for the network and, if asked, preprocess + ensemble."""
    out = {plan.name: network_config(plan)}
    if plan.preprocess:
        out[f"{plan.name}_preprocess"] = preprocess_config(plan)
        out[f"{plan.name}_ensemble"] = ensemble_config(plan)
    return out

"""Backend name -> runner class, imported lazily so probing never loads heavy modules."""

from __future__ import annotations

import importlib

from resnet_deploy.errors import ResNetDeployError

# name -> "module:Class". Order = the fixed preference used by backend="auto"
# (GPU first, then CPU INT8-capable runtimes, then PyTorch).
BACKENDS: dict[str, str] = {
    "tensorrt": "resnet_deploy.runtime.tensorrt:TensorRTRunner",
    "onnxruntime-tensorrt": "resnet_deploy.runtime.ort_gpu:OrtTensorRTRunner",
    "onnxruntime-cuda": "resnet_deploy.runtime.ort_gpu:OrtCudaRunner",
    "torch-tensorrt": "resnet_deploy.runtime.torch_tensorrt:TorchTensorRTRunner",
    "onnxruntime": "resnet_deploy.runtime.ort:OrtCpuRunner",
    "openvino": "resnet_deploy.runtime.openvino:OpenVINORunner",
    "torchscript": "resnet_deploy.runtime.torchscript:TorchScriptRunner",
    "torch": "resnet_deploy.runtime.torch_eager:TorchRunner",
    "torch-channels-last": "resnet_deploy.runtime.torch_eager:TorchChannelsLastRunner",
    "torch-compile": "resnet_deploy.runtime.torch_compile:TorchCompileRunner",
}


def backend_names() -> list[str]:
    return list(BACKENDS)


def runner_class(name: str):  # -> type[Runner]
    """The runner class for a backend name, or a one-line error listing valid names."""
    if name not in BACKENDS:
        raise ResNetDeployError(f"unknown backend '{name}'; choose one of: {', '.join(BACKENDS)}")
    module, cls = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module), cls)

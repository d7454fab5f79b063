"""Parameter and multiply-accumulate counts, measured by running the model once.

MACs come from forward hooks on every Conv2d (grouped convs included) and
Linear during one batch-1 forward, so they follow the real shapes, strides and
v1/v1.5 placement rather than a formula that can drift from the code. The
forward runs on PyTorch's ``meta`` device when the model lives there, which
makes even ResNet-152 instant (no arithmetic is done).
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn

from resnet_deploy.errors import ModelError

_NORMS = (nn.BatchNorm2d,)


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _size_hw(input_size: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    if isinstance(input_size, int) and not isinstance(input_size, bool):
        h = w = input_size
    elif isinstance(input_size, tuple | list) and len(input_size) == 2:
        h, w = (int(v) for v in input_size)
    else:
        raise ModelError(f"input size must be an integer or (height, width), got {input_size!r}; pass e.g. 224")
    if h < 1 or w < 1:
        raise ModelError(f"input size must be positive, got {input_size!r}; pass e.g. 224")
    return h, w


def _in_chans(model: nn.Module) -> int:
    chans = getattr(model, "in_chans", None)
    if isinstance(chans, int):
        return chans
    first = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if first is None:
        raise ModelError("cannot tell the model's input channels; pass in_chans")
    return first.in_channels


def count_macs(
    model: nn.Module,
    input_size: int | tuple[int, int] = 224,
    in_chans: int | None = None,
) -> int:
    """Multiply-accumulates of one image (batch 1) through Conv2d and Linear layers."""
    h, w = _size_hw(input_size)
    chans = in_chans if in_chans is not None else _in_chans(model)
    total = 0

    def conv_hook(m: nn.Conv2d, _inp: Any, out: torch.Tensor) -> None:
        nonlocal total
        kh, kw = m.kernel_size
        total += out.numel() * (m.in_channels // m.groups) * kh * kw

    def linear_hook(m: nn.Linear, _inp: Any, out: torch.Tensor) -> None:
        nonlocal total
        total += out.numel() * m.in_features

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    ref = next(iter(model.parameters()), None)
    device = ref.device if ref is not None else torch.device("cpu")
    dtype = ref.dtype if ref is not None and ref.is_floating_point() else torch.float32
    was_training = model.training
    # On the meta device BatchNorm runs through Python decompositions (slow, and they
    # import torch._dynamo); it neither changes shapes nor counts as MACs, so skip it.
    bypassed = [m for m in model.modules() if device.type == "meta" and isinstance(m, _NORMS)]
    for m in bypassed:
        m.forward = _identity  # type: ignore[method-assign]
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, chans, h, w, device=device, dtype=dtype))
    except RuntimeError as exc:
        first = str(exc).splitlines()[0][:160]
        raise ModelError(
            f"the model cannot run at {h}x{w} with {chans} channels: {first}; pass the input size and in_chans the model was built for"
        ) from exc
    finally:
        for handle in handles:
            handle.remove()
        for m in bypassed:
            del m.forward
        model.train(was_training)
    return int(total)


def count_params(model: nn.Module) -> int:
    """Number of parameters (BN running statistics are buffers and not counted, as torchvision)."""
    return sum(p.numel() for p in model.parameters())


def default_num_classes(name: str) -> int:
    """10 for the CIFAR nets, 1000 (ImageNet) for the rest: what their published counts use."""
    from resnet_deploy.models.registry import get_arch

    return 10 if get_arch(name).stem == "cifar" else 1000


def model_summary(
    name: str,
    input_size: int | None = None,
    *,
    num_classes: int | None = None,
    variant: str = "v1.5",
    in_chans: int = 3,
) -> dict[str, Any]:
    """Params, GMACs and table facts for one architecture, measured without real weights.

    ``input_size`` defaults to the architecture's own (224 for ImageNet nets, 32 for
    CIFAR ones); the model is built on the meta device, so this is cheap.
    """
    from resnet_deploy.models.registry import get_arch

    spec = get_arch(name)
    size = spec.default_input_size if input_size is None else input_size
    classes = default_num_classes(name) if num_classes is None else num_classes
    params, macs = _measure(spec.name, size, classes, variant, in_chans)
    return {
        "name": spec.name,
        "params": params,
        "macs": macs,
        "gmacs": round(macs / 1e9, 3),
        "input_size": size,
        "num_classes": classes,
        "variant": variant,
        "block": spec.block,
        "layers": list(spec.layers),
        "default_input_size": spec.default_input_size,
        "family": spec.family,
        "description": spec.description,
    }


@functools.cache
def _measure(name: str, size: int | tuple[int, int], classes: int, variant: str,
             in_chans: int) -> tuple[int, int]:
    """(params, MACs) of a shape-only build; pure in its arguments, so cached per process."""
    from resnet_deploy.models.registry import create_model

    with torch.device("meta"):
        model = create_model(name, num_classes=classes, variant=variant, in_chans=in_chans)
    return count_params(model), count_macs(model, size, in_chans=in_chans)

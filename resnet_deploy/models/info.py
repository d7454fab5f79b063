"""What the ``models`` and ``info`` commands report: the zoo table and one model's facts.

Kept in the library (not the CLI) so the same numbers feed the manifest, the
README table and the commands.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from resnet_deploy.models.complexity import count_params, default_num_classes, model_summary
from resnet_deploy.models.registry import create_model, get_arch, list_models


def zoo_summaries() -> list[dict[str, Any]]:
    """``model_summary`` of every architecture at its default input size (224, CIFAR nets 32)."""
    return [model_summary(name) for name in list_models()]


def describe_model(
    arch: str,
    *,
    weights: str | os.PathLike[str] | None = None,
    num_classes: int | None = None,
    variant: str = "v1.5",
    new_head: bool = False,
    input_size: int | None = None,
) -> dict[str, Any]:
    """Params, GMACs and layout of ``arch``; with ``weights`` also load them and report how.

    Without ``num_classes`` the head size comes from the checkpoint's ``fc.weight``
    (or the architecture's default), so ``info --weights my.pth`` just works. Loading
    is strict unless ``new_head`` allows a different classifier.
    """
    spec = get_arch(arch)
    in_chans = 3
    sd = None
    if weights is not None:
        weights = Path(weights).expanduser()
        from resnet_deploy.models.weights import head_shape, read_state_dict

        sd = read_state_dict(weights)
        file_classes, file_chans = head_shape(sd)
        if num_classes is None and not new_head:
            num_classes = file_classes
        in_chans = file_chans or 3
    classes = num_classes if num_classes is not None else default_num_classes(spec.name)
    summary = model_summary(spec.name, input_size, num_classes=classes, variant=variant,
                            in_chans=in_chans)
    summary["in_chans"] = in_chans
    summary["weights"] = None
    if sd is not None:
        from resnet_deploy.artifact import sha256_file
        from resnet_deploy.models.weights import apply_state_dict

        model = create_model(spec.name, num_classes=classes, variant=variant, in_chans=in_chans)
        report = apply_state_dict(model, sd, source=weights, sha256=sha256_file(weights),
                                  new_head=new_head, strict=True)
        summary["params"] = count_params(model)
        summary["weights"] = report.to_dict()
    return summary

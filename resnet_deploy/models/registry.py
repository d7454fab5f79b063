"""create_model / list_models over the variants table."""

from __future__ import annotations

from resnet_deploy.checks import check_int
from resnet_deploy.errors import ModelError
from resnet_deploy.models.variants import ALIASES, VARIANTS, Variant

VERSIONS = ("v1.5", "v1")


def canonical_name(name: str) -> str:
    """Normalise user spellings (ResNet_50, resnet-50) to the table's key."""
    key = name.strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in VARIANTS:
        compact = key.replace("_", "")
        key = next((k for k in VARIANTS if k.replace("_", "") == compact), key)
    return key


def get_variant(name: str) -> Variant:
    """The Variant row for ``name`` or a one-line ModelError listing what exists."""
    key = canonical_name(name)
    if key not in VARIANTS:
        raise ModelError(
            f"unknown architecture '{name}'; choose one of: {', '.join(VARIANTS)} "
            "(see 'resnet-deploy models')"
        )
    return VARIANTS[key]


def list_models() -> list[str]:
    """All architecture names, in table order."""
    return list(VARIANTS)


def create_model(
    name: str,
    *,
    num_classes: int = 1000,
    in_chans: int = 3,
    version: str = "v1.5",
    zero_init_residual: bool = False,
):  # -> ResNet (kept untyped here so importing the registry stays torch-free)
    """Build an architecture from the table, randomly initialised (load weights separately).

    ``version="v1"`` puts the stride on the first 1x1 conv of bottlenecks (original
    paper); ``"v1.5"`` (default, torchvision) puts it on the 3x3.
    """
    variant = get_variant(name)
    check_int(num_classes, "num_classes", maximum=1_000_000, hint="pass e.g. 1000", error=ModelError)
    check_int(in_chans, "in_chans", maximum=64, hint="pass 3 for RGB", error=ModelError)
    if version not in VERSIONS:
        raise ModelError(f"unknown ResNet version '{version}'; choose v1.5 (torchvision) or v1 (paper)")
    from resnet_deploy.models.resnet import ResNet

    return ResNet(
        variant,
        num_classes=num_classes,
        in_chans=in_chans,
        stride_in_1x1=(version == "v1"),
        zero_init_residual=zero_init_residual,
    )

"""create_model / list_models over the architecture table (models/archs.py)."""

from __future__ import annotations

from resnet_deploy.checks import check_int
from resnet_deploy.errors import ModelError
from resnet_deploy.models.archs import ALIASES, ARCHS, ArchSpec

# Where bottlenecks put their stride: "v1.5" (torchvision, on the 3x3) or "v1" (paper, on the 1x1).
STRIDE_VARIANTS = ("v1.5", "v1")


def canonical_name(name: str) -> str:
    """Normalise user spellings (ResNet_50, resnet-50) to the table's key."""
    key = name.strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in ARCHS:
        compact = key.replace("_", "")
        key = next((k for k in ARCHS if k.replace("_", "") == compact), key)
    return key


def get_arch(name: str) -> ArchSpec:
    """The ArchSpec row for ``name`` or a one-line ModelError listing what exists."""
    key = canonical_name(name)
    if key not in ARCHS:
        raise ModelError(
            f"unknown architecture '{name}'; choose one of: {', '.join(ARCHS)} "
            "(see 'resnet-deploy models')"
        )
    return ARCHS[key]


def list_models() -> list[str]:
    """All architecture names, in table order."""
    return list(ARCHS)


def create_model(
    name: str,
    *,
    num_classes: int = 1000,
    in_chans: int = 3,
    variant: str = "v1.5",
    zero_init_residual: bool = False,
):  # -> ResNet (kept untyped here so importing the registry stays torch-free)
    """Build an architecture from the table, randomly initialised (load weights separately).

    ``variant="v1"`` puts the stride on the first 1x1 conv of bottlenecks (original
    paper); ``"v1.5"`` (default, torchvision) puts it on the 3x3.
    """
    spec = get_arch(name)
    check_int(num_classes, "num_classes", maximum=1_000_000, hint="pass e.g. 1000", error=ModelError)
    check_int(in_chans, "in_chans", maximum=64, hint="pass 3 for RGB", error=ModelError)
    if variant not in STRIDE_VARIANTS:
        raise ModelError(f"unknown ResNet variant '{variant}'; choose v1.5 (torchvision) or v1 (paper)")
    from resnet_deploy.models.resnet import ResNet

    return ResNet(
        spec,
        num_classes=num_classes,
        in_chans=in_chans,
        stride_in_1x1=(variant == "v1"),
        zero_init_residual=zero_init_residual,
    )

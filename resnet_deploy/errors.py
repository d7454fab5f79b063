"""User-facing errors: each carries a one-line message and the exit code the CLI uses.

A user's mistake (bad arguments, bad files) exits 2; a failure during the work
itself (a parity gate or accuracy budget that is not met) exits 1. The CLI
prints ``error: <message>`` and never a traceback for these.
"""

from __future__ import annotations


class ResNetDeployError(Exception):
    """Base class: a one-line, actionable message (what was wrong, what to do)."""

    exit_code: int = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class ConfigError(ResNetDeployError, ValueError):
    """An option or config field has a wrong type or value (checked by ``resnet_deploy.checks``)."""


class MissingDependencyError(ResNetDeployError):
    """An optional module (tensorrt, openvino, tritonclient, ...) is not installed."""


class ModelError(ResNetDeployError):
    """Unknown architecture or nonsense model options."""


class CheckpointError(ResNetDeployError):
    """A weight file is missing, corrupt, or does not match the architecture."""


class DataError(ResNetDeployError):
    """Calibration/evaluation data is missing, empty, or malformed."""


class ArtifactError(ResNetDeployError):
    """An artifact directory is missing, tampered with, truncated, or of an unknown schema."""


class EngineCompatibilityError(ArtifactError):
    """A TensorRT engine does not match the installed library or the GPU."""


class InvalidInputError(ResNetDeployError, ValueError):
    """An inference input has the wrong rank/shape/dtype, NaN/Inf, or cannot be decoded."""


class BackendUnavailableError(ResNetDeployError):
    """A backend is not installed, has no device, or silently falls back to another device."""


class WorkFailedError(ResNetDeployError):
    """The work ran but did not meet its bar (parity gate, accuracy budget)."""

    exit_code = 1


class ParityError(WorkFailedError):
    """An exported format disagrees with PyTorch beyond tolerance."""


class AccuracyBudgetError(WorkFailedError):
    """INT8 could not be brought within the allowed accuracy drop."""

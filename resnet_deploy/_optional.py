"""Lazy, guarded imports of optional modules with a one-line error naming the extra.

Some packages fail to import with errors that are not ImportError (torch_tensorrt
raises OSError/RuntimeError when CUDA libraries are absent), so every exception
during import counts as "not available", with its reason kept.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from resnet_deploy.errors import MissingDependencyError

_failures: dict[str, str] = {}


def try_import(module: str) -> ModuleType | None:
    """Import ``module`` or return None, remembering why it failed (see ``why_missing``)."""
    try:
        return importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - any import failure means "not available"
        _failures[module] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        return None


def is_available(module: str) -> bool:
    """True if ``module`` imports cleanly."""
    return try_import(module) is not None


def why_missing(module: str) -> str:
    """The first line of the last import failure of ``module`` (empty if none)."""
    return _failures.get(module, "")


def require(module: str, extra: str | None = None, purpose: str = "") -> ModuleType:
    """Import ``module`` or raise MissingDependencyError telling the user what to install."""
    mod = try_import(module)
    if mod is not None:
        return mod
    what = f" (needed for {purpose})" if purpose else ""
    hint = (
        f"install it with: pip install 'resnet-deploy[{extra}]'"
        if extra
        else f"install it with: pip install {module.split('.')[0]}"
    )
    reason = why_missing(module)
    raise MissingDependencyError(f"Python module '{module}' is not available{what} [{reason}]; {hint}")

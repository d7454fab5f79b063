"""The one place that asks whether an optional module is there, and imports it.

Two questions, kept apart because they cost differently:

- ``is_available`` / ``missing_reason``: is the module installed? Answered with
  ``importlib.util.find_spec``, WITHOUT importing it, so listing backends never
  pays for importing torch or tensorrt. A module set to None in ``sys.modules``
  (how tests forbid one) counts as missing.
- ``try_import`` / ``require``: import it now. Some packages fail to import with
  errors that are not ImportError (torch_tensorrt raises OSError/RuntimeError
  when CUDA libraries are absent), so every exception during import counts as
  "not available", with its reason kept for the one-line error.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from resnet_deploy.errors import MissingDependencyError

_failures: dict[str, str] = {}


def try_import(module: str) -> ModuleType | None:
    """Import ``module`` or return None, remembering why it failed (see ``why_missing``)."""
    try:
        return importlib.import_module(module)
    except Exception as exc:  # any import failure (OSError, RuntimeError too) means "not available"
        _failures[module] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        return None


def is_available(module: str) -> bool:
    """True if ``module`` is installed, found without importing it (cheap; see module docstring)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # parent package missing or broken, or __spec__ None
        return False


def missing_reason(module: str, pip_name: str | None = None) -> str | None:
    """``"X is not installed (pip install Y)"`` if ``module`` is not installed, else None (no import)."""
    if is_available(module):
        return None
    return f"{module} is not installed (pip install {pip_name or module})"


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

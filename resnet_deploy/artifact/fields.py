"""Field checks used when a manifest is read: one ArtifactError line naming the field.

A manifest comes from disk and may have been edited, truncated by hand or
written by a buggy tool; the run side must not trust it. Every section's
``from_dict`` reads its fields through a ``Fields`` view, which checks the type
and range and names the dotted field (``preprocessing.crop``) in the error.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import PurePosixPath
from typing import Any, TypeVar

from resnet_deploy.errors import ArtifactError

T = TypeVar("T")
_MISSING: Any = object()
FIX = "re-export the artifact"


def field_error(name: str, what: str, got: Any = _MISSING) -> ArtifactError:
    """``manifest field <name> must be <what>, got <value>; re-export the artifact``."""
    shown = "" if got is _MISSING else f", got {_short(got)}"
    return ArtifactError(f"manifest field {name} must be {what}{shown}; {FIX}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_relpath(name: str, value: Any) -> str:
    """A path inside the artifact, spelled relative with '/' and without '..'."""
    if not isinstance(value, str) or not value.strip():
        raise field_error(name, "a relative path inside the artifact", value)
    p = PurePosixPath(value)
    if p.is_absolute() or value.startswith(("/", "\\")) or (len(value) > 1 and value[1] == ":"):
        raise field_error(name, "a relative path inside the artifact (not absolute)", value)
    if ".." in p.parts or "\\" in value or "\x00" in value:
        raise field_error(name, "a relative path inside the artifact (no '..')", value)
    return value


class Fields:
    """A read-only view of one JSON object of the manifest, named by its dotted ``where``."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, Mapping):
            raise field_error(where, "an object", data)
        self.data, self.where = data, where

    def name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def _get(self, key: str, default: Any) -> Any:
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            raise ArtifactError(f"manifest field {self.name(key)} is missing; {FIX}")
        return default

    def str(self, key: str, default: Any = _MISSING, *, nonempty: bool = False,
            choices: tuple[str, ...] | None = None) -> Any:
        v = self._get(key, default)
        if v is None and default is None:
            return None
        if not isinstance(v, str) or (nonempty and not v.strip()):
            raise field_error(self.name(key), "a non-empty string" if nonempty else "a string", v)
        if choices is not None and v not in choices:
            raise field_error(self.name(key), "one of " + ", ".join(choices), v)
        return v

    def int(self, key: str, default: Any = _MISSING, *, min: int | None = None) -> Any:
        v = self._get(key, default)
        if v is None and default is None:
            return None
        if not is_int(v) or (min is not None and v < min):
            what = {1: "a positive integer", 0: "a non-negative integer"}.get(min, "an integer")  # type: ignore[arg-type]
            raise field_error(self.name(key), what if min in (None, 0, 1) else f"an integer >= {min}", v)
        return v

    def num(self, key: str, default: Any = _MISSING, *, min: float | None = None,
            max: float | None = None, positive: bool = False, finite: bool = True) -> Any:
        """A number; ``finite=False`` for measurements, which may be inf/nan (a broken model's)."""
        v = self._get(key, default)
        if v is None and default is None:
            return None
        if not finite:
            return a_metric(self.name(key), v)
        return check_number(self.name(key), v, min=min, max=max, positive=positive)

    def bool(self, key: str, default: Any = _MISSING) -> Any:
        v = self._get(key, default)
        if not isinstance(v, bool):
            raise field_error(self.name(key), "true or false", v)
        return v

    def path(self, key: str, default: Any = _MISSING) -> Any:
        v = self._get(key, default)
        if v is None and default is None:
            return None
        return check_relpath(self.name(key), v)

    def obj(self, key: str, default: Any = _MISSING) -> Any:
        """A free-form JSON object (facts that are only displayed, never interpreted)."""
        v = self._get(key, default)
        if v is None and default is None:
            return None
        if not isinstance(v, Mapping):
            raise field_error(self.name(key), "an object", v)
        return dict(v)

    def list(self, key: str, item: Callable[[str, Any], T], default: Any = _MISSING,
             *, length: int | None = None) -> Any:
        v = self._get(key, default)
        if v is None and default is None:
            return None
        if not isinstance(v, list) or (length is not None and len(v) != length):
            what = f"a list of {length} items" if length is not None else "a list"
            raise field_error(self.name(key), what, v)
        return [item(f"{self.name(key)}[{i}]", x) for i, x in enumerate(v)]

    def map(self, key: str, item: Callable[[str, Any], T], default: Any = _MISSING) -> Any:
        v = self._get(key, default)
        if v is None and default is None:
            return None
        if not isinstance(v, Mapping) or not all(isinstance(k, str) for k in v):
            raise field_error(self.name(key), "an object", v)
        return {k: item(f"{self.name(key)}.{k}", x) for k, x in v.items()}

    def section(self, key: str, reader: Callable[[Fields], T], default: Any = _MISSING) -> Any:
        v = self._get(key, default)
        if v is None and default is None:
            return None
        return reader(Fields(v, self.name(key)))


def check_number(name: str, v: Any, *, min: float | None = None, max: float | None = None,
                 positive: bool = False) -> float:
    """A finite int/float (not bool) within the given bounds."""
    if not is_number(v) or not math.isfinite(v):
        raise field_error(name, "a finite number", v)
    if positive and v <= 0:
        raise field_error(name, "a positive number", v)
    if (min is not None and v < min) or (max is not None and v > max):
        lo = "" if min is None else f">= {min:g}"
        hi = "" if max is None else f"<= {max:g}"
        raise field_error(name, "a number " + " and ".join(x for x in (lo, hi) if x), v)
    return v


def a_metric(name: str, v: Any) -> float:
    """A measured number: inf/nan allowed (they describe a broken output), strings are not."""
    if not is_number(v):
        raise field_error(name, "a number", v)
    return v


def a_str(name: str, v: Any) -> str:
    if not isinstance(v, str):
        raise field_error(name, "a string", v)
    return v


def an_int(name: str, v: Any) -> int:
    if not is_int(v):
        raise field_error(name, "an integer", v)
    return v


def a_number(name: str, v: Any) -> float:
    return check_number(name, v)


def opt_metric(name: str, v: Any) -> float | None:
    return None if v is None else a_metric(name, v)


def reader(cls: Any) -> Callable[[str, Any], Any]:
    """Item reader for ``Fields.list``/``Fields.map`` from a class with ``read(Fields)``."""
    return lambda name, v: cls.read(Fields(v, name))

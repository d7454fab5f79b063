"""Small value checks shared by every config's ``validate()``; each raises one ConfigError line.

Configs validate themselves one way: a ``validate(self) -> None`` method called
from ``__post_init__`` (or by the caller after building the config) that uses
these helpers, so "a positive integer" means the same thing everywhere (and a
bool is never taken for an int).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from resnet_deploy.errors import ConfigError


def is_int(value: Any) -> bool:
    """True for real integers (numpy ints included), never for bool."""
    import numbers

    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(value: Any, what: str, *, minimum: int | None = 1, maximum: int | None = None,
              allow_none: bool = False, hint: str = "") -> None:
    """``value`` is an int in [minimum, maximum] (None allowed only with ``allow_none``)."""
    if value is None and allow_none:
        return
    lo = "" if minimum is None else f" >= {minimum}"
    hi = "" if maximum is None else f" <= {maximum}"
    if (not is_int(value) or (minimum is not None and value < minimum)
            or (maximum is not None and value > maximum)):
        raise ConfigError(f"{what} must be an integer{lo}{hi}, got {value!r}; {hint or f'pass a valid {what}'}")


def check_number(value: Any, what: str, *, minimum: float | None = None, maximum: float | None = None,
                 exclusive_minimum: bool = False, allow_none: bool = False, hint: str = "") -> None:
    """``value`` is a finite real number in range (bool refused)."""
    if value is None and allow_none:
        return
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(float(value))
    if ok and minimum is not None:
        ok = value > minimum if exclusive_minimum else value >= minimum
    if ok and maximum is not None:
        ok = value <= maximum
    if not ok:
        lo = "" if minimum is None else (f" > {minimum}" if exclusive_minimum else f" >= {minimum}")
        hi = "" if maximum is None else f" <= {maximum}"
        raise ConfigError(f"{what} must be a number{lo}{hi}, got {value!r}; {hint or f'pass a valid {what}'}")


def check_choice(value: Any, what: str, choices: Iterable[Any], *, allow_none: bool = False) -> None:
    """``value`` is one of ``choices``."""
    if value is None and allow_none:
        return
    options = list(choices)
    if value not in options:
        listed = ", ".join(str(c) for c in options)
        raise ConfigError(f"unknown {what} {value!r}; choose one of: {listed}")


def check_int_list(values: Any, what: str, *, minimum: int = 1, allow_empty: bool = False) -> None:
    """``values`` is a list/tuple of ints >= ``minimum`` (non-empty unless allowed)."""
    if not isinstance(values, (list, tuple)) or (not values and not allow_empty):
        raise ConfigError(f"{what} must be a non-empty list of integers >= {minimum}, got {values!r}; "
                          f"pass e.g. 1,8,32")
    for v in values:
        check_int(v, what, minimum=minimum, hint="pass e.g. 1,8,32")


def check_nonempty_str(value: Any, what: str, hint: str = "") -> None:
    """``value`` is a string with something other than white space in it."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{what} must not be empty, got {value!r}; {hint or f'pass a {what}'}")

"""Small value checks shared by every config's ``validate()``; each raises one ConfigError line.

Configs validate themselves one way: a ``validate(self) -> None`` method called
from ``__post_init__`` (so a config cannot exist invalid) that uses these
helpers, so "a positive integer" means the same thing everywhere (and a bool is
never taken for an int). The ``parse_*`` helpers turn CLI text into values with
the same messages. ``error`` lets a call site whose callers catch a narrower
class (a server mapping InvalidInputError to HTTP 400) keep that class.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

from resnet_deploy.errors import ConfigError, ResNetDeployError

ErrorType = type[ResNetDeployError]


def is_int(value: Any) -> bool:
    """True for real integers (numpy ints included), never for bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def int_range_text(minimum: int | None, maximum: int | None) -> str:
    """'a positive integer', 'an integer >= 0', 'an integer from 1 to 64', ... (one wording everywhere)."""
    if minimum is not None and maximum is not None:
        return f"an integer from {minimum} to {maximum}"
    if minimum == 1:
        return "a positive integer"
    if minimum is not None:
        return f"an integer >= {minimum}"
    if maximum is not None:
        return f"an integer <= {maximum}"
    return "an integer"


def _int_hint(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return "pass a value in that range"
    return f"pass e.g. {max(minimum or 0, 1) if maximum is None or maximum >= 1 else maximum}"


def check_int(value: Any, what: str, *, minimum: int | None = 1, maximum: int | None = None,
              allow_none: bool = False, hint: str = "", error: ErrorType = ConfigError) -> None:
    """``value`` is an int in [minimum, maximum] (None allowed only with ``allow_none``)."""
    if value is None and allow_none:
        return
    if (not is_int(value) or (minimum is not None and value < minimum)
            or (maximum is not None and value > maximum)):
        raise error(f"{what} must be {int_range_text(minimum, maximum)}, got {value!r}; "
                    f"{hint or _int_hint(minimum, maximum)}")


def parse_int(value: Any, what: str, *, minimum: int | None = 1, maximum: int | None = None,
              hint: str = "", error: ErrorType = ConfigError) -> int | None:
    """CLI text (or an int) -> a checked int; None stays None. Bad text gives the check's message."""
    if value is None:
        return None
    number = value
    if isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            raise error(f"{what} must be {int_range_text(minimum, maximum)}, got '{value}'; "
                        f"{hint or _int_hint(minimum, maximum)}") from None
    check_int(number, what, minimum=minimum, maximum=maximum, hint=hint, error=error)
    return int(number)


def check_number(value: Any, what: str, *, minimum: float | None = None, maximum: float | None = None,
                 exclusive_minimum: bool = False, allow_none: bool = False, hint: str = "",
                 error: ErrorType = ConfigError) -> None:
    """``value`` is a finite real number in range (bool refused)."""
    if value is None and allow_none:
        return
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))
    if ok and minimum is not None:
        ok = value > minimum if exclusive_minimum else value >= minimum
    if ok and maximum is not None:
        ok = value <= maximum
    if not ok:
        raise error(f"{what} must be {_number_range_text(minimum, maximum, exclusive_minimum)}, "
                    f"got {value!r}; {hint or f'pass a valid {what}'}")


def _number_range_text(minimum: float | None, maximum: float | None, exclusive_minimum: bool) -> str:
    if minimum == 0 and exclusive_minimum and maximum is None:
        return "a positive number"
    lo = "" if minimum is None else (f" > {minimum}" if exclusive_minimum else f" >= {minimum}")
    hi = "" if maximum is None else f" <= {maximum}"
    return f"a number{lo}{hi}" if not (lo and hi) else f"a number{lo} and{hi}"


def parse_number(value: Any, what: str, *, minimum: float | None = None, maximum: float | None = None,
                 exclusive_minimum: bool = False, hint: str = "", error: ErrorType = ConfigError) -> float | None:
    """CLI text (or a number) -> a checked float; None stays None."""
    if value is None:
        return None
    number = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            text = _number_range_text(minimum, maximum, exclusive_minimum)
            raise error(f"{what} must be {text}, got '{value}'; {hint or f'pass a valid {what}'}") from None
    check_number(number, what, minimum=minimum, maximum=maximum, exclusive_minimum=exclusive_minimum,
                 hint=hint, error=error)
    return float(number)


def check_choice(value: Any, what: str, choices: Iterable[Any], *, allow_none: bool = False,
                 error: ErrorType = ConfigError) -> None:
    """``value`` is one of ``choices``."""
    if value is None and allow_none:
        return
    options = list(choices)
    if value not in options:
        listed = ", ".join(str(c) for c in options)
        raise error(f"unknown {what} {value!r}; choose one of: {listed}")


def _ints_text(minimum: int) -> str:
    return "positive integers" if minimum == 1 else f"integers >= {minimum}"


def check_int_list(values: Any, what: str, *, minimum: int = 1, allow_empty: bool = False,
                   hint: str = "pass e.g. 1,8,32") -> None:
    """``values`` is a list/tuple of ints >= ``minimum`` (non-empty unless allowed)."""
    ok = isinstance(values, (list, tuple)) and (bool(values) or allow_empty)
    if not ok or any(not is_int(v) or v < minimum for v in values):
        raise ConfigError(f"{what} must be {_ints_text(minimum)}, got {values!r}; {hint}")


def parse_int_list(value: str, what: str, *, minimum: int = 1, hint: str = "pass e.g. 1,8,32") -> list[int]:
    """'1,8,32' -> [1, 8, 32]; a one-line error on anything else."""
    try:
        items = [int(v) for v in str(value).split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{what} must be comma-separated {_ints_text(minimum)}, got '{value}'; {hint}") from None
    if not items or any(i < minimum for i in items):
        raise ConfigError(f"{what} must be {_ints_text(minimum)}, got '{value}'; {hint}")
    return items


def check_nonempty_str(value: Any, what: str, hint: str = "") -> None:
    """``value`` is a string with something other than white space in it."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{what} must not be empty, got {value!r}; {hint or f'pass a {what}'}")


def check_bool(value: Any, what: str) -> None:
    """``value`` is a real bool (a flag), not 0/1 or a string."""
    if not isinstance(value, bool):
        raise ConfigError(f"{what} must be True or False, got {value!r}; pass a bool")

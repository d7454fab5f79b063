"""The shared check helpers: one wording, bools refused, CLI text parsed with the same messages."""

from __future__ import annotations

import numpy as np
import pytest

from resnet_deploy.checks import (
    check_choice,
    check_int,
    check_int_list,
    check_number,
    is_int,
    parse_int,
    parse_int_list,
    parse_number,
)
from resnet_deploy.errors import ConfigError, DataError, InvalidInputError


def test_is_int_takes_numpy_ints_and_never_bools() -> None:
    assert is_int(3) and is_int(np.int64(3)) and is_int(np.uint8(0))
    assert not any(is_int(v) for v in (True, False, np.bool_(True), 3.0, "3", None))


@pytest.mark.parametrize(
    ("kw", "wording"),
    [({}, "a positive integer"), ({"minimum": 0}, "an integer >= 0"),
     ({"minimum": 1, "maximum": 64}, "an integer from 1 to 64"), ({"minimum": None}, "an integer")],
)
def test_check_int_wording(kw: dict, wording: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_int(True, "--things", **kw)
    assert str(info.value).startswith(f"--things must be {wording}, got True; pass ")


def test_check_int_bounds_none_and_error_class() -> None:
    check_int(None, "x", allow_none=True)
    check_int(64, "x", maximum=64)
    for bad in (None, 0, 65):
        with pytest.raises(ConfigError):
            check_int(bad, "x", maximum=64)
    with pytest.raises(InvalidInputError, match="top_k must be a positive integer, got 0; pass e.g. 5"):
        check_int(0, "top_k", hint="pass e.g. 5", error=InvalidInputError)
    with pytest.raises(DataError):
        check_int(-1, "batch size", error=DataError)


def test_parse_int_reads_cli_text_with_the_same_message() -> None:
    assert parse_int(" 12 ", "--n") == 12 and parse_int(None, "--n") is None and parse_int(7, "--n") == 7
    with pytest.raises(ConfigError, match="--n must be a positive integer, got 'abc'; pass e.g. 5"):
        parse_int("abc", "--n", hint="pass e.g. 5")
    with pytest.raises(ConfigError, match="--n must be a positive integer, got 0"):
        parse_int("0", "--n")
    with pytest.raises(ConfigError, match="an integer from 0 to 3"):
        parse_int("4", "--v", minimum=0, maximum=3)
    assert parse_int("-3", "--any", minimum=None) == -3


def test_numbers() -> None:
    check_number(0.5, "--max-drop", minimum=0.0, maximum=100.0)
    for bad in (True, float("inf"), float("nan"), -0.1, "1"):
        with pytest.raises(ConfigError, match="--max-drop must be a number >= 0.0 and <= 100.0"):
            check_number(bad, "--max-drop", minimum=0.0, maximum=100.0)
    with pytest.raises(ConfigError, match="must be a positive number"):
        check_number(0, "--time-budget", minimum=0, exclusive_minimum=True)
    assert parse_number("99.9", "--p") == pytest.approx(99.9) and parse_number(None, "--p") is None
    with pytest.raises(ConfigError, match="--p must be a number, got 'x'"):
        parse_number("x", "--p")


def test_int_lists_and_choices() -> None:
    check_int_list([1, np.int32(8)], "sizes")
    for bad in ([], [0], [True], (1, 2.0), "1,2", None):
        with pytest.raises(ConfigError, match="sizes must be positive integers"):
            check_int_list(bad, "sizes")
    assert parse_int_list("1, 8,32", "--b") == [1, 8, 32]
    with pytest.raises(ConfigError, match="--b must be comma-separated positive integers"):
        parse_int_list("1,x", "--b")
    with pytest.raises(ConfigError, match="--b must be positive integers, got '0,1'"):
        parse_int_list("0,1", "--b")
    with pytest.raises(ConfigError, match="unknown mode 'c'; choose one of: a, b"):
        check_choice("c", "mode", ("a", "b"))

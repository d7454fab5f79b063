"""The kernel bound behind ``int8_ceiling.py --artifact``: each conv class's rate, and the time they add up to."""

from __future__ import annotations

import pytest

from resnet_deploy.bench.conv_classes import bound_ms, class_rate, macs_by_class

RATES = {"3x3@56": 400.0, "3x3@7": 450.0, "1x1@56": 300.0, "1x1@14": 360.0}


def test_a_class_gets_its_own_rate_else_the_best_of_its_kernel_size_else_the_best() -> None:
    assert class_rate("3x3@56", RATES) == 400.0
    assert class_rate("3x3@28", RATES) == 450.0  # no 3x3 chain at 28: the best 3x3 one
    assert class_rate("1x1@7", RATES) == 360.0
    assert class_rate("7x7@112", RATES) == 450.0  # no 7x7 chain at all: the best of any


def test_bound_adds_each_class_at_its_rate() -> None:
    classes = {"3x3@56": 4_000_000_000, "1x1@14": 3_600_000_000, "7x7@112": 450_000_000}
    assert bound_ms(classes, RATES) == pytest.approx(10.0 + 10.0 + 1.0)
    # with every class at the best rate the bound is the floor itself
    assert bound_ms(classes, {"3x3@56": 450.0}) == pytest.approx(sum(classes.values()) / 450e9 * 1e3)


def test_macs_by_class_sums_layers_of_a_class() -> None:
    assert macs_by_class({"a": (5, "1x1@7"), "b": (7, "1x1@7"), "c": (1, "3x3@7")}) == {"1x1@7": 12, "3x3@7": 1}

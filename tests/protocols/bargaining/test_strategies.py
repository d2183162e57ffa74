"""The aspiration curves, the utility, the outcomes and the documented strategies' moves."""

from __future__ import annotations

import math

import pytest

from mabeam import ConfigError
from mabeam.protocols.bargaining import EXPONENTS, AspirationStrategy, Utility, outcomes_of
from mabeam.protocols.bargaining.strategies import aspiration, exponent_of

SELLER = Utility(ideal=10, worst=0)
ZERO_TO_TEN = list(range(11))


def test_utility_is_clipped_and_linear_between_worst_and_ideal() -> None:
    """u(v) = clip((v - worst) / (ideal - worst), 0, 1), in either direction."""
    buyer = Utility(ideal=0, worst=10)
    assert [SELLER(v) for v in (-5, 0, 2.5, 10, 12)] == [0.0, 0.0, 0.25, 1.0, 1.0]
    assert [buyer(v) for v in (-5, 0, 2.5, 10, 12)] == [1.0, 1.0, 0.75, 0.0, 0.0]


def test_flat_utility_is_one_only_at_the_ideal() -> None:
    """ideal == worst (a conflict with equal requests): 1 at the ideal, 0 elsewhere."""
    flat = Utility(ideal=3, worst=3)
    assert (flat(3), flat(3.0), flat(4), flat(2)) == (1.0, 1.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        pytest.param("boulware", 1 - 0.5**4, id="boulware"),
        pytest.param("linear", 0.5, id="linear"),
        pytest.param("conceder", 1 - 0.5**0.25, id="conceder"),
        pytest.param("hardliner", 1.0, id="hardliner"),
    ],
)
def test_aspiration_curves(strategy: str, expected: float) -> None:
    """a(t) = r + (1 - r)(1 - t^x) with x = 4, 1, 0.25, infinity; r = 0 here."""
    assert aspiration(0.5, 0.0, EXPONENTS[strategy]) == pytest.approx(expected)


def test_aspiration_never_goes_below_the_reserved_utility() -> None:
    """With r = 0.4 the curve runs from 1 down towards 0.4, never under it."""
    values = [aspiration(t / 100, 0.4, 1.0) for t in range(1, 100)]
    assert values == sorted(values, reverse=True)
    assert min(values) >= 0.4
    assert aspiration(0.999, 0.4, math.inf) == 1.0


def test_exponent_overrides_the_strategy() -> None:
    """``exponent`` replaces the named curve's exponent; bad ones are refused."""
    assert exponent_of("boulware") == 4.0
    assert exponent_of("boulware", 2) == 2.0
    with pytest.raises(ConfigError, match="exponent"):
        exponent_of("linear", 0)
    with pytest.raises(ConfigError, match="exponent"):
        exponent_of("linear", True)
    with pytest.raises(ConfigError) as error:
        exponent_of("stubborn")
    assert error.value.field == "strategy"
    assert "boulware, linear, conceder, hardliner" in str(error.value)


def test_outcomes_from_a_list_are_sorted_without_repeats() -> None:
    """A list of outcomes is a set of points of the issue."""
    assert outcomes_of([3, 1, 2, 3]) == [1, 2, 3]


@pytest.mark.parametrize(
    ("outcome_range", "step", "expected"),
    [
        pytest.param((0, 10), 1, ZERO_TO_TEN, id="integers"),
        pytest.param((0, 10), 3, [0, 3, 6, 9], id="grid-stops-short-of-hi"),
        pytest.param((0, 0.3), 0.1, [0.0, 0.1, 0.2, 0.3], id="floats-rounded-not-summed"),
        pytest.param((5, 5), 1, [5], id="one-point"),
    ],
)
def test_outcome_range(
    outcome_range: tuple[float, float], step: float, expected: list[float]
) -> None:
    """lo, lo + step, ... up to and including hi where the grid reaches it."""
    assert outcomes_of(outcome_range=outcome_range, outcome_step=step) == expected


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param({}, "outcomes", id="neither"),
        pytest.param({"outcomes": [1], "outcome_range": (0, 1)}, "outcomes", id="both"),
        pytest.param({"outcomes": []}, "outcomes", id="empty"),
        pytest.param({"outcomes": [1, math.nan]}, "outcomes[1]", id="nan"),
        pytest.param({"outcomes": [True]}, "outcomes[0]", id="bool"),
        pytest.param({"outcomes": [10**400]}, "outcomes[0]", id="huge-int"),
        pytest.param({"outcome_range": (2, 1)}, "outcome_range", id="reversed"),
        pytest.param({"outcome_range": (0, 1), "outcome_step": 0}, "outcome_step", id="step"),
    ],
)
def test_bad_outcomes_are_refused(kwargs: dict[str, object], field: str) -> None:
    """A ConfigError names the argument."""
    with pytest.raises(ConfigError) as error:
        outcomes_of(**kwargs)  # type: ignore[arg-type]
    assert error.value.field == field


def test_linear_strategy_offers_the_least_its_aspiration_allows() -> None:
    """Lowest own utility with u >= a(t); at t = 1/11 the seller asks 10, later less."""
    seller = AspirationStrategy(SELLER, ZERO_TO_TEN)
    assert seller.propose(1 / 11) == 10
    assert seller.propose(6 / 11) == 5  # a = 5/11: 0.5 is the least at or above it
    assert seller.respond(5, 6 / 11)
    assert not seller.respond(4, 6 / 11)


def test_ties_go_to_the_smaller_value_and_none_to_the_best() -> None:
    """Equal utilities: the smaller value; nothing good enough: the best outcome."""
    peak = AspirationStrategy(Utility(ideal=20, worst=0), [30, 25, 5])  # 25 and 30 both u = 1
    assert peak.propose(0.5) == 25
    low = AspirationStrategy(SELLER, [1, 2, 3], strategy="hardliner")  # a = 1, best u = 0.3
    assert low.propose(0.5) == 3
    assert low.best == 3


def test_comparisons_are_rounded_to_nine_places() -> None:
    """u = 0.3 meets a(0.7) = 1 - 0.7 (0.30000000000000004) once both are rounded."""
    assert 1 - 0.7 > 0.3
    strategy = AspirationStrategy(Utility(ideal=1, worst=0), [0.3], exponent=1.0)
    assert strategy.respond(0.3, 0.7)
    assert strategy.propose(0.7) == 0.3


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param({"reserved": 1.5}, "reserved", id="reserved"),
        pytest.param({"strategy": "greedy"}, "strategy", id="strategy"),
        pytest.param({"exponent": -1.0}, "exponent", id="exponent"),
    ],
)
def test_bad_strategy_arguments_are_refused(kwargs: dict[str, object], field: str) -> None:
    """A ConfigError names the argument."""
    with pytest.raises(ConfigError) as error:
        AspirationStrategy(SELLER, ZERO_TO_TEN, **kwargs)  # type: ignore[arg-type]
    assert error.value.field == field
    with pytest.raises(ConfigError):
        AspirationStrategy(SELLER, [])

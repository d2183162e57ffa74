"""Satisfaction, concessions, the Nash point and the Pareto frontier."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mabeam.protocols.bargaining import analysis as analysis_module
from mabeam.protocols.bargaining.analysis import analyse, nash_value, pareto_frontier
from mabeam.protocols.bargaining.strategies import Utility, round9

OUTCOMES = list(range(11))
SELLER = [Utility(ideal=10, worst=0)(v) for v in OUTCOMES]
BUYER = [Utility(ideal=0, worst=10)(v) for v in OUTCOMES]


def test_linear_example_analysis() -> None:
    """5 agreed from first offers 10 and 0: each satisfied 0.5, each conceded 0.5; Nash 5;
    with opposed utilities every outcome is Pareto optimal."""
    analysis = analyse(
        OUTCOMES, {"seller": SELLER, "buyer": BUYER}, {}, 5, {"seller": 10, "buyer": 0}
    )
    assert analysis.satisfaction_scores == {"seller": 0.5, "buyer": 0.5}
    assert analysis.concessions == {"seller": 0.5, "buyer": 0.5}
    assert analysis.nash_value == 5
    assert analysis.pareto_frontier == OUTCOMES
    assert analysis.pareto_optimal is True


def test_agent_that_never_offered_conceded_nothing() -> None:
    """Concession is 0 for an agent without an offer."""
    analysis = analyse(OUTCOMES, {"seller": SELLER, "buyer": BUYER}, {}, 5, {"seller": 10})
    assert analysis.concessions == {"seller": 0.5, "buyer": 0.0}


def test_unreported_utilities_leave_nash_and_pareto_unknown() -> None:
    """An agent that did not tell its utilities is left out; Nash and Pareto need all."""
    analysis = analyse(OUTCOMES, {"seller": SELLER, "buyer": None}, {}, 7, {"seller": 9})
    assert analysis.satisfaction_scores == {"seller": 0.7}
    assert analysis.concessions == {"seller": 0.2}
    assert (analysis.nash_value, analysis.pareto_frontier, analysis.pareto_optimal) == (
        None,
        None,
        None,
    )


def test_nash_respects_reserved_utilities_and_ties_to_the_smaller() -> None:
    """Max of the product of (u - r) over outcomes every agent finds acceptable."""
    assert nash_value(OUTCOMES, [SELLER, BUYER], [0.0, 0.0]) == 5
    assert nash_value(OUTCOMES, [SELLER, BUYER], [0.4, 0.0]) == 7  # (0.3)(0.3) at 7
    assert nash_value(OUTCOMES, [SELLER, BUYER], [0.6, 0.6]) is None
    assert nash_value([0, 1], [[1.0, 1.0], [0.5, 0.5]], [0.0, 0.0]) == 0  # a tie


def test_dominated_outcomes_are_off_the_frontier() -> None:
    """Outside both ideals an outcome is worse for both: off the frontier."""
    outcomes = list(range(-2, 13))
    seller = [Utility(ideal=8, worst=0)(v) for v in outcomes]
    buyer = [Utility(ideal=2, worst=10)(v) for v in outcomes]
    assert pareto_frontier(outcomes, [seller, buyer]) == [2, 3, 4, 5, 6, 7, 8]
    three = [*[seller, buyer], [Utility(ideal=12, worst=0)(v) for v in outcomes]]
    # 10 and 11 leave the buyer at 0 like 12, which the third agent prefers.
    assert pareto_frontier(outcomes, three) == [2, 3, 4, 5, 6, 7, 8, 9, 12]
    analysis = analyse(outcomes, {"s": seller, "b": buyer}, {}, 10, {})
    assert analysis.pareto_optimal is False


def _brute_force(vectors: list[tuple[float, ...]]) -> list[int]:
    def dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
        return a != b and all(x >= y for x, y in zip(a, b, strict=True))

    return [k for k, v in enumerate(vectors) if not any(dominates(w, v) for w in vectors)]


@given(
    st.integers(1, 4).flatmap(
        lambda n: st.lists(
            st.tuples(*[st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0])] * n), min_size=1, max_size=30
        )
    )
)
def test_frontier_matches_brute_force(vectors: list[tuple[float, ...]]) -> None:
    """For 1-4 agents, the frontier is exactly the undominated outcomes."""
    outcomes = list(range(len(vectors)))
    utilities = [[v[i] for v in vectors] for i in range(len(vectors[0]))]
    assert pareto_frontier(outcomes, utilities) == _brute_force(vectors)


@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=30))
def test_nash_point_is_on_the_frontier(vectors: list[tuple[float, float]]) -> None:
    """With reserved 0 the Nash point (when the product is positive) is Pareto optimal."""
    outcomes: list[int | float] = list(range(len(vectors)))
    utilities = [[v[0] for v in vectors], [v[1] for v in vectors]]
    point = nash_value(outcomes, utilities, [0.0, 0.0])
    assert isinstance(point, int)
    if math.prod(round9(u) for u in vectors[point]) > 0:
        assert point in pareto_frontier(outcomes, utilities)


def test_large_issues_skip_the_frontier_listing_not_the_verdict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Beyond FRONTIER_LIMIT outcomes the frontier is not listed; pareto_optimal still is."""
    monkeypatch.setattr(analysis_module, "FRONTIER_LIMIT", 5)
    outcomes = list(range(-2, 13))
    seller = [Utility(ideal=8, worst=0)(v) for v in outcomes]
    buyer = [Utility(ideal=2, worst=10)(v) for v in outcomes]
    off = analyse(outcomes, {"s": seller, "b": buyer}, {}, 10, {})
    on = analyse(outcomes, {"s": seller, "b": buyer}, {}, 5, {})
    assert (off.pareto_frontier, off.pareto_optimal) == (None, False)
    assert (on.pareto_frontier, on.pareto_optimal) == (None, True)

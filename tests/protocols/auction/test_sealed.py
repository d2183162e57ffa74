"""The sealed-bid rule: ``PROTOCOLS.md`` "Auctions", first and second price."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mabeam.protocols.auction.sealed import Award, efficiency, is_valid_bid, settle_sealed

AMOUNTS = st.integers(0, 20).map(lambda x: x / 2)  # a coarse grid: ties are frequent
AGENTS = [f"a{i}" for i in range(6)]


@pytest.mark.parametrize(
    ("bids", "rule", "reserve", "expected"),
    [
        pytest.param(
            [("coder", 5.0), ("creative", 8.0), ("reviewer", 3.0)],
            "second_price",
            0.0,
            Award("creative", 5.0, 1),
            id="seed-second-price",
        ),
        pytest.param(
            [("coder", 5.0), ("creative", 8.0)],
            "first_price",
            0.0,
            Award("creative", 8.0, 1),
            id="first-price",
        ),
        pytest.param(
            [("b", 8.0), ("a", 8.0)], "first_price", 0.0, Award("a", 8.0, 1), id="tie-by-id"
        ),
        pytest.param(
            [("a", 8.0), ("b", 3.0)],
            "second_price",
            5.0,
            Award("a", 5.0, 1),
            id="reserve-above-second",
        ),
        pytest.param(
            [("a", 8.0), ("b", 6.0)],
            "second_price",
            5.0,
            Award("a", 6.0, 1),
            id="second-above-reserve",
        ),
        pytest.param(
            [("a", 8.0), ("b", 4.9999999999)],
            "second_price",
            5.0,
            Award("a", 5.0, 1),
            id="second-meets-reserve-after-rounding-pays-max",
        ),
        pytest.param(
            [("a", 8.0), ("b", 8.0)], "second_price", 0.0, Award("a", 8.0, 1), id="tie-second"
        ),
        pytest.param(
            [("a", 8.0)], "second_price", 2.0, Award("a", 2.0, 1), id="single-bid-reserve"
        ),
        pytest.param(
            [("a", 8.0)], "second_price", 0.0, Award("a", 8.0, 1), id="single-bid-no-reserve"
        ),
        pytest.param(
            [("a", 1.0)], "first_price", 2.0, Award(None, None, 1, "no_bids"), id="below-reserve"
        ),
        pytest.param([], "second_price", 0.0, Award(None, None, 1, "no_bids"), id="no-bids"),
        pytest.param(
            [("a", math.nan), ("b", -1.0), ("c", math.inf), ("d", 0.0)],
            "first_price",
            0.0,
            Award("d", 0.0, 1),
            id="only-finite-non-negative",
        ),
        pytest.param(
            [("a", 1.0000000001), ("b", 1.0)],
            "first_price",
            0.0,
            Award("a", 1.0000000001, 1),
            id="rounded-tie-by-id",
        ),
    ],
)
def test_settle_sealed(
    bids: list[tuple[str, float]], rule: str, reserve: float, expected: Award
) -> None:
    """Winner, payment and errors follow the rule, ties by agent id after rounding."""
    assert settle_sealed(bids, rule, reserve) == expected


def test_reserve_compared_after_rounding() -> None:
    """A bid a hair under the reserve (beyond 9 places) still meets it."""
    assert is_valid_bid(4.9999999999, 5.0)
    assert not is_valid_bid(4.99999, 5.0)


@given(st.lists(AMOUNTS, min_size=1, max_size=6), AMOUNTS)
def test_second_price_payment_at_most_winning_bid(amounts: list[float], reserve: float) -> None:
    """In second price the winner never pays more than it bid, nor less than the reserve."""
    award = settle_sealed(list(zip(AGENTS, amounts, strict=False)), "second_price", reserve)
    if award.error is None:
        winning_bid = dict(zip(AGENTS, amounts, strict=False))[award.winner or ""]
        assert award.payment is not None
        assert reserve <= award.payment <= winning_bid
    else:
        assert all(a < reserve for a in amounts)


def _utility(bids: list[float], me: int, valuation: float, reserve: float) -> float:
    award = settle_sealed(list(zip(AGENTS, bids, strict=False)), "second_price", reserve)
    if award.winner != AGENTS[me]:
        return 0.0
    assert award.payment is not None
    return valuation - award.payment


@given(
    st.lists(AMOUNTS, min_size=2, max_size=5),
    st.integers(0, 4),
    AMOUNTS,
    AMOUNTS,
    st.sampled_from([0.0, 2.5]),
)
def test_truthful_bidding_is_never_worse(
    others: list[float], me: int, valuation: float, deviation: float, reserve: float
) -> None:
    """Sealed second price: bidding one's valuation is never worse than any other bid."""
    me = me % len(others)
    truthful, deviating = list(others), list(others)
    truthful[me], deviating[me] = valuation, deviation
    assert _utility(truthful, me, valuation, reserve) >= _utility(deviating, me, valuation, reserve)


@pytest.mark.parametrize(
    ("winner", "valuations", "expected"),
    [
        pytest.param("a", {"a": 8.0, "b": 10.0}, 0.8, id="ratio"),
        pytest.param("a", {"a": 0.0, "b": 0.0}, 1.0, id="all-zero"),
        pytest.param("a", {"b": 10.0}, None, id="winner-unknown"),
    ],
)
def test_efficiency(winner: str, valuations: dict[str, float], expected: float | None) -> None:
    """Efficiency is the winner's valuation over the highest one received."""
    assert efficiency(winner, valuations) == expected

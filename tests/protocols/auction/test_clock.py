"""English and Dutch clocks: ``PROTOCOLS.md`` rules and examples, as pure state machines."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mabeam.protocols.auction.clock import DutchClock, EnglishClock
from mabeam.protocols.auction.sealed import Award


def run_english(
    max_bids: dict[str, float],
    *,
    start: float = 0.0,
    increment: float = 1.0,
    max_rounds: int = 1000,
) -> Award:
    """Drive an english clock with bidders answering truthfully from their max_bid."""
    clock = EnglishClock(
        list(max_bids), starting_price=start, increment=increment, max_rounds=max_rounds
    )
    while True:
        _, price = clock.announce()
        stayed = [a for a in clock.active if round(max_bids[a], 9) >= price]
        award = clock.step(stayed, {a: max_bids[a] for a in clock.active if a not in stayed})
        if award is not None:
            return award


def run_dutch(
    bids: dict[str, float],
    *,
    start: float,
    decrement: float = 1.0,
    reserve: float = 0.0,
    max_rounds: int = 1000,
) -> Award:
    """Drive a dutch clock with bidders accepting the first price <= their bid."""
    clock = DutchClock(
        starting_price=start, decrement=decrement, reserve_price=reserve, max_rounds=max_rounds
    )
    while True:
        announced = clock.announce()
        if isinstance(announced, Award):
            return announced
        _, price = announced
        award = clock.step({a: b for a, b in bids.items() if price <= round(b, 9)})
        if award is not None:
            return award


def test_english_example() -> None:
    """max_bids a=10, b=7, c=4, start 0, increment 1: a wins, pays 8, 9 rounds."""
    assert run_english({"a": 10.0, "b": 7.0, "c": 4.0}) == Award("a", 8.0, 9)


@pytest.mark.parametrize(
    ("max_bids", "kwargs", "expected"),
    [
        pytest.param({"a": 5.0, "b": 5.0}, {}, Award("a", 5.0, 7), id="all-drop-tie-by-id"),
        pytest.param({"b": 5.5, "a": 5.2}, {}, Award("b", 5.0, 7), id="all-drop-highest-max"),
        pytest.param(
            {"a": 0.5, "b": 0.2},
            {"start": 1.0},
            Award(None, None, 1, "no_winning_bid"),
            id="none-at-first-price",
        ),
        pytest.param(
            {"a": 9.0, "b": 9.0},
            {"max_rounds": 3},
            Award(None, None, 3, "auction_timeout"),
            id="timeout",
        ),
        pytest.param({"a": 9.0}, {}, Award("a", 0.0, 1), id="single-bidder"),
        pytest.param(
            {"a": 0.3, "b": 0.25},
            {"increment": 0.1},
            Award("a", 0.3, 4),
            id="prices-are-not-running-sums",
        ),
    ],
)
def test_english_rules(
    max_bids: dict[str, float], kwargs: dict[str, float], expected: Award
) -> None:
    """The english endings: one left, all drop together, none at r=0, out of rounds."""
    assert run_english(max_bids, **kwargs) == expected  # type: ignore[arg-type]


def test_english_prices_are_rounded_products() -> None:
    """p_r = round(start + r * increment, 9), never a running sum."""
    clock = EnglishClock(["a"], starting_price=0.0, increment=0.1)
    assert [clock.price(r) for r in (1, 2, 3, 7)] == [0.1, 0.2, 0.3, 0.7]


@given(
    st.lists(st.integers(0, 40).map(lambda x: x / 4), min_size=2, max_size=6),
    st.sampled_from([0.1, 0.25, 0.5, 1.0, 0.3]),
)
def test_english_price_within_one_increment_of_second_max(
    maxes: list[float], increment: float
) -> None:
    """English ends within one increment of the second-highest max_bid; the highest wins."""
    max_bids = {f"a{i}": m for i, m in enumerate(maxes)}
    award = run_english(max_bids, increment=increment, max_rounds=10_000)
    ranked = sorted(maxes, reverse=True)
    assert award.error is None
    assert award.payment is not None
    assert abs(award.payment - ranked[1]) <= increment + 1e-9
    # the highest max_bid wins, ties by agent id order
    assert award.winner == min(a for a, m in max_bids.items() if m == ranked[0])
    assert award.payment <= ranked[0]


def test_dutch_example() -> None:
    """bids 10, 7, 4, start 12, decrement 1: the 10-bidder wins, pays 10, 3 rounds."""
    assert run_dutch({"a": 10.0, "b": 7.0, "c": 4.0}, start=12.0) == Award("a", 10.0, 3)


@pytest.mark.parametrize(
    ("bids", "kwargs", "expected"),
    [
        pytest.param({"b": 12.0, "a": 12.0}, {"start": 10.0}, Award("a", 10.0, 1), id="tie-by-id"),
        pytest.param(
            {"a": 11.0, "b": 14.0},
            {"start": 10.0},
            Award("b", 10.0, 1),
            id="highest-bid-among-acceptors",
        ),
        pytest.param(
            {"a": 3.0},
            {"start": 10.0, "reserve": 5.0},
            Award(None, None, 6, "no_winning_bid"),
            id="below-reserve",
        ),
        pytest.param(
            {"a": 3.0},
            {"start": 10.0, "max_rounds": 4},
            Award(None, None, 4, "no_winning_bid"),
            id="out-of-rounds",
        ),
        pytest.param(
            {"a": 0.7}, {"start": 1.0, "decrement": 0.1}, Award("a", 0.7, 4), id="rounded-prices"
        ),
    ],
)
def test_dutch_rules(bids: dict[str, float], kwargs: dict[str, float], expected: Award) -> None:
    """Dutch: first acceptance wins at that price; reserve and max_rounds end it unsold."""
    assert run_dutch(bids, **kwargs) == expected  # type: ignore[arg-type]


@given(
    st.lists(st.integers(0, 40).map(lambda x: x / 4), min_size=1, max_size=6),
    st.sampled_from([0.1, 0.25, 1.0]),
)
def test_dutch_highest_bid_wins_within_one_decrement(bids: list[float], decrement: float) -> None:
    """Dutch sells to the highest bid at a price within one decrement below it."""
    by_agent = {f"a{i}": b for i, b in enumerate(bids)}
    award = run_dutch(by_agent, start=10.0, decrement=decrement, max_rounds=10_000)
    assert award.winner == min(a for a, b in by_agent.items() if b == max(bids))
    assert award.payment is not None
    assert max(bids) - decrement - 1e-9 <= award.payment <= max(bids)
    # the first price at or under the highest bid: p_r = round(10 - r * decrement, 9)
    r = award.rounds - 1
    assert award.payment == round(10.0 - r * decrement, 9)
    assert r == 0 or round(10.0 - (r - 1) * decrement, 9) > max(bids)


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        pytest.param({"a": 0.5, "b": 0.9}, Award("b", 0.0, 2), id="honest-highest-wins"),
        pytest.param({"a": 0.5, "b": 7.0}, Award("a", 0.0, 2), id="claim-at-or-above-price"),
        pytest.param({"a": 0.5, "b": 1.0}, Award("a", 0.0, 2), id="claim-equal-to-price"),
        pytest.param({"a": -3.0, "b": 0.0}, Award("a", 0.0, 2), id="claim-below-p_r-1"),
        pytest.param({"a": 7.0, "b": 0.25}, Award("b", 0.0, 2), id="lie-ranks-as-p_r-1"),
        pytest.param({"a": None, "b": None}, Award("a", 0.0, 2), id="kept-private-tie-by-id"),
        pytest.param({"a": None, "b": 0.5}, Award("b", 0.0, 2), id="told-beats-untold"),
        pytest.param({"b": None}, Award("b", 0.0, 2), id="silent-cannot-win"),
        pytest.param({}, Award(None, None, 2, "no_winning_bid"), id="all-silent"),
    ],
)
def test_english_all_drop_together(claims: dict[str, float | None], expected: Award) -> None:
    """All drop together at p_r = 1 after staying at p_0 = 0: the highest max_bid among
    those that answered wins at p_0. Each has 0 <= max_bid < 1 by its own answers, so a
    told max_bid outside that range is not believed: it, and an untold one, count as 0.
    A silent bidder (crashed) cannot win; none answered: no_winning_bid."""
    clock = EnglishClock(["a", "b"], increment=1.0)
    assert clock.step(["a", "b"], {}) is None
    assert clock.step([], claims) == expected

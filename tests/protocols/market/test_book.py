"""The order book core: the worked example, market orders, cancels, bad orders, and
properties against a plain reference model (price-time priority, no crossed book,
quantities conserved, no fill beyond a limit)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mabeam import ConfigError
from mabeam.protocols.market.book import ContinuousMarket, OrderBook, OrderError


def test_worked_example() -> None:
    """PROTOCOLS.md: sells S1 10@101, S2 5@100, S3 5@100, buys B1 8@101, B2 15@102, sell S4 4@99."""
    market = ContinuousMarket()
    steps = [
        ("S1", "sell", 10, 101.0, []),
        ("S2", "sell", 5, 100.0, []),
        ("S3", "sell", 5, 100.0, []),
        ("B1", "buy", 8, 101.0, [("B1", "S2", 5, 100.0), ("B1", "S3", 3, 100.0)]),
        ("B2", "buy", 15, 102.0, [("B2", "S3", 2, 100.0), ("B2", "S1", 10, 101.0)]),
        ("S4", "sell", 4, 99.0, [("B2", "S4", 3, 102.0)]),
    ]
    for agent, side, quantity, price, fills in steps:
        execution = market.submit(agent, 0, side, "cpu", quantity, price, at_ms=1.0)
        assert [(f.buyer, f.seller, f.quantity, f.price) for f in execution.fills] == fills
    book = market.books["cpu"]
    assert (book.bids(), book.asks()) == ([], [("S4", 1, 99.0)])
    assert market.vwap() == {"cpu": round((8 * 100 + 2 * 100 + 10 * 101 + 3 * 102) / 23, 9)}
    assert market.resting("B2", 0) == 0
    assert market.resting("S4", 0) == 1


def test_partly_filled_order_keeps_its_place() -> None:
    book = OrderBook("cpu")
    book.submit(1, "a", "sell", 5, 10.0)
    book.submit(2, "b", "sell", 5, 10.0)
    book.submit(3, "x", "buy", 2, 10.0)
    assert book.asks() == [("a", 3, 10.0), ("b", 5, 10.0)]
    fills = book.submit(4, "y", "buy", 4, 10.0).fills
    assert [(f.seller, f.quantity) for f in fills] == [("a", 3), ("b", 1)]


def test_market_order_rest_is_cancelled_and_never_rests() -> None:
    book = OrderBook("cpu")
    book.submit(1, "a", "sell", 3, 10.0)
    book.submit(2, "b", "sell", 3, 12.0)
    execution = book.submit(3, "x", "buy", 10)
    assert [(f.price, f.quantity) for f in execution.fills] == [(10.0, 3), (12.0, 3)]
    assert (execution.resting, execution.cancelled) == (0, 4)
    assert book.bids() == []
    assert len(book) == 0
    assert book.submit(4, "y", "sell", 2).cancelled == 2  # into an empty book


def test_cancel_takes_the_order_out_and_unknown_ids_are_refused() -> None:
    book = OrderBook("cpu")
    book.submit(1, "a", "buy", 3, 10.0)
    book.submit(2, "b", "buy", 3, 11.0)
    assert book.best_bid() == 11.0
    assert book.cancel(2) == 3
    assert book.best_bid() == 10.0
    assert book.best_ask() is None
    with pytest.raises(OrderError) as caught:
        book.cancel(2)
    assert caught.value.field == "order_id"
    assert book.cancel(1) == 3
    assert book.best_bid() is None
    assert book.bids() == []


def test_an_id_used_again_after_a_cancel_is_a_new_order() -> None:
    """A cancelled order left behind in its level (dropped lazily) never comes back to
    life when its id is used again, at another price or the same."""
    book = OrderBook("cpu")
    book.submit(1, "a", "sell", 2, 10.0)
    book.submit(2, "b", "sell", 2, 10.0)
    assert book.cancel(2) == 2
    book.submit(2, "c", "sell", 1, 11.0)
    book.submit(4, "d", "sell", 1, 10.0)
    assert book.asks() == [("a", 2, 10.0), ("d", 1, 10.0), ("c", 1, 11.0)]
    fills = book.submit(3, "x", "buy", 5, 11.0).fills
    assert [(f.seller, f.sell_order, f.quantity, f.price) for f in fills] == [
        ("a", 1, 2, 10.0),
        ("d", 4, 1, 10.0),
        ("c", 2, 1, 11.0),
    ]
    assert (book.resting(3), len(book), book.best_bid()) == (1, 1, 11.0)


def test_a_cancelled_order_behind_the_front_is_skipped_when_matching_reaches_it() -> None:
    book = OrderBook("cpu")
    for order_id, agent in ((1, "a"), (2, "b"), (3, "c")):
        book.submit(order_id, agent, "buy", 2, 10.0)
    assert book.cancel(2) == 2  # not at the front: left in its level, dropped lazily
    fills = book.submit(4, "s", "sell", 3, 10.0).fills
    assert [(f.buyer, f.buy_order, f.quantity) for f in fills] == [("a", 1, 2), ("c", 3, 1)]
    assert (book.bids(), book.resting(3), 2 in book) == ([("c", 1, 10.0)], 1, False)


@pytest.mark.parametrize(
    ("side", "quantity", "price", "field"),
    [
        ("bid", 1, 1.0, "side"),
        (None, 1, 1.0, "side"),
        ("buy", 0, 1.0, "quantity"),
        ("buy", -1, 1.0, "quantity"),
        ("buy", 1.5, 1.0, "quantity"),
        ("buy", True, 1.0, "quantity"),
        ("buy", 1, math.nan, "price"),
        ("buy", 1, math.inf, "price"),
        ("buy", 1, -1.0, "price"),
        ("buy", 1, "1", "price"),
        ("buy", 1, True, "price"),
        ("buy", 1, 10**400, "price"),
    ],
)
def test_bad_orders_are_refused_and_leave_the_book_untouched(
    side: Any, quantity: Any, price: Any, field: str
) -> None:
    market = ContinuousMarket()
    market.submit("a", 0, "sell", "cpu", 2, 1.0)
    market.submit("b", 0, "buy", "cpu", 2, 0.5)
    before = (market.books["cpu"].bids(), market.books["cpu"].asks(), list(market.trades))
    with pytest.raises(ConfigError) as caught:
        market.submit("c", 0, side, "cpu", quantity, price)
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)
    assert (market.books["cpu"].bids(), market.books["cpu"].asks(), market.trades) == before
    market.submit("c", 0, "buy", "cpu", 1, 1.0)  # the id was not used up by the refusal


def test_market_refuses_bad_resource_reused_id_and_unknown_cancel() -> None:
    market = ContinuousMarket()
    with pytest.raises(OrderError, match="resource"):
        market.submit("a", 0, "buy", "", 1, 1.0)
    assert market.books == {}
    market.submit("a", 0, "buy", "cpu", 1, 1.0)
    with pytest.raises(OrderError, match="already used"):
        market.submit("a", 0, "buy", "cpu", 1, 1.0)
    with pytest.raises(OrderError, match="order_id"):
        market.cancel("a", 7)
    market.submit("b", 0, "sell", "cpu", 1, 1.0)  # fills a's order
    with pytest.raises(OrderError, match="no resting order"):
        market.cancel("a", 0)
    book = OrderBook()
    book.submit(1, "a", "buy", 1, 1.0)
    with pytest.raises(OrderError, match="already in the book"):
        book.submit(1, "a", "buy", 1, 1.0)


# ---------------------------------------------------------------- properties


@dataclass
class _Ref:
    seq: int
    oid: int
    agent: str
    side: str
    price: float
    left: int


def reference(ops: list[tuple[Any, ...]]) -> tuple[list[tuple[str, str, int, float]], list[_Ref]]:
    """Price-time priority, as plainly as possible: scan every resting order each time."""
    resting: list[_Ref] = []
    fills: list[tuple[str, str, int, float]] = []
    for seq, op in enumerate(ops):
        if op[0] == "cancel":
            found = [r for r in resting if r.oid == op[1]]
            if found:
                resting.remove(found[0])
            continue
        _, oid, agent, side, quantity, price = op
        left = quantity
        while left:
            other = [
                r
                for r in resting
                if r.side != side
                and (price is None or (r.price <= price if side == "buy" else r.price >= price))
            ]
            if not other:
                break
            best = min(other, key=lambda r: (r.price if side == "buy" else -r.price, r.seq))
            n = min(left, best.left)
            buyer, seller = (agent, best.agent) if side == "buy" else (best.agent, agent)
            fills.append((buyer, seller, n, best.price))
            left -= n
            best.left -= n
            if not best.left:
                resting.remove(best)
        if left and price is not None:
            resting.append(_Ref(seq, oid, agent, side, price, left))
    return fills, resting


order_ops = st.tuples(
    st.just("order"),
    st.sampled_from(["a", "b", "c"]),
    st.sampled_from(["buy", "sell"]),
    st.integers(1, 5),
    st.one_of(st.none(), st.integers(95, 105).map(float)),
)
ops_strategy = st.lists(
    st.one_of(order_ops, st.tuples(st.just("cancel"), st.integers(0, 30))), max_size=40
)


@settings(max_examples=300, deadline=None)
@given(ops_strategy)
def test_book_matches_the_reference_and_keeps_its_invariants(raw: list[tuple[Any, ...]]) -> None:
    """Same fills and book as the reference; never crossed after an order; fills within
    both limits at the resting price; submitted = filled + resting + cancelled per order."""
    book = OrderBook("cpu")
    ops: list[tuple[Any, ...]] = []
    submitted: dict[int, int] = {}
    filled: dict[int, int] = {}
    cancelled: dict[int, int] = {}
    limits: dict[int, tuple[str, float | None]] = {}
    for i, op in enumerate(raw):
        if op[0] == "cancel":
            ops.append(op)
            if op[1] in book:
                cancelled[op[1]] = cancelled.get(op[1], 0) + book.cancel(op[1])
            else:
                with pytest.raises(OrderError):
                    book.cancel(op[1])
            continue
        _, agent, side, quantity, price = op
        ops.append(("order", i, agent, side, quantity, price))
        submitted[i] = quantity
        limits[i] = (side, price)
        execution = book.submit(i, agent, side, quantity, price)
        cancelled[i] = cancelled.get(i, 0) + execution.cancelled
        for fill in execution.fills:
            for oid in (fill.buy_order, fill.sell_order):
                assert isinstance(oid, int)
                filled[oid] = filled.get(oid, 0) + fill.quantity
            resting_id = fill.sell_order if side == "buy" else fill.buy_order
            assert isinstance(resting_id, int)
            assert fill.price == limits[resting_id][1]
            buy_limit = limits[fill.buy_order][1]  # type: ignore[index]
            sell_limit = limits[fill.sell_order][1]  # type: ignore[index]
            assert buy_limit is None or fill.price <= buy_limit
            assert sell_limit is None or fill.price >= sell_limit
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is None or ask is None or bid < ask
    fills, resting = reference(ops)
    got = [(f.buyer, f.seller, f.quantity, f.price) for f in _all_fills(book, ops)]
    assert got == fills
    expected_bids = sorted((r for r in resting if r.side == "buy"), key=lambda r: (-r.price, r.seq))
    expected_asks = sorted((r for r in resting if r.side == "sell"), key=lambda r: (r.price, r.seq))
    assert book.bids() == [(r.agent, r.left, r.price) for r in expected_bids]
    assert book.asks() == [(r.agent, r.left, r.price) for r in expected_asks]
    for oid, quantity in submitted.items():
        assert filled.get(oid, 0) + book.resting(oid) + cancelled.get(oid, 0) == quantity


def _all_fills(book: OrderBook, ops: list[tuple[Any, ...]]) -> list[Any]:
    """Replay ``ops`` on a fresh book, collecting every fill in order."""
    fresh = OrderBook(book.resource)
    fills: list[Any] = []
    for op in ops:
        if op[0] == "cancel":
            if op[1] in fresh:
                fresh.cancel(op[1])
            continue
        _, oid, agent, side, quantity, price = op
        fills += fresh.submit(oid, agent, side, quantity, price).fills
    return fills


@pytest.mark.slow
@settings(max_examples=5000, deadline=None)
@given(
    st.lists(st.one_of(order_ops, st.tuples(st.just("cancel"), st.integers(0, 120))), max_size=150)
)
def test_book_matches_the_reference_heavy(raw: list[tuple[Any, ...]]) -> None:
    """The reference check on longer sequences, many more of them (make test-slow)."""
    test_book_matches_the_reference_and_keeps_its_invariants.hypothesis.inner_test(raw)  # type: ignore[attr-defined]

"""The call market's clearing core: the worked examples, ties, merging, properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mabeam import ConfigError
from mabeam.protocols.market.call import CallOrder, CallTrade, clear_call, clear_resource


def book(bids: list[float], asks: list[float], resource: str = "cpu") -> list[CallOrder]:
    """One unit per price: buyers b0, b1 ... and sellers s0, s1 ..."""
    buy = [CallOrder(f"b{i}", 0, "buy", resource, 1, p) for i, p in enumerate(bids)]
    return buy + [CallOrder(f"s{i}", 0, "sell", resource, 1, p) for i, p in enumerate(asks)]


def test_uniform_example() -> None:
    """Bids 10, 9, 8, 6, 4 vs asks 3, 5, 7, 8, 11: 3 units at 7.5, gains 12."""
    clearing = clear_call(book([10, 9, 8, 6, 4], [3, 5, 7, 8, 11]), "uniform")
    assert clearing.volume == 3
    assert clearing.clearing_price == {"cpu": 7.5}
    assert clearing.gains_from_trade == 12.0
    assert clearing.surplus == 0.0
    assert [(t.buyer, t.seller, t.price) for t in clearing.trades] == [
        ("b0", "s0", 7.5),
        ("b1", "s1", 7.5),
        ("b2", "s2", 7.5),
    ]


def test_mcafee_examples() -> None:
    """3 units at 7; then a reduction: 2 units, buyers pay 8, sellers get 7, surplus 2."""
    clearing = clear_call(book([10, 9, 8, 6, 4], [3, 5, 7, 8, 11]), "mcafee")
    assert (clearing.volume, clearing.clearing_price) == (3, {"cpu": 7.0})
    assert {(t.price, t.seller_price) for t in clearing.trades} == {(7.0, 7.0)}
    reduced = clear_call(book([10, 9, 8, 2], [3, 5, 7, 20]), "mcafee")
    assert reduced.volume == 2
    assert reduced.clearing_price == {"cpu": 8.0}
    assert {(t.price, t.seller_price) for t in reduced.trades} == {(8.0, 7.0)}
    assert reduced.surplus == 2.0
    assert reduced.gains_from_trade == 11.0  # (10 + 9) - (3 + 5)


def test_mcafee_reduces_when_there_is_no_next_unit() -> None:
    """k = 2 with no third buyer: 1 unit, at b_k and s_k; k = 1 reduced to nothing."""
    clearing = clear_call(book([10, 9], [3, 5, 7]), "mcafee")
    assert clearing.trades == [CallTrade("b0", "s0", "cpu", 1, 9.0, 5.0)]
    assert clearing.surplus == 4.0
    nothing = clear_call(book([10], [3]), "mcafee")
    assert (nothing.trades, nothing.clearing_price, nothing.volume) == ([], {}, 0)


def test_pairwise_trades_each_pair_at_its_midpoint_without_a_clearing_price() -> None:
    clearing = clear_call(book([10, 9, 8, 2], [3, 5, 7, 20]), "pairwise")
    assert [t.price for t in clearing.trades] == [6.5, 7.0, 7.5]
    assert clearing.clearing_price == {}
    assert clearing.volume == 3


def test_uniform_missing_neighbours_drop_out() -> None:
    """Every buyer and seller trades: the interval is [s_k, b_k]."""
    clearing = clear_call(book([10, 8], [3, 6]), "uniform")
    assert clearing.clearing_price == {"cpu": 7.0}


def test_no_trade_is_an_empty_ok_result() -> None:
    for pricing in ("uniform", "mcafee", "pairwise"):
        clearing = clear_call(book([1, 2], [5, 6]), pricing)
        assert (clearing.trades, clearing.volume, clearing.gains_from_trade) == ([], 0, 0.0)
    assert clear_call([], "uniform").trades == []


def test_multi_unit_orders_merge_and_ties_go_by_agent_id_then_index() -> None:
    """Units of one buyer against one seller at one price merge; equal prices by id, index."""
    orders = [
        CallOrder("zed", 0, "buy", "cpu", 2, 10.0),
        CallOrder("amy", 1, "buy", "cpu", 1, 10.0),
        CallOrder("amy", 0, "buy", "cpu", 1, 10.0),
        CallOrder("sam", 0, "sell", "cpu", 5, 1.0),
    ]
    clearing = clear_call(orders, "uniform")
    assert [(t.buyer, t.quantity) for t in clearing.trades] == [("amy", 2), ("zed", 2)]
    assert [(f.buyer, f.buy_index, f.quantity) for f in clearing.fills] == [
        ("amy", 0, 1),
        ("amy", 1, 1),
        ("zed", 0, 2),
    ]
    # [max(s_4, no b_5), min(b_4, s_5)] = [1, 1]: the seller's fifth unit sets the price
    assert clearing.clearing_price == {"cpu": 1.0}


def test_resources_clear_on_their_own_in_name_order_with_totals() -> None:
    orders = book([10], [4], "ram") + book([9], [5], "cpu")
    clearing = clear_call(orders, "uniform")
    assert [t.resource for t in clearing.trades] == ["cpu", "ram"]
    assert clearing.clearing_price == {"cpu": 7.0, "ram": 7.0}
    assert (clearing.volume, clearing.gains_from_trade) == (2, 10.0)
    assert clear_resource(orders, "uniform", "gpu").trades == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"side": "bid"}, "side"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": -2}, "quantity"),
        ({"price": math.inf}, "price"),
        ({"price": None}, "price"),
    ],
)
def test_bad_orders_name_their_field(kwargs: dict[str, object], field: str) -> None:
    order = {"agent": "a", "index": 0, "side": "buy", "resource": "cpu", "quantity": 1}
    with pytest.raises(ConfigError) as caught:
        CallOrder(**{**order, "price": 1.0, **kwargs})  # type: ignore[arg-type]
    assert caught.value.field == field


def test_unknown_pricing_is_refused() -> None:
    with pytest.raises(ConfigError, match="pricing"):
        clear_call(book([1], [1]), "vickrey")


# ---------------------------------------------------------------- properties

prices = st.integers(0, 40).map(lambda p: p / 2)
sides = st.lists(st.tuples(st.integers(1, 4), prices), max_size=8)


def orders_of(bids: list[tuple[int, float]], asks: list[tuple[int, float]]) -> list[CallOrder]:
    buy = [CallOrder(f"b{i % 3}", i, "buy", "cpu", q, p) for i, (q, p) in enumerate(bids)]
    return buy + [CallOrder(f"s{i % 3}", i, "sell", "cpu", q, p) for i, (q, p) in enumerate(asks)]


def efficient_units(orders: list[CallOrder]) -> int:
    """Brute force: expand into units, sort, count b_i >= s_i."""
    bids = sorted(
        (p for o in orders if o.side == "buy" for p in [o.price] * o.quantity), reverse=True
    )
    asks = sorted(p for o in orders if o.side == "sell" for p in [o.price] * o.quantity)
    return sum(1 for b, s in zip(bids, asks, strict=False) if b >= s)


def limits(orders: list[CallOrder]) -> dict[tuple[str, str], list[float]]:
    found: dict[tuple[str, str], list[float]] = {}
    for o in orders:
        found.setdefault((o.agent, o.side), []).append(o.price)
    return found


@settings(max_examples=200, deadline=None)
@given(sides, sides, st.sampled_from(["uniform", "mcafee", "pairwise"]))
def test_properties(
    bids: list[tuple[int, float]], asks: list[tuple[int, float]], pricing: str
) -> None:
    """No trade crosses a limit; uniform and pairwise trade k units, McAfee k or k - 1;
    McAfee keeps a surplus >= 0 (budget balanced or better), nobody pays above its bid."""
    orders = orders_of(bids, asks)
    clearing = clear_call(orders, pricing)
    k = efficient_units(orders)
    for fill in clearing.fills:
        buy = next(
            o for o in orders if (o.agent, o.index, o.side) == (fill.buyer, fill.buy_index, "buy")
        )
        sell = next(
            o
            for o in orders
            if (o.agent, o.index, o.side) == (fill.seller, fill.sell_index, "sell")
        )
        assert fill.price <= buy.price
        assert fill.seller_price >= sell.price
        assert fill.price >= fill.seller_price
    assert sum(t.quantity for t in clearing.trades) == clearing.volume
    assert sum(f.quantity for f in clearing.fills) == clearing.volume
    if pricing == "mcafee":
        assert clearing.volume in (k, max(k - 1, 0))
        assert clearing.surplus >= 0
    else:
        assert clearing.volume == k
        assert clearing.surplus == 0
    for a, b in zip(clearing.trades, clearing.trades[1:], strict=False):
        assert (a.buyer, a.seller, a.price, a.seller_price) != (
            b.buyer,
            b.seller,
            b.price,
            b.seller_price,
        )

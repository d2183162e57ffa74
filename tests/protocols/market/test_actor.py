"""The exchange and trader actors through the library API, on virtual time: orders and
fills travel as messages, bad orders come back as rejections, down agents send nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from structlog.testing import capture_logs

from mabeam import ActorCrashedError, ActorSystem, ConfigError
from mabeam.protocols.market import (
    CallExchange,
    CallMarketResult,
    CombinatorialMarketResult,
    ContinuousExchange,
    ContinuousResult,
    Exchange,
    Fill,
    MarketConfig,
    OrderCancelled,
    OrderError,
    OrderSpec,
    PostedPriceResult,
    TradeEvent,
    TraderAgent,
    create_market,
)
from mabeam.protocols.market.messages import (
    BookSide,
    BundleBid,
    CallForOrders,
    Cancel,
    CloseMarket,
    GetActivity,
    GetBook,
    Orders,
    RunMarket,
    Submit,
    SubmitOrder,
)
from mabeam.runtime import Actor
from mabeam.sim import SimNetwork

pytestmark = pytest.mark.virtual_time

EXAMPLE = {
    "S1": [OrderSpec("sell", "cpu", 10, 101.0, at_ms=0)],
    "S2": [OrderSpec("sell", "cpu", 5, 100.0, at_ms=10)],
    "S3": [OrderSpec("sell", "cpu", 5, 100.0, at_ms=20)],
    "B1": [OrderSpec("buy", "cpu", 8, 101.0, at_ms=30)],
    "B2": [OrderSpec("buy", "cpu", 15, 102.0, at_ms=40)],
    "S4": [OrderSpec("sell", "cpu", 4, 99.0, at_ms=50)],
}


class Collector(Actor):
    """Keeps every message it gets in a list the test holds."""

    def __init__(self, seen: list[Any]) -> None:
        self.seen = seen

    async def receive(self, message: Any) -> None:
        self.seen.append(message)


class Silent(Actor):
    """Never answers in time."""

    async def receive(self, message: Any) -> Any:
        await asyncio.sleep(3600)


class Crashing(Actor):
    async def receive(self, message: Any) -> Any:
        raise RuntimeError("broken trader")


async def traders(
    system: ActorSystem, orders: dict[str, list[OrderSpec]], **kwargs: Any
) -> list[str]:
    for name, mine in orders.items():
        await system.spawn(TraderAgent, name, mine, name=name, **kwargs)
    return list(orders)


async def test_continuous_example_through_actors_over_the_network() -> None:
    """The worked example with orders sent at their at_ms over a 1 ms network; every fill
    reaches both traders as a message and every trade reaches the subscriber."""
    events: list[Any] = []
    async with ActorSystem(transport=SimNetwork(latency_ms=1.0)) as system:
        names = await traders(system, EXAMPLE)
        await system.spawn(Collector, events, name="tape")
        market = await create_market(system, names, pricing_mechanism="continuous_trading")
        await market.subscribe("tape")
        await market.open()
        await asyncio.sleep(0.2)
        book = await market.book("cpu")
        result = await market.close()
        b2 = await market.activity("B2")
        s3 = await market.activity("S3")
        await market.stop()
    assert isinstance(result, ContinuousResult)
    assert [(t.buyer, t.seller, t.quantity, t.price) for t in result.trades] == [
        ("B1", "S2", 5, 100.0),
        ("B1", "S3", 3, 100.0),
        ("B2", "S3", 2, 100.0),
        ("B2", "S1", 10, 101.0),
        ("B2", "S4", 3, 102.0),
    ]
    assert 30.0 <= result.trades[0].at_ms <= 31.0  # sent at 30 ms, plus latency
    assert result.trades[-1].at_ms >= 50.0
    assert result.book == {"cpu": BookSide(bids=[], asks=[("S4", 1, 99.0)])}
    assert (book.bids, book.asks) == ([], [("S4", 1, 99.0)])
    assert result.vwap == {"cpu": round(2316 / 23, 9)}
    assert (result.volume, result.orders_received, result.orders_rejected) == (23, 6, 0)
    assert [(f.counterparty, f.quantity, f.price, f.side) for f in b2.fills] == [
        ("S3", 2, 100.0, "buy"),
        ("S1", 10, 101.0, "buy"),
        ("S4", 3, 102.0, "buy"),
    ]
    assert [(f.counterparty, f.quantity) for f in s3.fills] == [("B1", 3), ("B2", 2)]
    assert [e for e in events if isinstance(e, TradeEvent)] == [
        TradeEvent(t.buyer, t.seller, t.resource, t.quantity, t.price, t.at_ms)
        for t in result.trades
    ]


async def test_bad_orders_are_rejected_by_message_and_leave_the_book_untouched() -> None:
    bad = [
        OrderSpec("bid", "cpu", 1, 10.0),
        OrderSpec("buy", "cpu", 0, 10.0),
        OrderSpec("buy", "cpu", -3, 10.0),
        OrderSpec("buy", "cpu", 1, float("nan")),
        OrderSpec("buy", "", 1, 10.0),
    ]
    async with ActorSystem() as system:
        names = await traders(system, {"seller": [OrderSpec("sell", "cpu", 2, 10.0)], "bad": bad})
        market = await create_market(system, names, pricing_mechanism="continuous_trading")
        with capture_logs() as logs:
            await market.open()
            await asyncio.sleep(0.01)
            with pytest.raises(OrderError) as caught:
                await market.submit("bad", "buy", "cpu", 0, 10.0)
            assert caught.value.field == "quantity"
            with pytest.raises(ConfigError, match="resource"):
                await market.submit("bad", "buy", " ", 1, 10.0)
            await market.cancel("bad", 99)
            await asyncio.sleep(0.01)
            activity = await market.activity("bad")
            book = await market.book("cpu")
            result = await market.close()
    assert [r.field for r in activity.rejected] == [
        "side",
        "quantity",
        "quantity",
        "price",
        "resource",
        "order_id",
    ]
    assert activity.fills == []
    assert (book.bids, book.asks) == ([], [("seller", 2, 10.0)])
    assert (result.trades, result.orders_received, result.orders_rejected) == ([], 1, 6)
    assert sum(1 for entry in logs if entry["event"] == "order_rejected") == 6


async def test_submit_cancel_and_market_orders_from_the_api() -> None:
    async with ActorSystem() as system:
        names = await traders(system, {"a": [], "b": []})
        market = await create_market(
            system, names, pricing_mechanism="continuous_trading", name="x"
        )
        assert market.name == "x"
        await market.open()
        first = await market.submit("a", "sell", "cpu", 5, 10.0)
        second = await market.submit("a", "sell", "cpu", 5, 11.0)
        assert (first, second) == (0, 1)
        await market.cancel("a", second)
        await market.submit("b", "buy", "cpu", 8)  # market order: 5 fill, 3 cancelled
        await asyncio.sleep(0.01)
        a, b = await market.activity("a"), await market.activity("b")
        result = await market.close()
        await market.submit("b", "buy", "cpu", 1, 50.0)  # after the close
        await asyncio.sleep(0.01)
        late = await market.activity("b")
    assert a.cancelled == [OrderCancelled(order_id=1, quantity=5)]
    assert a.fills == [Fill(0, "sell", "cpu", "b", 5, 10.0, 0.0)]
    assert b.cancelled == [OrderCancelled(order_id=0, quantity=3)]
    assert result.book["cpu"] == BookSide(bids=[], asks=[])
    assert late.rejected[-1].field == "market"
    assert "closed" in late.rejected[-1].problem


async def test_a_down_agent_sends_nothing_and_orders_before_opening_are_rejected() -> None:
    async with ActorSystem() as system:
        names = await traders(system, {k: EXAMPLE[k] for k in ("S1", "S2", "B2")})
        market = await create_market(
            system, [*names, "ghost"], pricing_mechanism="continuous_trading"
        )
        ref = system.whereis("S2")
        assert ref is not None
        await ref.stop()
        market.exchange.tell(SubmitOrder("B2", 7, "buy", "cpu", 1, 1.0))
        await asyncio.sleep(0.01)
        early = await market.activity("B2")
        await market.open()
        await asyncio.sleep(0.1)
        result = await market.close()
    assert [(r.order_id, r.field) for r in early.rejected] == [(7, "market")]
    assert "not open" in early.rejected[0].problem
    assert [(t.seller, t.quantity, t.price) for t in result.trades] == [("S1", 10, 101.0)]
    assert result.book["cpu"].bids == [("B2", 5, 102.0)]


async def test_call_market_waits_out_silent_and_crashing_traders_and_tells_fills() -> None:
    orders = {
        f"b{i}": [OrderSpec("buy", "cpu", 1, float(p))] for i, p in enumerate([10, 9, 8, 2], 1)
    } | {f"s{i}": [OrderSpec("sell", "cpu", 1, float(p))] for i, p in enumerate([3, 5, 7, 20], 1)}
    async with ActorSystem() as system:
        names = await traders(system, orders)
        await system.spawn(Silent, name="silent")
        await system.spawn(Crashing, name="crashing")
        market = await create_market(
            system,
            [*names, "silent", "crashing", "nobody"],
            pricing_mechanism="double_auction",
            pricing="mcafee",
            reply_timeout=0.5,
        )
        loop = asyncio.get_running_loop()
        start = loop.time()
        result = await market.clear()
        waited = loop.time() - start
        await asyncio.sleep(0.01)
        b1, s2 = await market.activity("b1"), await market.activity("s2")
    assert waited == pytest.approx(0.5)
    assert isinstance(result, CallMarketResult)
    assert (result.volume, result.clearing_price, result.surplus) == (2, {"cpu": 8.0}, 2.0)
    assert (result.participants, result.orders_received) == (11, 8)
    assert [(f.counterparty, f.price) for f in b1.fills] == [("s1", 8.0)]
    assert [(f.counterparty, f.price, f.side) for f in s2.fills] == [("b2", 7.0, "sell")]


async def test_call_market_takes_submitted_orders_and_cancels_them() -> None:
    async with ActorSystem() as system:
        names = await traders(system, {"a": [OrderSpec("buy", "cpu", 2, 10.0)], "b": []})
        market = await create_market(system, names, pricing_mechanism="double_auction")
        kept = await market.submit("b", "sell", "cpu", 1, 4.0)
        dropped = await market.submit("b", "sell", "cpu", 1, 1.0)
        await market.cancel("b", dropped)
        await market.cancel("b", dropped)  # gone already: rejected
        await market.submit("b", "sell", "cpu", 1)  # a market order: no call takes it
        result = await market.clear()
        b = await market.activity("b")
        with pytest.raises(ConfigError, match="pricing_mechanism"):
            await market.open()
        with pytest.raises(ConfigError, match="pricing_mechanism"):
            await market.close()
    assert kept == 0
    assert isinstance(result, CallMarketResult)
    assert [(t.buyer, t.seller, t.quantity, t.price) for t in result.trades] == [
        ("a", "b", 1, 10.0)
    ]
    assert b.cancelled == [OrderCancelled(order_id=1, quantity=1)]
    assert [r.field for r in b.rejected] == ["order_id", "price"]


async def test_posted_price_and_combinatorial_markets() -> None:
    async with ActorSystem() as system:
        names = await traders(
            system,
            {
                "a": [OrderSpec("buy", "cpu", 3, 5.0)],
                "b": [OrderSpec("buy", "cpu", 3, 5.0), OrderSpec("sell", "cpu", 1, 1.0)],
            },
        )
        posted = await create_market(
            system, names, pricing_mechanism="posted_price", prices={"cpu": 4.0}, supply={"cpu": 4}
        )
        sale = await posted.clear()
        await asyncio.sleep(0.01)
        b = await posted.activity("b")
        await posted.stop()
        for name, bundles in {
            "x1": [{"items": ["A"], "bid": 5.0}],
            "x2": [{"items": ["B"], "bid": 5.0}],
            "x3": [{"items": ["A", "B"], "bid": 8.0}, {"items": ["Z"], "bid": 1.0}],
        }.items():
            await system.spawn(TraderAgent, name, [], bundles, name=name)
        combi = await create_market(
            system,
            ["x1", "x2", "x3"],
            pricing_mechanism="combinatorial_auction",
            payment_rule="vcg",
            items=["A", "B"],
        )
        auction = await combi.clear()
        await asyncio.sleep(0.01)
        x1, x3 = await combi.activity("x1"), await combi.activity("x3")
        empty = await create_market(system, ["a"], pricing_mechanism="combinatorial_auction")
        nothing = await empty.clear()
    assert isinstance(sale, PostedPriceResult)
    assert [(t.buyer, t.quantity, t.price) for t in sale.trades] == [("a", 3, 4.0), ("b", 1, 4.0)]
    assert (sale.revenue, sale.unsold, sale.volume) == ({"cpu": 16.0}, {"cpu": 0}, 4)
    assert [r.field for r in b.rejected] == ["side"]
    assert [(f.quantity, f.counterparty) for f in b.fills] == [(1, "market")]
    assert isinstance(auction, CombinatorialMarketResult)
    assert auction.allocations == {"x1": ["A"], "x2": ["B"]}
    assert auction.payments == {"x1": 3.0, "x2": 3.0}
    assert auction.total_value == 10.0
    assert x1.fills == [Fill(0, "buy", "A", "market", 1, 3.0, 0.0)]
    assert [r.field for r in x3.rejected] == ["bundles.items"]
    assert isinstance(nothing, CombinatorialMarketResult)
    assert nothing.error == "no_bids"


async def test_bad_options_are_refused_by_name() -> None:
    async with ActorSystem() as system:
        await traders(system, {"a": []})
        cases: list[tuple[dict[str, Any], str]] = [
            ({"pricing_mechanism": "barter"}, "pricing_mechanism"),
            ({"pricing_mechanism": "double_auction", "pricing": "vickrey"}, "pricing"),
            ({"pricing_mechanism": "posted_price", "prices": {"cpu": -1.0}}, "prices.cpu"),
            ({"pricing_mechanism": "posted_price", "supply": {"cpu": 1.5}}, "supply.cpu"),
            ({"pricing_mechanism": "double_auction", "reply_timeout": 0}, "reply_timeout"),
            ({"pricing_mechanism": "double_auction", "time_budget": -1.0}, "time_budget"),
        ]
        for kwargs, field in cases:
            with pytest.raises(ConfigError) as caught:
                await create_market(system, ["a"], **kwargs)
            assert caught.value.field == field
        wrong: list[tuple[Any, str]] = [
            ("a", "traders"),
            (["a", "a"], "traders[1]"),
            ([""], "traders[0]"),
        ]
        for traders_arg, field in wrong:
            with pytest.raises(ConfigError) as caught:
                await create_market(system, traders_arg, pricing_mechanism="double_auction")
            assert caught.value.field == field
        first = await create_market(system, ["a"], pricing_mechanism="continuous_trading")
        second = await create_market(system, ["a"], pricing_mechanism="continuous_trading")
        assert (first.name, second.name) == ("market", "market-2")
        with pytest.raises(ConfigError, match="pricing_mechanism"):
            await first.clear()
        with pytest.raises(ConfigError, match="agent"):
            await first.activity("nobody")


@pytest.mark.parametrize(
    ("mechanism", "kind"),
    [
        ("double_auction", CallExchange),
        ("posted_price", CallExchange),
        ("combinatorial_auction", CallExchange),
        ("continuous_trading", ContinuousExchange),
    ],
)
def test_exchange_is_the_mechanisms_actor(mechanism: str, kind: type[Exchange]) -> None:
    """Exchange(traders, config) makes the mechanism's exchange, still an Exchange."""
    exchange = Exchange(["a"], MarketConfig(pricing_mechanism=mechanism))
    assert type(exchange) is kind
    assert isinstance(exchange, Exchange)
    assert exchange.traders == ["a"]


def test_a_mechanisms_exchange_refuses_the_other_mechanism() -> None:
    """CallExchange and ContinuousExchange name pricing_mechanism when given the other's."""
    with pytest.raises(ConfigError) as caught:
        CallExchange(["a"], MarketConfig(pricing_mechanism="continuous_trading"))
    assert caught.value.field == "pricing_mechanism"
    with pytest.raises(ConfigError) as caught:
        ContinuousExchange(["a"], MarketConfig(pricing_mechanism="posted_price"))
    assert caught.value.field == "pricing_mechanism"


async def test_the_wrong_mechanisms_message_fails_naming_the_mechanism() -> None:
    """A call exchange does not open or close; a continuous one has no call."""
    async with ActorSystem() as system:
        call = await create_market(system, [], pricing_mechanism="double_auction")
        book = await create_market(system, [], pricing_mechanism="continuous_trading")
        for exchange, message in ((call, CloseMarket()), (book, RunMarket())):
            with pytest.raises(ActorCrashedError) as caught:
                await exchange.exchange.ask(message)
            assert isinstance(caught.value.__cause__, OrderError)
            assert caught.value.__cause__.field == "pricing_mechanism"


def test_the_shells_stay_importable_from_actor() -> None:
    """mabeam.protocols.market.actor re-exports the shells from their own modules."""
    from mabeam.protocols.market import actor

    assert actor.Exchange is Exchange
    assert actor.CallExchange is CallExchange
    assert actor.ContinuousExchange is ContinuousExchange
    assert actor.TraderAgent is TraderAgent


class Liar(Actor):
    """Answers the call with nonsense orders and bundles, then sends nonsense orders."""

    async def receive(self, message: Any) -> Any:
        if isinstance(message, CallForOrders):
            return Orders(
                agent="liar",
                orders=[
                    "buy",  # type: ignore[list-item]
                    OrderSpec("buy", "cpu", 1, 10.0, at_ms="soon"),  # type: ignore[arg-type]
                    OrderSpec("buy", "cpu", 1, 10.0, at_ms=-1.0),
                    OrderSpec("buy", "cpu", 1, 10.0),
                ],
                bundles=[
                    "A",  # type: ignore[list-item]
                    BundleBid(items=["A", "A"], bid=1.0),
                    BundleBid(items=["A"], bid=float("inf")),
                    BundleBid(items=["A"], bid=None),  # type: ignore[arg-type]
                ],
            )
        return None


async def test_nonsense_from_a_trader_is_rejected_never_crashing_the_exchange() -> None:
    seen: list[Any] = []
    async with ActorSystem() as system:
        await system.spawn(Liar, name="liar")
        await system.spawn(TraderAgent, "s", [OrderSpec("sell", "cpu", 1, 1.0)], name="s")
        call = await create_market(system, ["liar", "s"], pricing_mechanism="double_auction")
        with capture_logs() as logs:
            result = await call.clear()
        combi = await create_market(system, ["liar"], pricing_mechanism="combinatorial_auction")
        with capture_logs() as more:
            auction = await combi.clear()
        book = await create_market(system, ["s"], pricing_mechanism="continuous_trading")
        await system.spawn(Collector, seen, name="odd")
        await book.open()
        odd = system.whereis("odd")
        assert odd is not None
        await book.exchange.ask(GetBook("cpu"))
        book.exchange.tell(SubmitOrder(["x"], 0, "buy", "cpu", 1, 1.0))  # type: ignore[arg-type]
        book.exchange.tell(SubmitOrder("x", "0", "buy", "cpu", 1, 1.0))  # type: ignore[arg-type]
        closed = await book.close()
    assert isinstance(result, CallMarketResult)
    assert (result.volume, result.orders_received) == (1, 2)
    fields = [e["field"] for e in logs if e["event"] == "order_rejected"]
    assert fields == ["orders", "at_ms", "at_ms"]
    assert isinstance(auction, CombinatorialMarketResult)
    assert auction.allocations == {}
    assert [e["field"] for e in more if e["event"] == "order_rejected"] == [
        "bundles",
        "bundles.items",
        "bundles.bid",
        "bundles.bid",
    ]
    assert closed.orders_rejected == 2
    assert closed.trades == []


async def test_a_trade_with_a_trader_gone_down_still_fills_the_other_side() -> None:
    """The exchange tells each side its fill by name: a resting order's trader that
    stopped gets nothing (its fill is a dead letter), its counterparty its fill, the trade
    is recorded; and a buyer gone when its own order executes costs the seller nothing."""
    async with ActorSystem() as system:
        names = await traders(system, {"a": [], "b": [], "c": []})
        market = await create_market(system, names, pricing_mechanism="continuous_trading")
        await market.open()
        await market.submit("a", "sell", "cpu", 2, 10.0)
        await market.submit("c", "buy", "cpu", 1, 9.0)
        for gone in ("a", "c"):
            ref = system.whereis(gone)
            assert ref is not None
            await ref.stop()
        await market.submit("b", "buy", "cpu", 2, 10.0)  # fills a's order, a is down
        market.exchange.tell(SubmitOrder("c", 7, "buy", "cpu", 1, 12.0))  # c is down
        await market.submit("b", "sell", "cpu", 1, 9.0)  # fills c's best bid, 12
        await asyncio.sleep(0.01)
        b = await market.activity("b")
        result = await market.close()
        letters = [
            (d.recipient, d.sender, d.reason, type(d.message).__name__, d.message.order_id)
            for d in system.dead_letters.recent
            if isinstance(d.message, Fill)
        ]
    # the down traders' fills are not dropped silently: dead letters from the exchange
    assert letters == [
        ("a", "market", "no_such_name", "Fill", 0),
        ("c", "market", "no_such_name", "Fill", 7),
    ]
    assert [(f.order_id, f.side, f.counterparty, f.quantity) for f in b.fills] == [
        (0, "buy", "a", 2),
        (1, "sell", "c", 1),
    ]
    assert [(t.buyer, t.seller, t.quantity, t.price) for t in result.trades] == [
        ("b", "a", 2, 10.0),
        ("c", "b", 1, 12.0),
    ]
    assert result.book["cpu"] == BookSide(bids=[("c", 1, 9.0)], asks=[])


async def test_a_trader_sends_by_name_and_what_finds_nobody_is_a_dead_letter() -> None:
    """Orders and cancellations for an exchange that is not running, and fills forwarded
    to a listener that is down, become dead letters from the trader, never silent drops."""
    async with ActorSystem() as system:
        trader = await system.spawn(TraderAgent, "t", listener="gone", name="t")
        order = OrderSpec("buy", "cpu", 1, 5.0)
        order_id = await trader.ask(Submit(exchange="nowhere", order=order))
        await trader.ask(Cancel(exchange="nowhere", order_id=order_id))
        trader.tell(Fill(order_id, "buy", "cpu", "s", 1, 5.0, 0.0))
        await trader.ask(GetActivity())
        letters = [
            (d.recipient, d.sender, d.reason, type(d.message).__name__)
            for d in system.dead_letters.recent
        ]
    assert letters == [
        ("nowhere", "t", "no_such_name", "SubmitOrder"),
        ("nowhere", "t", "no_such_name", "CancelOrder"),
        ("gone", "t", "no_such_name", "Fill"),
    ]

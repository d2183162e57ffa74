"""Markets at scale: the limit order book with 100,000 random limit orders (20% of them
crossing the spread, two sides, one resource, seeded), through the book core alone and
through the exchange actor, against the plain tell throughput of the same run; and a
call market (uniform double auction) among 10,000 trader actors.

Through the actor, the orders are told to the :class:`Exchange` (open for continuous
trading) from application code; every fill is told to both traders (100 counting
actors). Like the plain tells, it is counted to completion: the clock stops when the
exchange has answered an ask queued behind the last order *and* every trader has
handled all its fills (an ask to each, counts checked). The baseline is the same number
of plain tells to one counting actor, answered by an ask. A third contender, the
*messaging floor*, is the exchange's traffic without the exchange: an actor that
receives the same orders and tells the same fills (precomputed) to the same traders,
so ``actor_over_floor`` is the share of the time spent on messages the protocol
must send, whatever the book costs. ``book_bound_over_plain_tell`` needs no run of its
own: an exchange receives every order (at best as cheaply as a plain tell) and runs the
book on it, one after the other on one thread, so even one that sent no fill at all
could reach at most plain / (plain + core). The call market is compared with one plain
ask to each of the same number of idle actors (the exchange asks every trader for its
orders once). All run on the default asyncio loop, without a network.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from mabeam import Actor, ActorSystem
from mabeam.protocols.market import OrderBook, OrderSpec, TraderAgent, create_market
from mabeam.protocols.market.messages import Fill, GetBook, SubmitOrder

from ._common import (
    Json,
    best_of_rounds,
    check,
    progress,
    ratio,
    scaled,
    throughput,
    timer,
    verdict,
)

ORDERS = 100_000
CROSSING = 0.2
TRADERS = 100
CALL_AGENTS = 10_000


def _orders(n: int, seed: int = 1) -> list[tuple[int, str, str, int, float]]:
    """(id, agent, side, quantity, price): quotes around 100, 20% priced through the spread."""
    rng = random.Random(seed)
    orders = []
    for i in range(n):
        side = "buy" if rng.random() < 0.5 else "sell"
        crossing = rng.random() < CROSSING
        if side == "buy":
            price = rng.uniform(100.0, 102.0) if crossing else rng.uniform(95.0, 100.0)
        else:
            price = rng.uniform(98.0, 100.0) if crossing else rng.uniform(100.0, 105.0)
        orders.append((i, f"t{i % TRADERS}", side, rng.randint(1, 10), round(price, 2)))
    return orders


def _core(orders: list[tuple[int, str, str, int, float]]) -> tuple[float, int]:
    book = OrderBook("cpu")
    submit = book.submit
    fills = 0
    started = timer()
    for order_id, agent, side, quantity, price in orders:
        fills += len(submit(order_id, agent, side, quantity, price).fills)
    return timer() - started, fills


class _Counter(Actor):
    def __init__(self) -> None:
        self.count = 0

    async def receive(self, message: Any) -> Any:
        self.count += 1
        return self.count


class _Idle(Actor):
    async def receive(self, message: Any) -> Any:
        return None


_IDLE_RESOURCE = "none"
"""The exchange answers ``GetBook`` of a resource nobody trades at once: the ask that marks
the end of the orders costs no more than the plain tells' final ask."""

FillPlan = list[tuple[tuple[str, int, str, int, int, float], ...]]
"""Per order: (buyer, buy id, seller, sell id, quantity, price) of each fill it makes
(tuples: the garbage collector untracks them, so the plan does not slow the other runs)."""


def _fill_plan(orders: list[tuple[int, str, str, int, float]]) -> tuple[FillPlan, int]:
    """The fills each order makes (from the core), for the messaging floor; and their count."""
    book = OrderBook("cpu")
    plan: FillPlan = []
    for order_id, agent, side, quantity, price in orders:
        made = []
        for f in book.submit(order_id, agent, side, quantity, price).fills:
            assert isinstance(f.buy_order, int)
            assert isinstance(f.sell_order, int)
            made.append((f.buyer, f.buy_order, f.seller, f.sell_order, f.quantity, f.price))
        plan.append(tuple(made))
    return plan, sum(len(made) for made in plan)


async def _count_to_completion(system: ActorSystem, names: list[str]) -> int:
    """Every trader's count once it has handled what it was told (an ask each, at once)."""
    refs = [system.whereis(name) for name in names]
    counts: list[int] = await asyncio.gather(*(ref.ask(None, timeout=None) for ref in refs if ref))
    return sum(counts) - len(names)  # the asks counted themselves


async def _actor(orders: list[tuple[int, str, str, int, float]], fills: int) -> float:
    async with ActorSystem() as system:
        names = [f"t{i}" for i in range(TRADERS)]
        for name in names:
            await system.spawn(_Counter, name=name)
        market = await create_market(system, names, pricing_mechanism="continuous_trading")
        await market.open()
        messages = [SubmitOrder(a, i, s, "cpu", q, p) for i, a, s, q, p in orders]
        tell = market.exchange.tell
        started = timer()
        for message in messages:
            tell(message)
        await market.exchange.ask(GetBook(_IDLE_RESOURCE), timeout=None)
        told = await _count_to_completion(system, names)
        seconds = timer() - started
        result = await market.close()
    assert result.orders_received == len(orders)
    # each trader also got the StartTrading of market.open()
    assert told - len(names) == 2 * fills == 2 * len(result.trades), (told, fills)
    return seconds


class _Floor(Actor):
    """The exchange's messages without its book: each order's fills, told as the exchange
    tells them (a :class:`Fill` to the buyer and one to the seller, looked up by name)."""

    def __init__(self, plan: FillPlan) -> None:
        self.plan = plan

    async def receive(self, message: Any) -> Any:
        if type(message) is SubmitOrder:
            whereis = self.context.whereis
            for buyer, b_id, seller, s_id, quantity, price in self.plan[message.order_id]:
                ref = whereis(buyer)
                if ref is not None:
                    ref.tell(Fill(b_id, "buy", "cpu", seller, quantity, price, 0.0))
                ref = whereis(seller)
                if ref is not None:
                    ref.tell(Fill(s_id, "sell", "cpu", buyer, quantity, price, 0.0))
        return None


async def _floor(orders: list[tuple[int, str, str, int, float]], plan: FillPlan) -> float:
    async with ActorSystem() as system:
        names = [f"t{i}" for i in range(TRADERS)]
        for name in names:
            await system.spawn(_Counter, name=name)
        floor = await system.spawn(_Floor, plan)
        messages = [SubmitOrder(a, i, s, "cpu", q, p) for i, a, s, q, p in orders]
        tell = floor.tell
        started = timer()
        for message in messages:
            tell(message)
        await floor.ask(None, timeout=None)
        told = await _count_to_completion(system, names)
        seconds = timer() - started
    assert told == 2 * sum(len(fills) for fills in plan)
    return seconds


async def _plain_tell(n: int) -> float:
    async with ActorSystem() as system:
        ref = await system.spawn(_Counter)
        tell = ref.tell
        started = timer()
        for i in range(n):
            tell(i)
        handled = await ref.ask(None, timeout=None)
        seconds = timer() - started
    assert handled == n + 1
    return seconds


async def _call(agents: int) -> float:
    rng = random.Random(2)
    async with ActorSystem() as system:
        names = [f"a{i}" for i in range(agents)]
        for i, name in enumerate(names):
            side = "buy" if i % 2 else "sell"
            order = OrderSpec(side, "cpu", rng.randint(1, 5), round(rng.uniform(90, 110), 2))
            await system.spawn(TraderAgent, name, [order], name=name)
        market = await create_market(
            system, names, pricing_mechanism="double_auction", reply_timeout=60.0
        )
        started = timer()
        result = await market.clear()
        seconds = timer() - started
    assert result.orders_received == agents  # type: ignore[union-attr]
    return seconds


async def _plain_ask(agents: int) -> float:
    async with ActorSystem() as system:
        refs = [await system.spawn(_Idle) for _ in range(agents)]
        started = timer()
        await asyncio.gather(*(ref.ask(i, timeout=60.0) for i, ref in enumerate(refs)))
        return timer() - started


def run(quick: bool) -> Json:
    n = scaled(ORDERS, quick)
    agents = scaled(CALL_AGENTS, quick)
    orders = _orders(n)
    plan, fills = _fill_plan(orders)
    best = best_of_rounds(
        {
            "core": lambda: {"seconds": _core(orders)[0]},
            "actor": lambda: {"seconds": asyncio.run(_actor(orders, fills))},
            "floor": lambda: {"seconds": asyncio.run(_floor(orders, plan))},
            "plain_tell": lambda: {"seconds": asyncio.run(_plain_tell(n))},
            "call": lambda: {"seconds": asyncio.run(_call(agents))},
            "call_plain": lambda: {"seconds": asyncio.run(_plain_ask(agents))},
        },
        repeats=1 if quick else 3,
        label="market",
    )
    core = throughput(n, best["core"]["seconds"])
    actor = throughput(n, best["actor"]["seconds"])
    plain = throughput(n, best["plain_tell"]["seconds"])
    floor = throughput(n, best["floor"]["seconds"])
    actor_share = ratio(best["plain_tell"]["seconds"], best["actor"]["seconds"])
    progress(
        f"market: core {core['per_second']}/s, actor {actor['per_second']}/s, "
        f"floor {floor['per_second']}/s, plain tell {plain['per_second']}/s"
    )
    return {
        "order_book": {
            "what": (
                f"{n} random limit orders, {int(CROSSING * 100)}% crossing, one resource, "
                f"{fills} fills"
            ),
            "core": core,
            "exchange_actor": actor,
            "plain_tell": plain,
            "messaging_floor": {
                **floor,
                "what": (
                    f"the same {n} orders and {2 * fills} fill messages through an actor "
                    "with no book (fills precomputed): what the exchange cannot beat"
                ),
            },
            "ratios": {
                "meaning": (
                    "orders/s through the exchange actor over plain tells/s (the target); "
                    "the messaging floor over plain tells/s (the best any exchange could "
                    "do on this runtime, sending every fill); the exchange over its floor; "
                    "plain tells over plain tells plus the book core (the most an exchange "
                    "could reach that received every order and sent no fill)"
                ),
                "actor_over_plain_tell": actor_share,
                "floor_over_plain_tell": ratio(
                    best["plain_tell"]["seconds"], best["floor"]["seconds"]
                ),
                "actor_over_floor": ratio(best["floor"]["seconds"], best["actor"]["seconds"]),
                "book_bound_over_plain_tell": ratio(
                    best["plain_tell"]["seconds"],
                    best["plain_tell"]["seconds"] + best["core"]["seconds"],
                ),
            },
            **verdict(
                [
                    check("core orders/s", core["per_second"], ">=", 100_000),
                    check("actor share of plain tell", actor_share, ">=", 0.3),
                ]
            ),
        },
        "call_market": {
            "what": f"uniform double auction among {agents} trader actors, one order each",
            "seconds": round(best["call"]["seconds"], 6),
            "plain_ask_seconds": round(best["call_plain"]["seconds"], 6),
            "ratios": {
                "meaning": "wall time over wall time: the call over one plain ask to each agent",
                "call_over_plain_ask": ratio(
                    best["call"]["seconds"], best["call_plain"]["seconds"]
                ),
            },
        },
    }

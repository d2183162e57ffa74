"""Markets at scale: the limit order book with 100,000 random limit orders (20% of them
crossing the spread, two sides, one resource, seeded), through the book core alone and
through the exchange actor, against the plain tell throughput of the same run; and a
call market (uniform double auction) among 10,000 trader actors.

Through the actor, the orders are told to the :class:`Exchange` (open for continuous
trading) from application code, and an ask queued behind them waits for the last one to
be handled; every fill is told to both traders (100 counting actors). The baseline is
the same number of plain tells to a counting actor. The call market is compared with
one plain ask to each of the same number of idle actors (the exchange asks every
trader for its orders once). Both run on the default asyncio loop, without a network.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from mabeam import Actor, ActorSystem
from mabeam.protocols.market import OrderBook, OrderSpec, TraderAgent, create_market
from mabeam.protocols.market.messages import GetBook, SubmitOrder

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


async def _actor(orders: list[tuple[int, str, str, int, float]]) -> float:
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
        await market.exchange.ask(GetBook("cpu"), timeout=None)
        seconds = timer() - started
        result = await market.close()
    assert result.orders_received == len(orders)
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
    fills = _core(orders)[1]
    best = best_of_rounds(
        {
            "core": lambda: {"seconds": _core(orders)[0]},
            "actor": lambda: {"seconds": asyncio.run(_actor(orders))},
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
    actor_share = ratio(best["plain_tell"]["seconds"], best["actor"]["seconds"])
    progress(f"market: core {core['per_second']}/s, actor {actor['per_second']}/s")
    return {
        "order_book": {
            "what": (
                f"{n} random limit orders, {int(CROSSING * 100)}% crossing, one resource, "
                f"{fills} fills"
            ),
            "core": core,
            "exchange_actor": actor,
            "plain_tell": plain,
            "ratios": {
                "meaning": "orders/s through the exchange actor over plain tells/s",
                "actor_over_plain_tell": actor_share,
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

"""Auctions at scale: a sealed-bid auction among 10,000 bidder actors, an English clock
among 1,000 bidders over 100 rounds, and combinatorial winner determination.

The actor auctions are compared with the plain tell throughput of the same run: the
same number of messages as a ping-pong of plain tells between a coordinator and the same
number of actors (one message out, one back, per bidder and round), so the ratio is the
price of ask with a reply timeout, the result Structs and the auction's bookkeeping. The
auctioneer asks each round of every bidder at once with ``ask_all`` (one timer, no task
per bidder). Both run on the default asyncio loop, without a network model. Issue 18's
targets for the sealed-bid auction among 10,000 bidders: under 0.4 s, and at most 2.5x
the same messages as plain tells.

Winner determination (HiGHS through ``scipy.optimize.milp``, exact, with the tie-break)
is timed on random instances: bundles of 1 to 5 items, roughly additive values with
noise, two bundles per agent (XOR). Issue targets: 20 items / 200 bids under 1 s, 64
items / 1,000 bids under 5 s.
"""

from __future__ import annotations

import asyncio
import random
import statistics
from typing import Any

from mabeam import Actor, ActorRef, ActorSystem
from mabeam.protocols.auction import BidderAgent, run_auction
from mabeam.protocols.auction.combinatorial import (
    BundleOffer,
    determine_winners,
    settle_combinatorial,
)

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

SEALED_BIDDERS = 10_000
ENGLISH_BIDDERS = 1_000
ENGLISH_ROUNDS = 100
WDP_SEEDS = (1, 2, 3)


class _Echo(Actor):
    async def receive(self, message: Any) -> None:
        sender = self.context.sender
        assert sender is not None
        sender.tell(message)


class _PingPong(Actor):
    """Tells every agent a message per round and waits for all the answers."""

    def __init__(self, agents: list[ActorRef], rounds: int, done: asyncio.Future[None]) -> None:
        self.agents, self.rounds, self.done = agents, rounds, done
        self.answers = self.round = 0

    async def receive(self, message: Any) -> None:
        if message != "go":
            self.answers += 1
            if self.answers < len(self.agents):
                return
            self.answers = 0
            self.round += 1
            if self.round == self.rounds:
                self.done.set_result(None)
                return
        for agent in self.agents:
            agent.tell(self.round)


async def _plain(agents: int, rounds: int) -> float:
    async with ActorSystem() as system:
        refs = [await system.spawn(_Echo) for _ in range(agents)]
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        coordinator = await system.spawn(_PingPong, refs, rounds, done)
        started = timer()
        coordinator.tell("go")
        await done
        return timer() - started


async def _sealed(bidders: int) -> float:
    rng = random.Random(1)
    async with ActorSystem() as system:
        names = [f"b{i}" for i in range(bidders)]
        for name in names:
            await system.spawn(BidderAgent, name, bid=round(rng.uniform(0, 100), 2), name=name)
        started = timer()
        result = await run_auction(
            system, "x", names, payment_rule="second_price", reply_timeout=60.0
        )
        seconds = timer() - started
    assert result.ok
    assert result.bids_received == bidders
    return seconds


async def _english(bidders: int, rounds: int) -> float:
    """Everyone stays until price rounds - 1, where all but the top bidder drop."""
    async with ActorSystem() as system:
        names = [f"b{i}" for i in range(bidders)]
        for i, name in enumerate(names):
            top = rounds - 0.5 if i == 0 else rounds - 1.5
            await system.spawn(BidderAgent, name, max_bid=top, name=name)
        started = timer()
        result = await run_auction(
            system, "x", names, auction_type="english", increment=1.0, reply_timeout=60.0
        )
        seconds = timer() - started
    assert result.ok
    assert (result.rounds, result.winner) == (rounds, "b0")
    return seconds


def _offers(n_items: int, n_bids: int, seed: int) -> list[BundleOffer]:
    rng = random.Random(seed)
    items = [f"i{k}" for k in range(n_items)]
    base = {item: rng.uniform(1, 10) for item in items}
    offers = []
    for b in range(n_bids):
        chosen = rng.sample(items, rng.choice([1, 2, 2, 3, 3, 4, 5]))
        bid = round(sum(base[i] for i in chosen) * rng.uniform(0.8, 1.3), 2)
        offers.append(BundleOffer(f"a{b // 2:04d}", b % 2, tuple(chosen), bid))
    return offers


def _wdp(n_items: int, n_bids: int, seeds: tuple[int, ...], bound: float, *, vcg: bool) -> Json:
    times, vcg_times = [], []
    for seed in seeds:
        offers = _offers(n_items, n_bids, seed)
        started = timer()
        allocation = determine_winners(offers, time_budget=60.0)
        times.append(timer() - started)
        assert allocation.optimal
        progress(f"auction wdp {n_items}x{n_bids} seed {seed}: {times[-1]:.3f} s")
        if vcg:
            started = timer()
            settle_combinatorial(offers, "vcg", time_budget=60.0)
            vcg_times.append(timer() - started)
    figures: Json = {
        "what": f"exact winner determination, {n_items} items, {n_bids} bundle bids",
        "seeds": list(seeds),
        "seconds": [round(t, 4) for t in times],
        "median_seconds": round(statistics.median(times), 4),
        "max_seconds": round(max(times), 4),
    }
    if vcg:
        figures["vcg_seconds"] = [round(t, 4) for t in vcg_times]
    figures.update(verdict([check("max seconds", round(max(times), 4), "<=", bound)]))
    return figures


def run(quick: bool) -> Json:
    sealed_n = scaled(SEALED_BIDDERS, quick)
    english_n = scaled(ENGLISH_BIDDERS, quick)
    rounds = ENGLISH_ROUNDS if not quick else 10
    best = best_of_rounds(
        {
            "sealed": lambda: {"seconds": asyncio.run(_sealed(sealed_n))},
            "sealed_plain": lambda: {"seconds": asyncio.run(_plain(sealed_n, 1))},
            "english": lambda: {"seconds": asyncio.run(_english(english_n, rounds))},
            "english_plain": lambda: {"seconds": asyncio.run(_plain(english_n, rounds))},
        },
        repeats=1 if quick else 3,
        label="auction",
    )
    sealed_messages = 2 * sealed_n
    english_messages = 2 * english_n * rounds  # every bidder stays until the last round
    sealed_over_plain = ratio(best["sealed"]["seconds"], best["sealed_plain"]["seconds"])
    sealed_checks = [check("auction/plain tell time", sealed_over_plain, "<=", 2.5)]
    if not quick:
        seconds = round(best["sealed"]["seconds"], 4)
        sealed_checks.insert(0, check("seconds for 10,000 bidders", seconds, "<=", 0.4))
    measurements: Json = {
        "sealed_bid": {
            "what": f"sealed-bid second-price auction among {sealed_n} bidder actors",
            "auction": throughput(sealed_messages, best["sealed"]["seconds"]),
            "plain_tell": throughput(sealed_messages, best["sealed_plain"]["seconds"]),
            "ratios": {
                "meaning": "wall time over wall time, same message count",
                "auction_over_plain_tell": sealed_over_plain,
            },
            **verdict(sealed_checks),
        },
        "english": {
            "what": f"english clock among {english_n} bidders over {rounds} rounds",
            "auction": throughput(english_messages, best["english"]["seconds"]),
            "plain_tell": throughput(2 * english_n * rounds, best["english_plain"]["seconds"]),
            "ratios": {
                "meaning": "wall time over wall time, same message count",
                "auction_over_plain_tell": ratio(
                    best["english"]["seconds"], best["english_plain"]["seconds"]
                ),
            },
        },
    }
    measurements["wdp_20x200"] = _wdp(
        20, 200, WDP_SEEDS[:1] if quick else WDP_SEEDS, 1.0, vcg=not quick
    )
    if not quick:
        measurements["wdp_64x1000"] = _wdp(64, 1000, WDP_SEEDS, 5.0, vcg=False)
    return {
        "counts": {
            "sealed_bidders": sealed_n,
            "english_bidders": english_n,
            "english_rounds": rounds,
        },
        "measurements": measurements,
    }

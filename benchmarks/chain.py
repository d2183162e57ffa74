"""Proof-of-authority chain: blocks finalized per wall-clock second.

- ``actors``: 5 :class:`ValidatorAgent` actors (a :class:`ChainCluster`) on a
  ``SimNetwork`` with 1 ms latency (trace off), virtual time, default timing (a block
  every ``period_ms`` = 20 virtual ms, every validator in turn): the wall time until
  ``BLOCKS`` blocks are final on every validator, with one proposal per 10 blocks.
- ``core`` (the baseline, measured in the same run): the same 5 pure
  :class:`Validator` cores and the same blocks, messages handed over through a heap
  ordered by delivery time (no actors, no network model, no logging). The ratio
  actors / core is the cost of the runtime and the simulated network.

Issue target: none given beyond "blocks finalized per second"; each block is a sealed
SHA-256 + Ed25519 block, 4 announcements, 4 verifications and fork choice on every node.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import random
from typing import Any

from mabeam import ActorSystem
from mabeam.protocols.consensus.chain import (
    BlockTree,
    ChainCluster,
    ChainConfig,
    Keyring,
    Submit,
    Tx,
    Validator,
)
from mabeam.sim import SimNetwork, run_virtual

from ._common import Json, best_of_rounds, progress, ratio, scaled, throughput, timer

NODES = 5
BLOCKS = 2_000
PROPOSAL_EVERY = 10


def _ids() -> list[str]:
    return [f"v{i + 1}" for i in range(NODES)]


async def _actors(blocks: int) -> tuple[float, float]:
    network = SimNetwork(seed=1, latency_ms=1.0, trace=False)
    async with (
        ActorSystem("bench", transport=network) as system,
        ChainCluster(system, _ids(), seed=1, network=network) as chain,
    ):
        loop = asyncio.get_running_loop()
        view = chain.view
        virtual = loop.time()
        started = timer()
        proposals = [
            asyncio.ensure_future(chain.submit(n, timeout=None))
            for n in range(blocks // PROPOSAL_EVERY)
        ]
        await view.wait(
            lambda: all(chain.status(i).finalized_height >= blocks for i in chain.node_ids)
        )
        seconds = timer() - started
        virtual = loop.time() - virtual
        await asyncio.gather(*proposals)
        return seconds, virtual


def _core(blocks: int) -> float:
    ids = _ids()
    config = ChainConfig()
    keyring = Keyring.from_seed(1, ids)
    nodes = {i: Validator(i, BlockTree(ids), keyring, config, random.Random(f"1:{i}")) for i in ids}
    queue: list[tuple[float, int, str, Any]] = []
    seq = 0
    started = timer()
    for n in range(blocks // PROPOSAL_EVERY):
        for i in ids:
            seq += 1
            heapq.heappush(queue, (1.0, seq, i, Submit(Tx(f"p{n}", n))))
    while min(nodes[i].tree.finalized.height for i in ids) < blocks:
        when, target = (queue[0][0], "") if queue else (math.inf, "")
        for i in ids:
            deadline = nodes[i].deadline()
            if deadline < when:
                when, target = deadline, i
        if target:
            nodes[target].tick(when)
        else:
            _, _, target, message = heapq.heappop(queue)
            nodes[target].step(message, when)
        for out in nodes[target].ready().messages:
            seq += 1
            heapq.heappush(queue, (when + 1.0, seq, out.dst, out.message))
    return timer() - started


def run(quick: bool) -> Json:
    blocks = scaled(BLOCKS, quick) if not quick else 50
    virtual: list[float] = []

    def actors() -> dict[str, float]:
        seconds, elapsed = run_virtual(lambda: _actors(blocks))
        virtual.append(elapsed)
        return {"seconds": seconds}

    progress("chain: blocks finalized")
    best = best_of_rounds(
        {"actors": actors, "core": lambda: {"seconds": _core(blocks)}}, label="chain"
    )
    actor_figures = throughput(blocks, best["actors"]["seconds"])
    core_figures = throughput(blocks, best["core"]["seconds"])
    return {
        "counts": {"nodes": NODES, "blocks": blocks, "proposal_every": PROPOSAL_EVERY},
        "measurements": {
            "blocks": {
                "what": "blocks final on all 5 validators per wall-clock second, 1 ms latency",
                "actors": actor_figures,
                "core": core_figures,
                "actors_vs_core": ratio(actor_figures["per_second"], core_figures["per_second"]),
                "virtual_seconds": round(min(virtual), 3),
                "virtual_blocks_per_second": round(blocks / min(virtual), 1),
                "notes": [
                    "period_ms 20, wiggle_ms 10, finality = lock (3 blocks) + depth 3",
                    "core: the pure validators alone, messages through a heap (baseline)",
                ],
            }
        },
    }

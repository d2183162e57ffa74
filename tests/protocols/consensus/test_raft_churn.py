"""R18 on actors: churn (crash, restart, partition, heal) under concurrent client traffic.

Checked throughout and at the end (RAFT_SCENARIOS.md H1-H5): at most one leader per term
(from every status report); logs consistent (log matching, committed prefixes agree);
terms never go backwards per node; every command acknowledged to the client is in the
final log of every node that has caught up, exactly once.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from mabeam.protocols.consensus import Add, CommitTimeoutError
from mabeam.protocols.consensus.raft.actor import NodeStatus

from ._support import T, commands, logs_consistent, raft_cluster

pytestmark = pytest.mark.virtual_time


async def _churn(seed: int, rounds: int) -> None:
    rng = random.Random(seed)
    async with raft_cluster(5, seed=seed, latency_ms=(1.0, 3.0)) as (cluster, network):
        leaders: dict[int, str] = {}
        terms: dict[str, int] = {}

        def record(status: NodeStatus) -> None:
            if status.role == "leader":
                assert leaders.setdefault(status.term, status.id) == status.id, "H1"
            assert status.term >= terms.get(status.id, 0), "H4: term went backwards"
            terms[status.id] = status.term

        cluster.view.listeners.append(record)
        acknowledged: list[float] = []
        stop = asyncio.Event()

        async def client(offset: int) -> None:
            n = 0
            while not stop.is_set():
                n += 1
                amount = offset * 1000 + n
                try:
                    await cluster.propose(Add("sum", amount), timeout=3 * T)
                except CommitTimeoutError:
                    continue
                acknowledged.append(amount)

        tasks = [asyncio.ensure_future(client(i)) for i in range(3)]
        down: list[str] = []
        for _ in range(rounds):
            await asyncio.sleep(0.7 * T)
            roll = rng.random()
            if roll < 0.2 and len(down) < 2:
                victim = rng.choice([n for n in cluster.node_ids if n not in down])
                await cluster.crash(victim)
                down.append(victim)
            elif roll < 0.7 and down:
                await cluster.restart(down.pop(0))
            elif roll < 0.9:
                cut = rng.sample(cluster.node_ids, 2)
                network.partition([cut])
            else:
                network.heal()
        network.heal()
        for node in down:
            await cluster.restart(node)
        stop.set()
        await asyncio.gather(*tasks)
        final = await cluster.propose(Add("sum", 0), timeout=20 * T)
        await asyncio.sleep(2 * T)
        states = await cluster.states()
        logs_consistent(states)
        assert acknowledged
        for state in states.values():
            assert state.commit_index >= final.index
            applied = [c.amount for c in commands(state.log[: final.index]) if c.amount]
            # H5: every acknowledged write is in the committed log; the state machine
            # applied each once even where the log holds a retried duplicate.
            assert set(acknowledged) <= set(applied)
            assert state.data["sum"] == sum(set(applied))


@pytest.mark.parametrize("seed", [1, 2])
async def test_churn_with_clients(seed: int) -> None:
    """20 rounds of random faults every 0.7T under 3 concurrent clients: H1-H5 hold."""
    await _churn(seed, 20)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3, 13))
async def test_churn_with_clients_many_seeds(seed: int) -> None:
    """The same over more seeds and rounds."""
    await _churn(seed, 40)

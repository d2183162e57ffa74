"""Clusters of Raft actors on a simulated network, and the checks every test runs."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import msgspec

from mabeam import ActorSystem
from mabeam.protocols.consensus import RaftCluster
from mabeam.protocols.consensus.kv import KVStateMachine
from mabeam.protocols.consensus.raft import Entry, RaftConfig
from mabeam.protocols.consensus.raft.actor import NodeState
from mabeam.sim import SimNetwork

T = 0.3
"""The longest election timeout of the default config, in seconds."""


@asynccontextmanager
async def raft_cluster(
    n: int = 3,
    *,
    seed: int = 1,
    config: RaftConfig | None = None,
    latency_ms: float | tuple[float, float] = 1.0,
    drop_rate: float = 0.0,
    machine: Callable[[], KVStateMachine] | None = None,
) -> AsyncIterator[tuple[RaftCluster, SimNetwork]]:
    """``n`` nodes n1..nn and a client on a seeded SimNetwork (run on virtual time);
    ``machine`` makes the nodes' state machines (default the key-value store)."""
    network = SimNetwork(seed=seed, latency_ms=latency_ms, drop_rate=drop_rate)
    async with ActorSystem("raft-test", transport=network) as system:
        ids = [f"n{i + 1}" for i in range(n)]
        extra = {} if machine is None else {"machine": machine}
        cluster = RaftCluster(system, ids, seed=seed, config=config, network=network, **extra)
        async with cluster:
            yield cluster, network


def logs_consistent(states: Mapping[str, NodeState]) -> None:
    """Log matching and committed-prefix agreement over every pair of nodes (AssertionError).

    - Log Matching: if two logs hold an entry with the same index and term, the logs are
      identical up to that index.
    - Committed prefixes agree: entries up to the smaller commit index are identical.
    - Each log's indices are 1, 2, ... and terms never decrease.
    """
    logs = {node: state.log for node, state in states.items()}
    for node, log in logs.items():
        assert [entry.index for entry in log] == list(range(1, len(log) + 1)), node
        assert all(a.term <= b.term for a, b in itertools.pairwise(log)), node
        assert states[node].commit_index <= len(log), node
    nodes = list(logs)
    for i, a in enumerate(nodes):
        for b in nodes[i + 1 :]:
            committed = min(states[a].commit_index, states[b].commit_index)
            assert logs[a][:committed] == logs[b][:committed], (a, b)
            for index in range(min(len(logs[a]), len(logs[b])), 0, -1):
                if logs[a][index - 1].term == logs[b][index - 1].term:
                    assert logs[a][:index] == logs[b][:index], (a, b, index)
                    break


def commands(log: list[Entry]) -> list[Any]:
    """The client commands of a log (no-ops left out)."""
    return [entry.data.command for entry in log if entry.data is not None]


class Pay(msgspec.Struct, frozen=True, tag=True):
    """Take ``amount`` out of the account."""

    amount: int


class Account(KVStateMachine):
    """A user state machine: the balance starts at 10 and may not go below zero."""

    def execute(self, command: Any) -> Any:
        if isinstance(command, Pay):
            balance = self.data.get("balance", 10)
            if command.amount > balance:
                raise ValueError(f"insufficient funds: {balance} < {command.amount}")
            self.data["balance"] = balance - command.amount
            return self.data["balance"]
        return super().execute(command)

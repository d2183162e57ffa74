"""Raft for application code: a replicated log and key-value store behind a few awaits.

::

    async with ActorSystem() as system:
        async with RaftCluster(system, ["n1", "n2", "n3"], seed=7) as cluster:
            await cluster.wait_for_leader()
            await cluster.set("x", 1)
            assert await cluster.get("x") == 1       # through the log
            assert await cluster.read("x") == 1      # ReadIndex: no log entry
            commit = await cluster.propose({"any": "command"})   # index, term, leader, result

Each node is a :class:`~.actor.RaftAgent` under a one-for-one supervisor (a crashed node is
restarted with its storage), registered under its id; a :class:`~.actor.RaftClient` actor
(registered as ``client_name``) submits commands, following redirects and retrying through
elections; the cluster asks it a :class:`~.client.Submit` and it answers once the
commands are applied. The nodes tell their statuses to a status collector (a child of the
client) that keeps :attr:`RaftCluster.view`. Every command is applied exactly once on
every node, in log order; a read
(:meth:`RaftCluster.get`) goes through the log, so it sees every write committed before it.

A command that raises when applied (``Add`` to a string) is committed and applied all the
same, as an :class:`~..kv.ApplyError` result on every node: :meth:`RaftCluster.propose` and
the key-value calls raise it as :class:`~mabeam.protocols.consensus.CommandFailedError`, a
batch (:meth:`RaftCluster.propose_many`) returns it as that command's ``result``; the
cluster goes on serving. ``machine`` gives the nodes your own state machine (see :mod:`..kv`).

On a :class:`~mabeam.sim.SimNetwork`, pass it as ``network`` and the nodes and the client
become network nodes (latency, loss and partitions apply to them; the client, like a
scenario's coordinator, is never cut off by a partition).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ...._errors import ActorError, AskTimeoutError, ConfigError, NotStartedError
from ...._errors import CommitTimeoutError as CommitTimeoutError
from ....runtime import ActorRef, ActorSystem, ChildSpec
from ....runtime.supervision import delete_child, restart_child, start_child, terminate_child
from .._cluster import ActorSpec, ClusterLifecycle, node_specs
from .._host import StatusView
from ..kv import ApplyError, Delete, Get, Put, StateMachineFactory
from .actor import GetNodeState, NodeState, NodeStatus, RaftAgent
from .client import Cancel, MembershipQuery, RaftClient, ReadQuery, SetNodes, Submit
from .client import Committed as Committed
from .messages import Membership
from .node import RaftConfig
from .storage import MemoryStorage, RaftStorage


class ClusterView(StatusView[NodeStatus]):
    """The latest status each node reported (through the cluster's status collector), and
    who leads now. ``listeners`` are called with every report, after it is recorded (tests
    check invariants there); :meth:`wait` returns once a condition on the view holds."""

    def __init__(
        self, node_ids: Sequence[str], system: ActorSystem, collector: str = "raft-client.status"
    ) -> None:
        super().__init__(node_ids, system, collector)

    def leader(self) -> str | None:
        """The running node that leads in the highest term, or None during an election."""
        best: NodeStatus | None = None
        for node_id in self.node_ids:
            status = self.statuses.get(node_id)
            if status is None or status.role != "leader" or not self.running(node_id):
                continue
            if best is None or status.term > best.term:
                best = status
        return None if best is None else best.id


class RaftCluster(ClusterLifecycle):
    """A Raft cluster of actors and a client to it (see the module docstring).

    ``seed`` (or ``rng``) drives every random choice of the nodes (election timeouts);
    ``storages`` gives each node its durable store (default: a fresh
    :class:`~.storage.MemoryStorage` each, kept across restarts of the node); ``machine``
    makes each node incarnation's state machine (default :class:`~..kv.KVStateMachine`);
    ``snapshot_threshold`` (default: the config's, 0 = never) snapshots every node's state
    machine every that many applied entries and compacts the log below it.
    """

    def __init__(
        self,
        system: ActorSystem,
        node_ids: Sequence[str],
        *,
        config: RaftConfig | None = None,
        seed: int | str = 0,
        storages: dict[str, RaftStorage] | None = None,
        client_name: str = "raft-client",
        network: Any = None,
        retry_ms: float | None = None,
        machine: StateMachineFactory | None = None,
        snapshot_threshold: int | None = None,
    ) -> None:
        ids = list(node_ids)
        if not ids:
            raise ConfigError("node_ids", "needs at least one node")
        if len(set(ids)) != len(ids) or not all(isinstance(i, str) and i for i in ids):
            raise ConfigError("node_ids", f"must be unique non-empty strings, got {ids!r}")
        if client_name in ids:
            raise ConfigError("client_name", f"{client_name!r} is also a node id")
        self.system = system
        self.node_ids = ids
        self._initial_ids = tuple(ids)
        self._joined: set[str] = set()
        self.config = config if config is not None else RaftConfig()
        if snapshot_threshold is not None:
            self.config = dataclasses.replace(self.config, snapshot_threshold=snapshot_threshold)
        self.storages: dict[str, RaftStorage] = {i: MemoryStorage() for i in ids}
        if storages:
            unknown = [i for i in storages if i not in self.storages]
            if unknown:
                raise ConfigError("storages", f"names no node: {unknown!r}", allowed=ids)
            self.storages.update(storages)
        self.client_name = client_name
        self.network = network
        high = self.config.election_timeout_ms[1]
        self.retry_ms = retry_ms if retry_ms is not None else 2.0 * high
        self.view = ClusterView(ids, system, f"{client_name}.status")
        self.machine = machine
        self._seed = seed
        self._rngs = {i: random.Random(f"{seed}:raft:{i}") for i in ids}
        self._next_seq = 1

    # ------------------------------------------------------------------ set-up

    def agent_spec(self, node_id: str) -> tuple[type[RaftAgent], tuple[Any, ...], dict[str, Any]]:
        """(class, args, kwargs) of node ``node_id``: for a supervisor's ChildSpec."""
        args = (
            node_id,
            list(self._initial_ids),
            self.storages[node_id],
            self.config,
            self._rngs[node_id],
            self.view.collector,
        )
        kwargs: dict[str, Any] = {} if self.machine is None else {"machine": self.machine}
        if node_id in self._joined:
            kwargs["joining"] = True
        return RaftAgent, args, kwargs

    def client_spec(self) -> tuple[type[RaftClient], tuple[Any, ...], dict[str, Any]]:
        """(class, args, kwargs) of the client actor."""
        kwargs = {
            "retry_ms": self.retry_ms,
            "backoff_ms": self.config.heartbeat_ms,
            "status": self.view,
        }
        return RaftClient, (self.node_ids,), kwargs

    def _members(self) -> tuple[Sequence[str], Callable[[str], ActorSpec]]:
        return self.node_ids, self.agent_spec

    # ------------------------------------------------------------------ commands

    async def propose(self, command: Any, *, timeout: float | None = None) -> Committed:
        """Replicate ``command``; return once it is committed and applied.

        Raises :class:`~mabeam.protocols.consensus.CommandFailedError` if applying it
        raised (it is in the log all the same; the error's ``outcome`` is its
        :class:`Committed`).
        """
        committed = (await self.propose_many([command], timeout=timeout))[0]
        if isinstance(committed.result, ApplyError):
            raise committed.result.exception(committed)
        return committed

    async def propose_many(
        self, commands: Iterable[Any], *, timeout: float | None = None
    ) -> list[Committed]:
        """Replicate ``commands`` as one batch, in order; return each once all are applied.

        A command whose application raised does not fail the batch: its ``result`` is the
        :class:`~..kv.ApplyError` every node recorded.
        """
        pairs = []
        for command in commands:
            pairs.append((self._next_seq, command))
            self._next_seq += 1
        return await self._ask(pairs, timeout)

    async def set(self, key: str, value: Any, *, timeout: float | None = None) -> Any:
        """Set ``key`` to ``value``; returns the previous value (None if none)."""
        return (await self.propose(Put(key, value), timeout=timeout)).result

    async def get(self, key: str, *, timeout: float | None = None) -> Any:
        """The value of ``key`` (None if none), read through the log: linearizable."""
        return (await self.propose(Get(key), timeout=timeout)).result

    async def read(self, key: str, *, timeout: float | None = None) -> Any:
        """The value of ``key`` (None if none), linearizable without a log entry: the leader
        confirms its leadership with a round of heartbeats (ReadIndex) — or its lease, with
        ``lease_reads`` — and answers once its state machine applied the commit index."""
        return (await self._submit(ReadQuery(key), timeout)).result

    async def read_many(self, keys: Iterable[str], *, timeout: float | None = None) -> list[Any]:
        """The values of ``keys``, as :meth:`read` gives them, confirmed together: one
        ReadIndex round for the whole batch."""
        pairs: list[tuple[int, Any]] = []
        for key in keys:
            pairs.append((self._next_seq, ReadQuery(key)))
            self._next_seq += 1
        return [committed.result for committed in await self._ask(pairs, timeout)]

    async def delete(self, key: str, *, timeout: float | None = None) -> Any:
        """Remove ``key``; returns the value it had (None if none)."""
        return (await self.propose(Delete(key), timeout=timeout)).result

    async def _ask(self, pairs: list[tuple[int, Any]], timeout: float | None) -> list[Committed]:
        """Ask the client to replicate (seq, command) pairs; its answer comes once all are
        applied. On timeout the client stops retrying them."""
        client = self._require_client()
        if not pairs:
            return []
        try:
            done: list[Committed] = await client.ask(Submit(tuple(pairs)), timeout=timeout)
        except AskTimeoutError:
            if client.is_alive:
                client.tell(Cancel(tuple(seq for seq, _ in pairs)))
            assert timeout is not None
            raise CommitTimeoutError(len(pairs), timeout) from None
        return done

    def _require_client(self) -> ActorRef:
        if self._client is None:
            raise NotStartedError("the cluster is not started (use `async with RaftCluster(...)`)")
        return self._client

    # ------------------------------------------------------------------ nodes

    def leader(self) -> str | None:
        """The node leading now (the highest term's running leader), or None."""
        return self.view.leader()

    async def wait_for_leader(self, timeout: float | None = None) -> str:
        """Wait until some node leads; return its id."""
        await self.view.wait(lambda: self.view.leader() is not None, timeout)
        leader = self.view.leader()
        assert leader is not None
        return leader

    async def state(self, node_id: str) -> NodeState:
        """One node's state; a node that is down reports role "down" and its durable state."""
        if node_id not in self.storages:
            raise ConfigError("node_id", f"{node_id!r} is not a node", allowed=self.node_ids)
        ref = self.system.whereis(node_id)
        if ref is not None:
            try:
                state = await ref.ask(GetNodeState(), timeout=None)
            except ActorError:
                pass
            else:
                assert isinstance(state, NodeState)
                return state
        hard, log = self.storages[node_id].load()
        status = self.view.statuses.get(node_id)
        commit_index = 0 if status is None else status.commit_index
        return NodeState(node_id, "down", hard.term, commit_index, None, log)

    async def states(self) -> dict[str, NodeState]:
        """Every node's state, in node order."""
        return {node_id: await self.state(node_id) for node_id in self.node_ids}

    # ------------------------------------------------------------------ membership

    async def add_node(
        self, node_id: str, *, storage: RaftStorage | None = None, timeout: float | None = None
    ) -> Membership:
        """Start node ``node_id`` and make it a voter: first a learner that catches up from
        the leader (its log, or a snapshot), then promoted once it has (etcd's way; one
        change at a time). Returns the configuration it ends in."""
        if not isinstance(node_id, str) or not node_id:
            raise ConfigError("node_id", f"must be a non-empty string, got {node_id!r}")
        if node_id in self.storages or node_id == self.client_name:
            raise ConfigError("node_id", f"{node_id!r} is already a node (or the client)")
        supervisor = self._require_supervisor()
        self._require_client()
        self.storages[node_id] = storage if storage is not None else MemoryStorage()
        self._rngs[node_id] = random.Random(f"{self._seed}:raft:{node_id}")
        self._joined.add(node_id)
        if self.network is not None:
            self.network.add_node(node_id)
        spec: ChildSpec = node_specs([node_id], self.agent_spec)[0]
        await start_child(supervisor, spec)
        self.node_ids.append(node_id)
        self.view.node_ids.append(node_id)
        self._tell_nodes()
        await self._change("add_learner", node_id, timeout)
        return await self._change("promote", node_id, timeout)

    async def remove_node(self, node_id: str, *, timeout: float | None = None) -> Membership:
        """Take ``node_id`` out of the cluster (the leader too: it steps down once the
        change commits), then stop it. Returns the configuration without it."""
        if node_id not in self.node_ids:
            raise ConfigError("node_id", f"{node_id!r} is not a node", allowed=self.node_ids)
        membership = await self._change("remove", node_id, timeout)
        supervisor = self._require_supervisor()
        await terminate_child(supervisor, node_id)
        await delete_child(supervisor, node_id)
        self.node_ids.remove(node_id)
        self.view.node_ids.remove(node_id)
        self._tell_nodes()
        return membership

    def _tell_nodes(self) -> None:
        client = self._client
        if client is not None and client.is_alive:
            client.tell(SetNodes(tuple(self.node_ids)))

    async def _change(self, action: str, node_id: str, timeout: float | None) -> Membership:
        """One membership change through the client, until the configuration shows it."""
        loop = asyncio.get_running_loop()
        end = None if timeout is None else loop.time() + timeout
        while True:
            remaining = None if end is None else max(0.0, end - loop.time())
            committed = await self._submit(MembershipQuery(action, node_id), remaining)
            result = committed.result
            if isinstance(result, ApplyError):
                raise ConfigError("node_id", f"{node_id!r}: {result.message}")
            assert isinstance(result, Membership)
            done = {
                "add_learner": node_id in result.learners or node_id in result.voters,
                "promote": node_id in result.voters,
                "remove": node_id not in result.voters and node_id not in result.learners,
            }[action]
            if done:
                return result
            # Another leader's change landed where ours was: ask again.

    async def _submit(self, query: Any, timeout: float | None) -> Committed:
        seq = self._next_seq
        self._next_seq += 1
        return (await self._ask([(seq, query)], timeout))[0]

    async def crash(self, node_id: str) -> None:
        """Stop a node at once (volatile state lost, storage kept)."""
        await terminate_child(self._require_supervisor(), node_id)

    async def restart(self, node_id: str) -> None:
        """Start a crashed node again: it loads its storage and rejoins."""
        await restart_child(self._require_supervisor(), node_id)

    def _require_supervisor(self) -> ActorRef:
        if self._supervisor is None:
            raise NotStartedError(
                "the cluster has no supervisor (not started, or attached without)"
            )
        return self._supervisor

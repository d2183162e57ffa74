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
elections. Every command is applied exactly once on every node, in log order; a read
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

import msgspec

from ...._errors import ActorDeadError, ActorError, ConfigError, MabeamError
from ....runtime import ActorRef, ActorSystem, ChildSpec
from ....runtime.supervision import delete_child, restart_child, start_child, terminate_child
from .._cluster import ActorSpec, ClusterLifecycle, node_specs
from ..kv import ApplyError, Delete, Get, Put, StateMachineFactory
from .actor import GetNodeState, NodeState, NodeStatus, RaftAgent
from .client import Cancel, CommandResult, MembershipQuery, RaftClient, ReadQuery, SetNodes, Submit
from .messages import Membership
from .node import RaftConfig
from .storage import MemoryStorage, RaftStorage


class CommitTimeoutError(MabeamError, TimeoutError):
    """Commands were not committed and applied within the timeout (no live majority?)."""

    def __init__(self, count: int, timeout: float) -> None:
        super().__init__(f"{count} command(s) not committed within {timeout:g}s")
        self.count = count
        self.timeout = timeout


class Committed(msgspec.Struct, frozen=True):
    """A command applied by the cluster: its log position, the leader, the result (an
    :class:`~..kv.ApplyError` if applying it raised; ``index`` 0: a retry answered from
    the session cache)."""

    index: int
    term: int
    leader: str
    result: Any = None


class ClusterView:
    """The latest status each node reported (the nodes' observer), and who leads now."""

    def __init__(self, node_ids: Sequence[str], system: ActorSystem) -> None:
        self.node_ids = list(node_ids)
        self.statuses: dict[str, NodeStatus] = {}
        self.listeners: list[Callable[[NodeStatus], None]] = []
        """Called with every report, after it is recorded (tests check invariants here)."""
        self._system = system
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []

    def update(self, status: NodeStatus) -> None:
        """Observer callback of every node: record, wake waiters whose condition now holds."""
        self.statuses[status.id] = status
        for listener in self.listeners:
            listener(status)
        if self._waiters:
            still = []
            for condition, waiter in self._waiters:
                if waiter.done():
                    continue
                if condition():
                    waiter.set_result(None)
                else:
                    still.append((condition, waiter))
            self._waiters = still

    def running(self, node_id: str) -> bool:
        """Whether the node's actor runs now."""
        return self._system.whereis(node_id) is not None

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

    async def wait(self, condition: Callable[[], bool], timeout: float | None = None) -> None:
        """Return once ``condition()`` holds (checked at every status change)."""
        if condition():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((condition, waiter))
        try:
            await asyncio.wait_for(waiter, timeout)
        finally:
            if not waiter.done():
                waiter.cancel()


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
        self.view = ClusterView(ids, system)
        self.machine = machine
        self._seed = seed
        self._rngs = {i: random.Random(f"{seed}:raft:{i}") for i in ids}
        self._futures: dict[int, asyncio.Future[Committed]] = {}
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
            self.view.update,
        )
        kwargs: dict[str, Any] = {} if self.machine is None else {"machine": self.machine}
        if node_id in self._joined:
            kwargs["joining"] = True
        return RaftAgent, args, kwargs

    def client_spec(self) -> tuple[type[RaftClient], tuple[Any, ...], dict[str, Any]]:
        """(class, args, kwargs) of the client actor."""
        kwargs = {"retry_ms": self.retry_ms, "backoff_ms": self.config.heartbeat_ms}
        return RaftClient, (self.node_ids, self._on_result), kwargs

    def _members(self) -> tuple[Sequence[str], Callable[[str], ActorSpec]]:
        return self.node_ids, self.agent_spec

    def _stopped(self) -> None:
        """Commands still waiting fail with ActorDeadError."""
        for future in self._futures.values():
            if not future.done():
                future.set_exception(ActorDeadError(self.client_name, "propose"))
        self._futures.clear()

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
        client = self._require_client()
        loop = asyncio.get_running_loop()
        pairs = []
        futures = []
        for command in commands:
            seq = self._next_seq
            self._next_seq += 1
            future: asyncio.Future[Committed] = loop.create_future()
            self._futures[seq] = future
            pairs.append((seq, command))
            futures.append(future)
        if not pairs:
            return []
        client.tell(Submit(tuple(pairs)))
        try:
            return list(await asyncio.wait_for(asyncio.gather(*futures), timeout))
        except TimeoutError:
            seqs = tuple(seq for seq, _ in pairs)
            for seq in seqs:
                self._futures.pop(seq, None)
            if client.is_alive:
                client.tell(Cancel(seqs))
            assert timeout is not None
            raise CommitTimeoutError(len(seqs), timeout) from None

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
        client = self._require_client()
        loop = asyncio.get_running_loop()
        pairs = []
        futures = []
        for key in keys:
            seq = self._next_seq
            self._next_seq += 1
            future: asyncio.Future[Committed] = loop.create_future()
            self._futures[seq] = future
            pairs.append((seq, ReadQuery(key)))
            futures.append(future)
        if not pairs:
            return []
        client.tell(Submit(tuple(pairs)))
        try:
            done = await asyncio.wait_for(asyncio.gather(*futures), timeout)
        except TimeoutError:
            seqs = tuple(seq for seq, _ in pairs)
            for seq in seqs:
                self._futures.pop(seq, None)
            if client.is_alive:
                client.tell(Cancel(seqs))
            assert timeout is not None
            raise CommitTimeoutError(len(seqs), timeout) from None
        return [committed.result for committed in done]

    async def delete(self, key: str, *, timeout: float | None = None) -> Any:
        """Remove ``key``; returns the value it had (None if none)."""
        return (await self.propose(Delete(key), timeout=timeout)).result

    def _on_result(self, seq: int, result: CommandResult, leader: str) -> None:
        future = self._futures.pop(seq, None)
        if future is not None and not future.done():
            future.set_result(Committed(result.index, result.term, leader, result.result))

    def _require_client(self) -> ActorRef:
        if self._client is None:
            raise RuntimeError("the cluster is not started (use `async with RaftCluster(...)`)")
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
        client = self._require_client()
        seq = self._next_seq
        self._next_seq += 1
        future: asyncio.Future[Committed] = asyncio.get_running_loop().create_future()
        self._futures[seq] = future
        client.tell(Submit(((seq, query),)))
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            self._futures.pop(seq, None)
            if client.is_alive:
                client.tell(Cancel((seq,)))
            assert timeout is not None
            raise CommitTimeoutError(1, timeout) from None

    async def crash(self, node_id: str) -> None:
        """Stop a node at once (volatile state lost, storage kept)."""
        await terminate_child(self._require_supervisor(), node_id)

    async def restart(self, node_id: str) -> None:
        """Start a crashed node again: it loads its storage and rejoins."""
        await restart_child(self._require_supervisor(), node_id)

    def _require_supervisor(self) -> ActorRef:
        if self._supervisor is None:
            raise RuntimeError("the cluster has no supervisor (not started, or attached without)")
        return self._supervisor

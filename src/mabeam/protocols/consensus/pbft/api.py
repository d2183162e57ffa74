"""PBFT for application code: a byzantine-fault-tolerant replicated key-value store.

::

    async with ActorSystem() as system:
        async with PbftCluster(system, ["r0", "r1", "r2", "r3"], seed=7) as cluster:
            await cluster.set("x", 1)
            assert await cluster.get("x") == 1
            done = await cluster.submit({"any": "operation"})   # result, view, timestamp
            results = await cluster.submit_many([Add("n", 1)] * 100)

Each replica is a :class:`~.actor.PbftReplicaActor` under a one-for-one supervisor,
registered under its id; a :class:`~.actor.PbftClientActor` (registered as
``client_name``) sends each operation to the primary, retransmits to every replica on
timeout and accepts a result once f + 1 replicas sent the same one. :meth:`PbftCluster.crash`
and :meth:`PbftCluster.restart` stop and start a replica; a restarted replica catches up
through state transfer, from nothing or (``persist=True``) from its persisted view and
last stable checkpoint. Every operation is
executed exactly once, in the same order, on every correct replica. With a
:class:`~mabeam.sim.SimNetwork` as ``network`` the replicas and the client become network
nodes; :meth:`PbftCluster.byzantine` makes a replica misbehave through the network.

An operation that raises when executed (``Add`` to a string) is executed all the same, as
an :class:`~..kv.ApplyError` result on every correct replica: :meth:`PbftCluster.submit`
and the key-value calls raise it as
:class:`~mabeam.protocols.consensus.CommandFailedError`, a batch
(:meth:`PbftCluster.submit_many`) returns it as that operation's ``result``; the service
goes on. ``machine`` gives the replicas your own state machine (see :mod:`..kv`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import msgspec

from ...._errors import AskTimeoutError, ConfigError, MabeamError, NotStartedError
from ...._errors import RequestTimeoutError as RequestTimeoutError
from ....runtime import ActorRef, ActorSystem
from ....runtime.supervision import restart_child, terminate_child
from .._cluster import ActorSpec, ClusterLifecycle
from .._host import StatusView
from ..kv import ApplyError, Delete, Get, Put, StateMachineFactory
from .actor import (
    GetReplicaState,
    PbftClientActor,
    PbftReplicaActor,
    ReplicaObserver,
    ReplicaState,
    ReplicaStatus,
    Submit,
)
from .auth import Keyring
from .byzantine import interceptor
from .client import Accepted
from .replica import PbftConfig
from .storage import PbftStorage


class Executed(msgspec.Struct, frozen=True):
    """An accepted operation: its result (f + 1 replicas agree; an
    :class:`~..kv.ApplyError` if executing it raised), the view, the client's timestamp
    and the sequence number it was executed at. (``client``, ``timestamp``) is the
    command's identity: the one the replicas' executed records carry."""

    result: Any
    view: int
    timestamp: int
    seq: int
    client: str = ""


class PbftCluster(ClusterLifecycle):
    """n replicas and a client (see the module docstring); keys derive from ``seed``;
    ``machine`` makes each replica's state machine (default :class:`~..kv.KVStateMachine`).
    """

    def __init__(
        self,
        system: ActorSystem,
        replica_ids: Sequence[str],
        *,
        config: PbftConfig | None = None,
        seed: int | str = 0,
        client_name: str = "pbft-client",
        network: Any = None,
        retransmit_ms: float = 300.0,
        observer: ReplicaObserver | None = None,
        machine: StateMachineFactory | None = None,
        persist: bool = False,
    ) -> None:
        ids = list(replica_ids)
        if len(ids) < 1:
            raise ConfigError("replica_ids", "needs at least one replica")
        if len(set(ids)) != len(ids) or not all(isinstance(i, str) and i for i in ids):
            raise ConfigError("replica_ids", f"must be unique non-empty strings, got {ids!r}")
        if client_name in ids:
            raise ConfigError("client_name", f"{client_name!r} is also a replica id")
        self.system = system
        self.replica_ids = ids
        self.config = config if config is not None else PbftConfig()
        self.keyring = Keyring(seed)
        self.seed = seed
        self.client_name = client_name
        self.network = network
        self.retransmit_ms = retransmit_ms
        self.observer = observer
        self.machine = machine
        self.persist = persist
        self.view: StatusView[ReplicaStatus] = StatusView(ids, system, f"{client_name}.status")
        """Each replica's latest :class:`~.actor.ReplicaStatus`, through the status collector
        (``observer``, if given, is one of its ``listeners``)."""
        if observer is not None:
            self.view.listeners.append(observer)
        self.storages = {i: PbftStorage(durable=persist) for i in ids}
        """Each replica's store, kept across its restarts (``persist``: view and stable
        checkpoint survive a crash; else only the fact that it restarted)."""
        self._next_token = 1

    # ------------------------------------------------------------------ set-up

    def replica_spec(
        self, replica_id: str
    ) -> tuple[type[PbftReplicaActor], tuple[Any, ...], dict[str, Any]]:
        """(class, args, kwargs) of replica ``replica_id``: for a supervisor's ChildSpec."""
        args = (replica_id, self.replica_ids, self.keyring, self.config, self.view.collector)
        kwargs: dict[str, Any] = {"storage": self.storages[replica_id]}
        if self.machine is not None:
            kwargs["machine"] = self.machine
        return PbftReplicaActor, args, kwargs

    def client_spec(self) -> tuple[type[PbftClientActor], tuple[Any, ...], dict[str, Any]]:
        """(class, args, kwargs) of the client actor."""
        args = (self.client_name, self.replica_ids, self.keyring)
        return PbftClientActor, args, {"retransmit_ms": self.retransmit_ms, "status": self.view}

    def byzantine(self, replica_id: str, behavior: str) -> None:
        """Make ``replica_id`` misbehave (needs the SimNetwork); ``None`` behavior heals."""
        if self.network is None:
            raise ConfigError("network", "byzantine replicas need a SimNetwork")
        rng = random.Random(f"{self.seed}:byzantine:{replica_id}")
        self.network.intercept(
            replica_id, interceptor(behavior, replica_id, self.replica_ids, self.keyring, rng)
        )

    def _members(self) -> tuple[Sequence[str], Callable[[str], ActorSpec]]:
        return self.replica_ids, self.replica_spec

    # ------------------------------------------------------------------ operations

    async def submit(self, operation: Any, *, timeout: float | None = None) -> Executed:
        """Execute ``operation``; return once f + 1 replicas agree on its result.

        Raises :class:`~mabeam.protocols.consensus.CommandFailedError` if executing it
        raised (on every correct replica; the error's ``outcome`` is its
        :class:`Executed`).
        """
        executed = (await self.submit_many([operation], timeout=timeout))[0]
        if isinstance(executed.result, ApplyError):
            raise executed.result.exception(executed)
        return executed

    async def submit_many(
        self, operations: Iterable[Any], *, timeout: float | None = None
    ) -> list[Executed]:
        """Execute ``operations`` (pipelined, in this order); each result once accepted.

        An operation whose execution raised does not fail the batch: its ``result`` is the
        :class:`~..kv.ApplyError` the replicas agreed on.
        """
        client = self._client
        if client is None:
            raise NotStartedError("the cluster is not started (use `async with PbftCluster(...)`)")
        pairs = []
        for operation in operations:
            pairs.append((self._next_token, operation))
            self._next_token += 1
        if not pairs:
            return []
        try:
            done: list[Accepted] = await client.ask(Submit(tuple(pairs)), timeout=timeout)
        except AskTimeoutError:
            assert timeout is not None
            raise RequestTimeoutError(len(pairs), timeout) from None
        name = self.client_name
        return [Executed(a.result, a.view, a.timestamp, a.seq, name) for a in done]

    async def set(self, key: str, value: Any, *, timeout: float | None = None) -> Any:
        """Set ``key`` to ``value``; returns the previous value (None if none)."""
        return (await self.submit(Put(key, value), timeout=timeout)).result

    async def get(self, key: str, *, timeout: float | None = None) -> Any:
        """The value of ``key`` (None if none), read through the agreement: linearizable."""
        return (await self.submit(Get(key), timeout=timeout)).result

    async def delete(self, key: str, *, timeout: float | None = None) -> Any:
        """Remove ``key``; returns the value it had (None if none)."""
        return (await self.submit(Delete(key), timeout=timeout)).result

    # ------------------------------------------------------------------ replicas

    async def state(self, replica_id: str, *, timeout: float = 5.0) -> ReplicaState | None:
        """Replica ``replica_id``'s state now (None if it is down or does not answer)."""
        ref = self.system.whereis(replica_id)
        if ref is None:
            return None
        try:
            state: ReplicaState = await ref.ask(GetReplicaState(), timeout=timeout)
        except MabeamError:
            return None
        return state

    async def states(self) -> dict[str, ReplicaState | None]:
        """Every replica's state, in replica order."""
        return {replica_id: await self.state(replica_id) for replica_id in self.replica_ids}

    async def crash(self, replica_id: str) -> None:
        """Stop a replica at once (volatile state lost; its storage kept)."""
        self._require_replica(replica_id)
        await terminate_child(self._require_supervisor(), replica_id)

    async def restart(self, replica_id: str) -> None:
        """Start a crashed replica again: it rejoins through state transfer."""
        self._require_replica(replica_id)
        await restart_child(self._require_supervisor(), replica_id)

    def _require_replica(self, replica_id: str) -> None:
        if replica_id not in self.storages:
            raise ConfigError(
                "replica_id", f"{replica_id!r} is not a replica", allowed=self.replica_ids
            )

    def _require_supervisor(self) -> ActorRef:
        if self._supervisor is None:
            raise NotStartedError(
                "the cluster has no supervisor (not started, or attached without)"
            )
        return self._supervisor

"""The PBFT actor shells: :class:`PbftReplicaActor` hosts a :class:`~.replica.PbftReplica`,
:class:`PbftClientActor` a :class:`~.client.PbftClient`.

Messages travel as tells between actors addressed by name (a restarted actor gets a new
ref, the same name). Both shells are :class:`~.._host.CoreHost` s: one ``send_after``
timer armed at the core's ``deadline()``; after every input they take ``ready()`` and send.
A replica tells its :class:`ReplicaStatus` to the actor named ``status_to`` (the cluster's
status collector); the client actor answers the ask of each :class:`Submit` once its
operations are accepted. A replica actor hands every
message to its core, which authenticates it: garbage of any shape is counted in
``dropped`` and never raises. ``storage`` (a :class:`~.storage.PbftStorage`, kept by the
cluster across incarnations) tells a restarted replica it is one and what it persisted (if
durable: its view and last stable checkpoint); a restarted replica asks the others where
they are and catches up through state transfer. ``machine`` (optional) makes each
incarnation's state machine (default :class:`~..kv.KVStateMachine`).

Log events: ``pbft_replica_started``, ``pbft_view_changed`` (replica, view, active),
``pbft_checkpoint_stable`` (replica, seq), ``pbft_client_retransmit`` (client, count).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from ....runtime import DeferredReply
from .._host import CoreHost, StatusView, Tick, start_collector
from ..kv import StateMachineFactory
from .auth import Keyring
from .client import Accepted, ClientReady, PbftClient
from .replica import PbftConfig, PbftReplica, Ready
from .storage import PbftStorage


class GetReplicaState(msgspec.Struct, frozen=True, tag=True):
    """Ask a replica actor for its :class:`ReplicaState`."""


class ReplicaState(msgspec.Struct, frozen=True):
    """A replica's state now: view, execution (request digests in order), drop counts."""

    id: str
    view: int
    active: bool
    primary: str
    last_executed: int
    low: int
    executed: list[str]
    history: list[tuple[int, str]]
    executed_ids: list[tuple[str, int]]
    """(client, timestamp) of each executed request, in the order of ``executed``."""
    transfers: list[int]
    """Checkpoints taken by state transfer (``history`` skips to just after them)."""
    data: dict[str, Any]
    dropped: dict[str, int]


class ReplicaStatus(msgspec.Struct, frozen=True):
    """What a replica tells its status subscriber after each change of view or execution."""

    id: str
    view: int
    active: bool
    last_executed: int


ReplicaObserver = Callable[[ReplicaStatus], None]
"""An application-side listener of statuses (``PbftCluster(observer=...)``)."""


class PbftReplicaActor(CoreHost[PbftReplica, Ready]):
    """An agent actor hosting one replica (see the module docstring)."""

    def __init__(
        self,
        replica_id: str,
        replicas: Sequence[str],
        keyring: Keyring,
        config: PbftConfig | None = None,
        status_to: str | None = None,
        *,
        machine: StateMachineFactory | None = None,
        storage: PbftStorage | None = None,
    ) -> None:
        self.storage = storage
        self.replica_id = replica_id
        self.replicas = tuple(replicas)
        self.keyring = keyring
        self.config = config or PbftConfig()
        self.status_to = status_to
        self.machine = machine

    def make_core(self, now: float) -> PbftReplica:
        machine = None if self.machine is None else self.machine()
        return PbftReplica(
            self.replica_id,
            self.replicas,
            self.keyring,
            self.config,
            now=now,
            machine=machine,
            storage=self.storage,
        )

    def started(self) -> None:
        self.context.log.info("pbft_replica_started", replica=self.replica_id, n=self.core.n)

    def handle(self, message: Any) -> Any:
        if isinstance(message, GetReplicaState):
            return self.state()
        self.core.step(message, self.now())
        return None

    def marks(self) -> tuple[int, bool, int, int]:
        core = self.core
        return (core.view, core.active, core.last_executed, core.low)

    def status_changed(self, previous: Any, ready: Ready) -> None:
        if previous is None:
            return
        core = self.core
        log = self.context.log
        if previous[:2] != (core.view, core.active):
            log.info(
                "pbft_view_changed", replica=self.replica_id, view=core.view, active=core.active
            )
        if previous[3] != core.low:
            log.info("pbft_checkpoint_stable", replica=self.replica_id, seq=core.low)

    def status(self, ready: Ready | None = None) -> ReplicaStatus:
        core = self.core
        return ReplicaStatus(self.replica_id, core.view, core.active, core.last_executed)

    def state(self) -> ReplicaState:
        core = self.core
        return ReplicaState(
            id=self.replica_id,
            view=core.view,
            active=core.active,
            primary=core.primary(),
            last_executed=core.last_executed,
            low=core.low,
            executed=list(core.executed_requests),
            history=list(core.history),
            executed_ids=list(core.executed_ids),
            transfers=list(core.transfers),
            data=dict(core.machine.data),
            dropped=dict(core.dropped),
        )


class Submit(msgspec.Struct, frozen=True, tag=True):
    """Application -> client actor: submit these (token, operation) pairs, in order."""

    operations: tuple[tuple[int, Any], ...]


ResultHandler = Callable[[int, Accepted], None]
"""``(token, accepted)``: the shape of the old result callback (the client now answers the
ask of each :class:`Submit`); kept for code that names it."""


class PbftClientActor(CoreHost[PbftClient, ClientReady]):
    """The client of the replicated service.

    Ask it a :class:`Submit` and the answer comes once f + 1 replicas agreed on every
    operation in it: a list of :class:`~.client.Accepted`, in order (through
    ``self.context.reply_later``). ``status`` (optional) is the cluster's
    :class:`~.._host.StatusView`: the client starts its collector as a child.
    """

    def __init__(
        self,
        client_id: str,
        replicas: Sequence[str],
        keyring: Keyring,
        *,
        retransmit_ms: float = 300.0,
        status: StatusView[Any] | None = None,
    ) -> None:
        self.core = PbftClient(client_id, replicas, keyring, retransmit_ms=retransmit_ms)
        self.status_view = status
        self._tokens: dict[int, tuple[int, _Batch]] = {}

    def make_core(self, now: float) -> PbftClient:
        return self.core  # made with the actor: the application submits through it

    async def on_start(self) -> None:
        """No timer until the first submission; the status collector, if any, starts."""
        if self.status_view is not None:
            await start_collector(self.context, self.status_view)

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Tick):
            core = self.core
            before = core.retransmissions
            core.tick(self._fired())
            if core.retransmissions != before:
                self.context.log.info(
                    "pbft_client_retransmit",
                    client=core.id,
                    count=core.retransmissions - before,
                )
            self._after_input()
            return None
        return await super().receive(message)

    def handle(self, message: Any) -> Any:
        core = self.core
        if isinstance(message, Submit):
            now = self.now()
            reply = self.context.reply_later()
            batch = _Batch(reply, len(message.operations))
            for index, (_token, operation) in enumerate(message.operations):
                self._tokens[core.submit(operation, now)] = (index, batch)
        else:
            core.step(message, self.now())
        return None

    def after_ready(self, ready: ClientReady) -> None:
        for accepted in ready.accepted:
            entry = self._tokens.pop(accepted.timestamp, None)
            if entry is None:
                continue
            index, batch = entry
            batch.results[index] = accepted
            if len(batch.results) == batch.size and not batch.reply.done:
                batch.reply.reply([batch.results[i] for i in range(batch.size)])


class _Batch:
    """One asked :class:`Submit`: answered once every operation in it is accepted."""

    __slots__ = ("reply", "results", "size")

    def __init__(self, reply: DeferredReply, size: int) -> None:
        self.reply = reply
        self.size = size
        self.results: dict[int, Accepted] = {}

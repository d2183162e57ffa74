"""Starting and stopping a replicated cluster: shared by the Raft, PBFT and chain APIs.

A cluster is its nodes, each registered under its id and restarted by one supervisor
(``transient``, brutal kill: an injected crash loses volatile state), plus one client
actor. On a simulated network the nodes are network nodes and the client is exempt from
partitions, as a scenario's coordinator is.

Starting and stopping are cancel-safe: a cluster whose caller is cancelled (by anyio's
scopes or asyncio's ``timeout`` / ``task.cancel()``), during ``start`` or inside
``async with``, stops every actor it spawned before the cancellation goes on, so no node
keeps running and no name stays registered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Any, Self

import anyio
import anyio.lowlevel

from ..._errors import AlreadyStartedError
from ...runtime import Actor, ActorRef, ActorSystem, ChildSpec, Supervisor
from ...runtime._cleanup import finish

ActorSpec = tuple[type[Actor], tuple[Any, ...], dict[str, Any]]
"""(actor class, args, kwargs) of one actor to spawn."""


def node_specs(node_ids: Sequence[str], node_spec: Callable[[str], ActorSpec]) -> list[ChildSpec]:
    """One supervisor child per node: registered under its id, transient, killed on stop."""
    specs = []
    for node_id in node_ids:
        actor, args, kwargs = node_spec(node_id)
        specs.append(
            ChildSpec(
                id=node_id,
                actor=actor,
                args=args,
                kwargs=kwargs,
                name=node_id,
                restart="transient",
                shutdown=0,
            )
        )
    return specs


async def stop_all(refs: Iterable[ActorRef]) -> None:
    """Stop each actor that is still alive, in order; wait for those already stopping."""
    for ref in refs:
        if ref.is_alive:
            await ref.stop()
        else:
            await ref.join()


class ClusterLifecycle:
    """Start, stop and ``async with`` for a cluster API: its nodes and one client actor.

    A subclass sets ``system``, ``client_name``, ``network`` and says who its members are
    (:meth:`_members`) and how to spawn the client (``client_spec``); :meth:`_stopped`
    is its hook to fail what was still waiting when the cluster stopped.
    """

    system: ActorSystem
    client_name: str
    network: Any
    _noun = "cluster"
    _client: ActorRef | None = None
    _supervisor: ActorRef | None = None
    _owned: Sequence[ActorRef] = ()

    def _members(self) -> tuple[Sequence[str], Callable[[str], ActorSpec]]:
        """The node ids, and the spec of each node's actor."""
        raise NotImplementedError

    def client_spec(self) -> ActorSpec:
        """(class, args, kwargs) of the client actor."""
        raise NotImplementedError

    def _stopped(self) -> None:
        """Called once the client and nodes are stopped (nothing by default)."""

    def attach(self, client: ActorRef, supervisor: ActorRef | None = None) -> None:
        """Use a client actor (and the nodes' supervisor) that someone else spawned."""
        self._client = client
        self._supervisor = supervisor

    async def start(self) -> None:
        """Spawn the nodes under a supervisor, and the client.

        If spawning fails or the caller is cancelled meanwhile, whatever was spawned is
        stopped again before the error (or the cancellation) goes on. A cancellation waits
        for the spawning under way to end (the nodes' ``on_start``), so that no half-made
        supervisor is left behind.
        """
        if self._client is not None:
            raise AlreadyStartedError(f"the {self._noun} is running already")
        try:
            await finish(self._spawn())
            # anyio holds back a cancel while the spawning is shielded: let it land here.
            await anyio.lowlevel.checkpoint_if_cancelled()
        except BaseException:
            await finish(self._stop())
            raise

    async def _spawn(self) -> None:
        node_ids, node_spec = self._members()
        network = self.network
        if network is not None:
            for node_id in node_ids:
                network.add_node(node_id)
            network.add_node(self.client_name, exempt=True)
        system = self.system
        supervisor = await system.spawn(
            Supervisor, node_specs(node_ids, node_spec), intensity=1_000_000, period=1.0
        )
        self._owned = [supervisor]
        client_class, client_args, client_kwargs = self.client_spec()
        client = await system.spawn(
            client_class, *client_args, name=self.client_name, **client_kwargs
        )
        self._owned = [client, supervisor]
        self.attach(client, supervisor)

    async def stop(self) -> None:
        """Stop the client and the nodes this cluster spawned.

        Runs to the end even if the caller is cancelled meanwhile (then re-raises that).
        """
        await finish(self._stop())

    async def _stop(self) -> None:
        owned, self._owned = self._owned, ()
        try:
            await stop_all(owned)
        finally:
            self._client = None
            self._stopped()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

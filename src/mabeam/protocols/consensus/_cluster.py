"""Starting and stopping a replicated cluster: shared by the Raft, PBFT and chain APIs.

A cluster is its nodes, each registered under its id and restarted by one supervisor
(``transient``, brutal kill: an injected crash loses volatile state), plus one client
actor. On a simulated network the nodes are network nodes and the client is exempt from
partitions, as a scenario's coordinator is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Any, Self

from ...runtime import Actor, ActorRef, ActorSystem, ChildSpec, Supervisor

ActorSpec = tuple[type[Actor], tuple[Any, ...], dict[str, Any]]
"""(actor class, args, kwargs) of one actor to spawn."""


async def spawn_cluster(
    system: ActorSystem,
    node_ids: Sequence[str],
    node_spec: Callable[[str], ActorSpec],
    client_spec: ActorSpec,
    client_name: str,
    network: Any = None,
) -> tuple[ActorRef, ActorRef]:
    """Spawn the nodes under a supervisor, then the client; returns (client, supervisor)."""
    if network is not None:
        for node_id in node_ids:
            network.add_node(node_id)
        network.add_node(client_name, exempt=True)
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
    supervisor = await system.spawn(Supervisor, specs, intensity=1_000_000, period=1.0)
    client_class, client_args, client_kwargs = client_spec
    client = await system.spawn(client_class, *client_args, name=client_name, **client_kwargs)
    return client, supervisor


async def stop_all(refs: Iterable[ActorRef]) -> None:
    """Stop each actor that is still alive, in order."""
    for ref in refs:
        if ref.is_alive:
            await ref.stop()


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
        """Spawn the nodes under a supervisor, and the client."""
        if self._client is not None:
            raise RuntimeError(f"the {self._noun} is running already")
        node_ids, node_spec = self._members()
        client, supervisor = await spawn_cluster(
            self.system, node_ids, node_spec, self.client_spec(), self.client_name, self.network
        )
        self._owned = [client, supervisor]
        self.attach(client, supervisor)

    async def stop(self) -> None:
        """Stop the client and the nodes this cluster spawned."""
        owned, self._owned = self._owned, ()
        await stop_all(owned)
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

"""Starting and stopping a replicated cluster: shared by the Raft, PBFT and chain APIs.

A cluster is its nodes, each registered under its id and restarted by one supervisor
(``transient``, brutal kill: an injected crash loses volatile state), plus one client
actor. On a simulated network the nodes are network nodes and the client is exempt from
partitions, as a scenario's coordinator is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

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

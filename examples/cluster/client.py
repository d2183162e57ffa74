"""The client of the Raft key-value store of ``node.py``: a node of its own on NATS.

The client is one more ActorSystem on the same NATS server. It runs the
:class:`~mabeam.protocols.consensus.raft.client.RaftClient` actor of a
:class:`~mabeam.protocols.consensus.RaftCluster` (attached to nodes it did not start), so
``set``, ``get``, ``read`` and ``state`` work exactly as in one process: requests go to
the nodes by name, follow redirects to the leader and are retried through elections; the
nodes tell their statuses to the client's collector, so ``cluster.leader()`` and
``cluster.wait_for_leader()`` work too.

    python client.py --nats nats://127.0.0.1:4222 set colour blue
    python client.py --nats nats://127.0.0.1:4222 get colour
    python client.py --nats nats://127.0.0.1:4222 status

In code (the test does this)::

    async with connect(url, ["n1", "n2", "n3"]) as cluster:
        await cluster.wait_for_leader()
        await cluster.set("colour", "blue")
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog

from mabeam import ActorSystem
from mabeam.protocols.consensus import RaftCluster
from mabeam.protocols.consensus.raft.api import ClusterView
from mabeam.transport import NatsTransport

NODES = ["n1", "n2", "n3"]
STATUS_TO = "raft-status"
"""Where the nodes tell their statuses (``node.py`` uses the same name)."""


@asynccontextmanager
async def connect(
    url: str,
    nodes: list[str],
    *,
    name: str = "client",
    heartbeat: float = 0.2,
    down_after: float = 1.0,
    timeout: float = 10.0,
) -> AsyncIterator[RaftCluster]:
    """A :class:`RaftCluster` for the nodes running elsewhere, as node ``name`` of NATS.

    It waits (up to ``timeout`` seconds) until it has heard of every node's agent, so
    that the status collector, which asks each running node for its status when it
    starts, misses none (a leader elected before the client came says so only then).
    """
    transport = NatsTransport(servers=[url], heartbeat=heartbeat, down_after=down_after)
    async with ActorSystem(name, transport=transport) as system:
        for node in nodes:
            await transport.wait_for_name(node, timeout=timeout)
        # The nodes keep one session per client name (a retried command runs once), so
        # each connection is a new client; their statuses go to one fixed name, node.py's
        # STATUS_TO, which this client's status collector takes.
        cluster = RaftCluster(system, nodes, client_name=f"client-{secrets.token_hex(6)}")
        cluster.view = ClusterView(nodes, system, STATUS_TO)
        actor, args, kwargs = cluster.client_spec()
        client = await system.spawn(actor, *args, name=cluster.client_name, **kwargs)
        cluster.attach(client)
        try:
            yield cluster
        finally:
            await client.stop()


async def command(args: argparse.Namespace) -> object:
    async with connect(args.nats, args.nodes) as cluster:
        await cluster.wait_for_leader(timeout=args.timeout)
        if args.command == "set":
            return await cluster.set(args.key, json.loads(args.value), timeout=args.timeout)
        if args.command == "get":
            return await cluster.get(args.key, timeout=args.timeout)
        states = await cluster.states()
        return {
            node: {"role": s.role, "term": s.term, "commit": s.commit_index, "data": s.data}
            for node, s in states.items()
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="client of the Raft key-value store")
    parser.add_argument("--nats", default="nats://127.0.0.1:4222", help="NATS server URL")
    parser.add_argument("--nodes", default=",".join(NODES), help="node ids, comma-separated")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per request")
    commands = parser.add_subparsers(dest="command", required=True)
    put = commands.add_parser("set", help="set KEY to VALUE (JSON; plain text as a string)")
    put.add_argument("key")
    put.add_argument("value")
    commands.add_parser("get", help="the value of KEY, read through the log").add_argument("key")
    commands.add_parser("status", help="every node's role, term, commit index and data")
    args = parser.parse_args(argv)
    args.nodes = args.nodes.split(",")
    if args.command == "set":
        try:
            json.loads(args.value)
        except json.JSONDecodeError:
            args.value = json.dumps(args.value)
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    print(json.dumps(asyncio.run(command(args)), indent=2))


if __name__ == "__main__":
    main()

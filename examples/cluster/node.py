"""One node of a Raft key-value store, in a process of its own, over NATS.

Each process is one cluster node: an :class:`~mabeam.ActorSystem` with a
:class:`~mabeam.transport.NatsTransport` (its system name is the node's id) running one
:class:`~mabeam.protocols.consensus.raft.actor.RaftAgent` registered under the same id,
with its term, vote and log in a :class:`~mabeam.protocols.consensus.raft.storage.FileStorage`
directory. The agents reach each other by name (``context.tell("n2", ...)``): the
transport's cluster-wide names carry those tells to the node that holds the name.

    python node.py --id n1 --peers n1,n2,n3 --data data/n1 --nats nats://127.0.0.1:4222

It prints ``ready`` on stdout once it is connected and its agent runs, logs to stderr,
and runs until SIGTERM or SIGINT (Ctrl-C), then stops cleanly. Killed (SIGKILL) and
started again with the same ``--data``, it resumes from its files and catches up from the
leader. See README.md for a session by hand; ``client.py`` is the client.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import signal
import sys

import structlog

from mabeam import ActorSystem
from mabeam.protocols.consensus.raft.actor import RaftAgent
from mabeam.protocols.consensus.raft.node import RaftConfig
from mabeam.protocols.consensus.raft.storage import FileStorage
from mabeam.runtime import ChildSpec, Supervisor
from mabeam.transport import NatsTransport

STATUS_TO = "raft-status"
"""Where each node tells its status: the status collector of the client connected now
(``client.py``; with several at once, one of them)."""


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="one node of the Raft key-value store")
    parser.add_argument("--id", required=True, help="this node's id (also its NATS node name)")
    parser.add_argument("--peers", required=True, help="every node's id, comma-separated")
    parser.add_argument("--data", required=True, help="directory of this node's storage")
    parser.add_argument("--nats", default="nats://127.0.0.1:4222", help="NATS server URL")
    parser.add_argument("--heartbeat", type=float, default=0.2, help="transport heartbeat (s)")
    parser.add_argument("--down-after", type=float, default=1.0, help="node-down delay (s)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at info level")
    args = parser.parse_args(argv)
    args.peers = [peer for peer in args.peers.split(",") if peer]
    if args.id not in args.peers:
        parser.error(f"--id {args.id!r} is not one of --peers {args.peers}")
    return args


async def run(args: argparse.Namespace) -> None:
    transport = NatsTransport(
        servers=[args.nats], heartbeat=args.heartbeat, down_after=args.down_after
    )
    storage = FileStorage(args.data)
    agent = ChildSpec(
        id=args.id,
        actor=RaftAgent,
        args=(args.id, args.peers, storage, RaftConfig(), random.Random(), STATUS_TO),
        name=args.id,
        restart="transient",
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with ActorSystem(args.id, transport=transport) as system:
        await system.spawn(Supervisor, [agent], intensity=10, period=1.0)
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        await stop.wait()
    # Leaving the block stopped the agent and said goodbye to the other nodes.


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.INFO if args.verbose else logging.WARNING
        ),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    asyncio.run(run(args))


if __name__ == "__main__":
    main()

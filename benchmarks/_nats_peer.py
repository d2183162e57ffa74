"""The other process of the NATS suite: ``python -m benchmarks._nats_peer URL``.

It connects to the server at URL with plain nats-py and serves two subjects:

- ``bench.echo``: replies to each request with its payload (the round-trip responder);
- ``bench.sink.data``: counts messages; a request on ``bench.sink.count`` replies with the
  count so far (as ASCII digits) and resets it. Both are one wildcard subscription, so
  the count request is handled after every message the same publisher sent before it.

In the same process and event loop it also runs a mabeam node, ``ActorSystem("peer")``
with :class:`~mabeam.transport.NatsTransport` (a connection of its own), with the
actors the transport benchmark talks to: ``bench-echo`` answers each ask with its
message, and ``bench-sink`` counts tells (an ask ``"count"`` answers the count so far
and resets it). So raw nats-py and the transport are measured between the same two
processes.

It prints ``ready`` on stdout once the server has every subscription and the node is
up, and exits when its stdin closes.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import nats
from nats.aio.msg import Msg

from mabeam import Actor, ActorSystem
from mabeam.transport import NatsTransport
from mabeam.transport._nats import confirm_subscriptions

ECHO = "bench.echo"
SINK = "bench.sink.data"
COUNT = "bench.sink.count"
NODE = "peer"
ECHO_ACTOR = "bench-echo"
SINK_ACTOR = "bench-sink"


class EchoActor(Actor):
    """Answers an ask with its message."""

    async def receive(self, message: Any) -> Any:
        return message


class SinkActor(Actor):
    """Counts tells; the ask ``"count"`` answers the count so far and resets it."""

    def __init__(self) -> None:
        self.received = 0

    async def receive(self, message: Any) -> Any:
        if message == "count":
            count, self.received = self.received, 0
            return count
        self.received += 1
        return None


async def serve(url: str) -> None:
    client = await nats.connect(url, connect_timeout=10)
    received = 0

    async def echo(msg: Msg) -> None:
        await msg.respond(msg.data)

    async def sink(msg: Msg) -> None:
        nonlocal received
        if msg.subject == SINK:
            received += 1
        else:
            await msg.respond(str(received).encode())
            received = 0

    await client.subscribe(ECHO, cb=echo)
    await client.subscribe("bench.sink.*", cb=sink)
    await confirm_subscriptions(client)
    transport = NatsTransport(servers=[url], heartbeat=1.0, down_after=10.0)
    async with ActorSystem(NODE, transport=transport) as system:
        await system.spawn(EchoActor, name=ECHO_ACTOR)
        await system.spawn(SinkActor, name=SINK_ACTOR)
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until EOF
    await client.close()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1]))

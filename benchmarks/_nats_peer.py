"""The other process of the NATS suite: ``python -m benchmarks._nats_peer URL``.

It connects to the server at URL with plain nats-py and serves two subjects:

- ``bench.echo``: replies to each request with its payload (the round-trip responder);
- ``bench.sink.data``: counts messages; a request on ``bench.sink.count`` replies with the
  count so far (as ASCII digits) and resets it. Both are one wildcard subscription, so
  the count request is handled after every message the same publisher sent before it.

It prints ``ready`` on stdout once the server has both subscriptions, and exits when its
stdin closes.
"""

from __future__ import annotations

import asyncio
import sys

import nats
from nats.aio.msg import Msg

from mabeam.transport._nats import confirm_subscriptions

ECHO = "bench.echo"
SINK = "bench.sink.data"
COUNT = "bench.sink.count"


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
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until EOF
    await client.close()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1]))

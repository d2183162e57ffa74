"""A node's first heartbeat on a connection is its HELLO, even when a peer's HELLO reaches
it while it is still starting: otherwise the peer takes it as up from the BEAT answer, sends
it asks, and the HELLO that follows fails them as "reconnected" (seen as a remote spawn
failing at random in ``mabeam run --processes``)."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import msgspec

from mabeam import ActorSystem
from mabeam.transport import NatsTransport, _nats
from mabeam.transport._control import HELLO, Beat
from mabeam.transport._server import NatsServer

WAIT = 10.0


async def test_a_hello_heard_while_starting_is_answered_after_the_own_hello(
    nats_server: NatsServer, monkeypatch: Any
) -> None:
    import nats

    watcher = await nats.connect(nats_server.url)
    heard: list[int] = []
    first = asyncio.Event()

    async def on_beat(msg: Any) -> None:
        heard.append(msgspec.msgpack.decode(msg.data, type=Beat).kind)
        first.set()

    await watcher.subscribe("mabeam.hb.n2", cb=on_beat)
    await watcher.flush()
    transport = NatsTransport(servers=[nats_server.url], heartbeat=5.0, down_after=10.0)
    confirm = _nats.confirm_subscriptions

    async def peer_says_hello_meanwhile(client: Any, timeout: float = 5.0) -> None:
        await confirm(client, timeout)
        # A peer's HELLO arrives before this node's own HELLO is published.
        hello = msgspec.msgpack.encode(Beat(HELLO, "n1", 7, {}))
        await watcher.publish("mabeam.hb.n1", hello)
        await watcher.flush()
        while "n1" not in transport.nodes:
            await transport._changed.wait()
            transport._changed.clear()

    monkeypatch.setattr(_nats, "confirm_subscriptions", peer_says_hello_meanwhile)
    try:
        with anyio.fail_after(WAIT):
            async with ActorSystem("n2", transport=transport):
                await first.wait()
    finally:
        await watcher.close()
    # Before the fix, the answer to n1's HELLO (a BEAT) went out first. n1 learns of n2
    # from n2's HELLO, which it answers; n2's next BEAT is its periodic one.
    assert heard[0] == HELLO

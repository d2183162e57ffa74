"""A NATS server restart: clients reconnect; what cannot be published is a dead letter
with a reason; asks fail or succeed, never hang."""

from __future__ import annotations

import anyio
import pytest

from mabeam import ActorSystem, NodeDownError
from mabeam.transport import NatsTransport
from mabeam.transport._server import NatsServer

from ._actors import Echo, codec

WAIT = 10.0


def node(server: NatsServer, name: str) -> ActorSystem:
    transport = NatsTransport(
        servers=[server.url], heartbeat=0.05, down_after=5.0, reconnect_time_wait=0.05
    )
    return ActorSystem(name, transport=transport, codec=codec())


def nats_of(system: ActorSystem) -> NatsTransport:
    transport = system._transport
    assert isinstance(transport, NatsTransport)
    return transport


async def test_messages_while_the_server_is_away_are_dead_letters(
    nats_server: NatsServer,
) -> None:
    async with node(nats_server, "n1") as n1, node(nats_server, "n2") as n2:
        with anyio.fail_after(WAIT):
            await n2.spawn(Echo, name="echo")
            echo = await nats_of(n1).wait_for_name("echo")
            assert await echo.ask("before") == "before"
            async with anyio.create_task_group() as group:
                failed: list[BaseException] = []

                async def hanging_ask() -> None:
                    with pytest.raises(NodeDownError) as caught:
                        await echo.ask("hang", timeout=None)
                    failed.append(caught.value)

                group.start_soon(hanging_ask)
                while not n2.whereis("echo")._cell._deferred:  # type: ignore[union-attr]
                    await anyio.lowlevel.checkpoint()
                await nats_server.stop()
                await nats_of(n1).wait_until_connected(False)
            assert "connection" in failed[0].why  # type: ignore[attr-defined]

            echo.tell("while away")
            letter = n1.dead_letters.recent[-1]
            assert (letter.recipient, letter.message, letter.reason) == (
                "echo",
                "while away",
                "nats_disconnected",
            )
            with pytest.raises(NodeDownError, match="no connection"):
                await echo.ask("while away")

            await nats_server.start()
            await nats_of(n1).wait_until_connected()
            await nats_of(n2).wait_until_connected()
            # Once each node has heard the other's hello after the restart, asks go again.
            while True:
                try:
                    assert await echo.ask("after", timeout=0.5) == "after"
                    break
                except (NodeDownError, TimeoutError):
                    await anyio.lowlevel.checkpoint()


async def test_a_restart_fails_asks_or_answers_them_never_hangs(nats_server: NatsServer) -> None:
    async with node(nats_server, "n1") as n1, node(nats_server, "n2") as n2:
        await n2.spawn(Echo, name="echo")
        with anyio.fail_after(WAIT):
            echo = await nats_of(n1).wait_for_name("echo")
            outcomes: list[object] = []

            async def ask(n: int) -> None:
                try:
                    outcomes.append(await echo.ask(n, timeout=None))
                except NodeDownError as exc:
                    outcomes.append(exc)

            async with anyio.create_task_group() as group:
                for n in range(20):
                    group.start_soon(ask, n)
                await nats_server.restart()
            assert len(outcomes) == 20
            assert all(isinstance(o, int | NodeDownError) for o in outcomes)

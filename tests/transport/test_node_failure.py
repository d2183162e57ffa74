"""Node failure with real OS processes: a node killed (SIGKILL), frozen (SIGSTOP) and
thawed (SIGCONT), and restarted. The test process is node ``n1``; the other node runs
``tests/transport/_node.py``. Every wait is bounded; children are killed on the way out.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from anyio.abc import Process

from mabeam import ActorDeadError, ActorRef, ActorSystem, NodeDownError
from mabeam.transport import NatsTransport
from mabeam.transport._server import NatsServer

from ._actors import Echo, Watcher, codec

WAIT = 10.0
NODE = Path(__file__).resolve().parent / "_node.py"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@asynccontextmanager
async def node_process(server: NatsServer, name: str) -> AsyncIterator[Process]:
    """Run ``_node.py`` as node ``name`` until the block ends; killed whatever happens."""
    process = await anyio.open_process(
        [sys.executable, str(NODE), server.url, name],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        with anyio.fail_after(WAIT):
            line = b""
            while not line.endswith(b"\n"):
                line += await process.stdout.receive(1)
        assert line == b"ready\n"
        yield process
    finally:
        if process.returncode is None:
            with anyio.CancelScope(shield=True):
                os.kill(process.pid, signal.SIGCONT)
                process.kill()
                with anyio.fail_after(WAIT):
                    await process.wait()


@asynccontextmanager
async def n1(server: NatsServer) -> AsyncIterator[ActorSystem]:
    transport = NatsTransport(
        servers=[server.url], heartbeat=0.05, down_after=0.5, reconnect_time_wait=0.05
    )
    async with ActorSystem("n1", transport=transport, codec=codec()) as system:
        yield system


def nats_of(system: ActorSystem) -> NatsTransport:
    transport = system._transport
    assert isinstance(transport, NatsTransport)
    return transport


async def watch(system: ActorSystem, *names: str) -> tuple[ActorRef, list[ActorRef]]:
    """A watcher on n1 that monitors ``echo-n2`` and links to ``linked-n2``."""
    watcher = await system.spawn(Watcher)
    refs = [await nats_of(system).wait_for_name(name) for name in names]
    await watcher.ask(("monitor", refs[0]))
    await watcher.ask(("link", refs[1]))
    # Both requests reached n2 once an ask sent after them has been answered.
    assert await refs[0].ask("ping") == "ping"
    return watcher, refs


async def signals(watcher: ActorRef, count: int) -> list[tuple[str, object, object]]:
    while len(got := await watcher.ask("signals")) < count:
        await anyio.lowlevel.checkpoint()
    return sorted(got)


async def test_a_killed_node_is_down_for_monitors_links_asks_and_names(
    nats_server: NatsServer,
) -> None:
    async with n1(nats_server) as system, node_process(nats_server, "n2") as child:
        with anyio.fail_after(WAIT):
            watcher, (echo, linked) = await watch(system, "echo-n2", "linked-n2")
            async with anyio.create_task_group() as group:
                outcome: list[BaseException] = []

                async def hanging_ask() -> None:
                    try:
                        await echo.ask("hang", timeout=None)
                    except NodeDownError as exc:
                        outcome.append(exc)

                group.start_soon(hanging_ask)
                await anyio.lowlevel.checkpoint()
                child.kill()
                await nats_of(system).wait_until_down("n2")
            assert len(outcome) == 1
            assert outcome[0].node == "n2"  # type: ignore[attr-defined]
            got = await signals(watcher, 2)
        assert got == [
            ("Down", echo.address, "noconnection"),
            ("Exit", linked.address, "noconnection"),
        ]
        assert system.whereis("echo-n2") is None
        assert nats_of(system).nodes == []
        with anyio.fail_after(WAIT), pytest.raises(NodeDownError):
            await echo.ask("after")
        echo.tell("after")
        assert system.dead_letters.recent[-1].reason == "node_down"


async def test_a_frozen_node_is_down_then_rejoins(nats_server: NatsServer) -> None:
    async with n1(nats_server) as system, node_process(nats_server, "n2") as child:
        with anyio.fail_after(WAIT):
            watcher, (echo, _) = await watch(system, "echo-n2", "linked-n2")
            os.kill(child.pid, signal.SIGSTOP)
            await nats_of(system).wait_until_down("n2")
            assert (await signals(watcher, 2))[0] == ("Down", echo.address, "noconnection")
            assert system.whereis("echo-n2") is None
            os.kill(child.pid, signal.SIGCONT)
            await nats_of(system).wait_for_nodes("n2")
            again = await nats_of(system).wait_for_name("echo-n2")
            # The same process, the same actors: the old ref works again.
            assert again.address == echo.address
            assert await echo.ask("back") == "back"


async def test_a_restarted_node_rejoins_and_old_refs_are_dead(nats_server: NatsServer) -> None:
    async with n1(nats_server) as system:
        async with node_process(nats_server, "n2") as child:
            with anyio.fail_after(WAIT):
                old = await nats_of(system).wait_for_name("echo-n2")
                assert await old.ask("first") == "first"
                child.kill()
                await nats_of(system).wait_until_down("n2")
        async with node_process(nats_server, "n2"):
            with anyio.fail_after(WAIT):
                await nats_of(system).wait_for_nodes("n2")
                new = await nats_of(system).wait_for_name("echo-n2")
                assert await new.ask("second") == "second"
            assert not old.is_alive
            with pytest.raises(ActorDeadError):
                await old.ask("to the old incarnation")


async def test_remote_spawn_to_a_process_node_is_refused_without_allow(
    nats_server: NatsServer,
) -> None:
    from mabeam import ConfigError

    async with n1(nats_server) as system, node_process(nats_server, "n2"):
        with anyio.fail_after(WAIT):
            await nats_of(system).wait_for_nodes("n2")
            with pytest.raises(ConfigError, match="may not be started"):
                await system.spawn(Echo, node="n2")

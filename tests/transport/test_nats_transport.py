"""Two nodes over a real nats-server: lifecycle, tell, ask, remote refs, names, spawn.

Both nodes run in this process, each with its own NATS connection, so every envelope
between them goes through the server. Every wait is bounded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from mabeam import (
    ActorCrashedError,
    ActorDeadError,
    ActorSystem,
    AskTimeoutError,
    ConfigError,
    NodeDownError,
)
from mabeam.runtime import Address
from mabeam.runtime._ref import Remote
from mabeam.transport import NatsTransport
from mabeam.transport._server import NatsServer

from ._actors import Echo, Greeting, Watcher, codec

WAIT = 5.0


def transport(server: NatsServer, **options: Any) -> NatsTransport:
    options.setdefault("heartbeat", 0.05)
    options.setdefault("down_after", 1.0)
    return NatsTransport(servers=[server.url], reconnect_time_wait=0.05, **options)


@asynccontextmanager
async def nodes(
    server: NatsServer, *names: str, **options: Any
) -> AsyncIterator[list[ActorSystem]]:
    systems = [ActorSystem(n, transport=transport(server, **options), codec=codec()) for n in names]
    with anyio.fail_after(WAIT):
        for system in systems:
            await system.__aenter__()
    try:
        with anyio.fail_after(WAIT):
            for system in systems:
                tr = system._transport
                assert isinstance(tr, NatsTransport)
                await tr.wait_for_nodes(*(n for n in names if n != system.name))
        yield systems
    finally:
        with anyio.fail_after(WAIT):
            for system in reversed(systems):
                await system.shutdown()


def nats_of(system: ActorSystem) -> NatsTransport:
    tr = system._transport
    assert isinstance(tr, NatsTransport)
    return tr


# ------------------------------------------------------------------ lifecycle


async def test_start_and_close_connect_and_disconnect(nats_server: NatsServer) -> None:
    tr = transport(nats_server)
    async with ActorSystem("n1", transport=tr) as system:
        assert tr.connected
        assert tr.node == "n1"
        assert not system.closed
    assert not tr.connected


async def test_close_runs_under_cancellation(nats_server: NatsServer) -> None:
    tr = transport(nats_server)
    with anyio.move_on_after(WAIT) as scope:
        async with ActorSystem("n1", transport=tr):
            scope.cancel()
            await anyio.lowlevel.checkpoint()
    assert scope.cancelled_caught
    assert not tr.connected


async def test_a_server_that_is_not_there_fails_the_start(nats_server: NatsServer) -> None:
    url = nats_server.url
    await nats_server.stop()
    tr = NatsTransport(servers=[url], connect_timeout=0.5)
    system = ActorSystem("n1", transport=tr)
    with anyio.fail_after(WAIT), pytest.raises(NodeDownError, match="cannot connect"):
        await system.__aenter__()
    assert system.closed


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"heartbeat": 0}, "heartbeat"),
        ({"heartbeat": 1.0, "down_after": 0.5}, "down_after"),
        ({"prefix": "a.b"}, "prefix"),
        ({"servers": []}, "servers"),
        ({"allow": ["no_such_module_x:Thing"]}, "allow"),
        ({"allow": [int]}, "allow"),
    ],
)
def test_bad_options_name_the_field(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=f"^{field}: "):
        NatsTransport(**options)


async def test_a_node_name_must_be_a_subject_token(nats_server: NatsServer) -> None:
    with anyio.fail_after(WAIT), pytest.raises(ConfigError, match=r"^name: "):
        async with ActorSystem("bad.name", transport=transport(nats_server)):
            pass


async def test_local_messages_do_not_touch_nats(nats_server: NatsServer) -> None:
    async with nodes(nats_server, "n1", heartbeat=60, down_after=120) as (n1,):
        ref = await n1.spawn(Echo, name="echo")
        client = nats_of(n1)._client
        assert client is not None
        published: list[str] = []
        publish = client.publish

        async def spy(subject: str, *args: Any, **kwargs: Any) -> None:
            published.append(subject)
            await publish(subject, *args, **kwargs)

        client.publish = spy  # type: ignore[method-assign]
        with anyio.fail_after(WAIT):
            for n in range(50):
                assert await ref.ask(n) == n
            n1.tell("echo", "by name")
            assert (await ref.ask("told"))[-1] == "by name"
        assert not [s for s in published if s.startswith("mabeam.node.")]


# ------------------------------------------------------------------ messaging between nodes


async def test_tell_and_ask_across_nodes(nats_server: NatsServer) -> None:
    async with nodes(nats_server, "n1", "n2") as (n1, n2):
        local = await n2.spawn(Echo, "hi ", name="coder")
        with anyio.fail_after(WAIT):
            ref = await nats_of(n1).wait_for_name("coder")
        assert isinstance(ref._cell, Remote)
        assert ref.address == local.address == Address("n2", local.id)
        assert ref.is_alive
        with anyio.fail_after(WAIT):
            assert await ref.ask(Greeting("there")) == Greeting("hi there")
            ref.tell(1)
            ref.tell((2, "two"))
            assert await ref.ask("told") == [Greeting("there"), 1, (2, "two")]
            assert await ref.ask("sender") is None  # application code


async def test_ask_all_across_nodes_and_here(nats_server: NatsServer) -> None:
    async with nodes(nats_server, "n1", "n2") as (n1, n2):
        far = await n2.spawn(Echo, "far ", name="far")
        near = await n1.spawn(Echo, "near ", name="near")
        with anyio.fail_after(WAIT):
            await nats_of(n1).wait_for_name("far")
            by_ref = n1._ref_for(far.address, None)
            answers = await n1.ask_all(
                ["far", near, by_ref, "nobody"], Greeting("all"), timeout=WAIT
            )
        assert answers[:3] == [Greeting("far all"), Greeting("near all"), Greeting("far all")]
        assert isinstance(answers[3], ActorDeadError)
        with anyio.fail_after(WAIT):
            (crashed,) = await n1.ask_all([by_ref], "crash", timeout=WAIT)
            other = await n2.spawn(Echo, name="other")
            (hung,) = await n1.ask_all([n1._ref_for(other.address, "other")], "hang", timeout=0.2)
        assert isinstance(crashed, ActorCrashedError)
        assert isinstance(crashed.__cause__, ValueError)
        assert isinstance(hung, AskTimeoutError)
        assert n1._pending == {}


async def test_a_crash_answers_the_remote_ask(nats_server: NatsServer) -> None:
    async with nodes(nats_server, "n1", "n2") as (n1, n2):
        local = await n2.spawn(Echo)
        ref = n1._ref_for(local.address, None)
        with anyio.fail_after(WAIT), pytest.raises(ActorCrashedError) as caught:
            await ref.ask("crash")
        assert isinstance(caught.value.__cause__, ValueError)


async def test_names_across_the_cluster(nats_server: NatsServer) -> None:
    async with nodes(nats_server, "n1", "n2") as (n1, n2):
        watcher = await n1.spawn(Watcher, name="w")
        coder = await n2.spawn(Echo, name="coder")
        with anyio.fail_after(WAIT):
            await nats_of(n1).wait_for_name("coder")
            # context.tell and system.tell by a name on the other node
            await watcher.ask(("tell_name", "coder", "from an actor"))
            n1.tell("coder", "from code")
            while len(await coder.ask("told")) < 2:
                await anyio.lowlevel.checkpoint()
        assert sorted(await coder.ask("told")) == ["from an actor", "from code"]
        # a name that leaves is gone from the other node's registry
        n2.unregister("coder")
        with anyio.fail_after(WAIT):
            while n1.whereis("coder") is not None:
                await nats_of(n1)._changed.wait()
                nats_of(n1)._changed.clear()
        n1.tell("coder", "nobody")
        assert n1.dead_letters.recent[-1].reason == "no_such_name"


async def test_the_sender_of_a_remote_message_can_be_answered(nats_server: NatsServer) -> None:
    async with nodes(nats_server, "n1", "n2") as (n1, n2):
        echo = await n2.spawn(Echo, name="echo")
        watcher = await n1.spawn(Watcher)
        ref = n1._ref_for(echo.address, "echo")
        with anyio.fail_after(WAIT):
            await watcher.ask(("via", ref, ("reply_to_sender", "back")))
            while not await watcher.ask("got"):
                await anyio.lowlevel.checkpoint()
            assert await watcher.ask("got") == ["back"]
            await watcher.ask(("via", ref, "sender"))


async def test_stop_a_remote_actor(nats_server: NatsServer) -> None:
    async with nodes(nats_server, "n1", "n2") as (n1, n2):
        local = await n2.spawn(Echo, name="victim")
        ref = n1._ref_for(local.address, "victim")
        with anyio.fail_after(WAIT):
            await ref.stop()
            await local.join()
        assert not local.is_alive
        assert not ref.is_alive


async def test_monitor_and_link_across_nodes(nats_server: NatsServer) -> None:
    async with nodes(nats_server, "n1", "n2") as (n1, n2):
        target = await n2.spawn(Echo, name="target")
        linked = await n2.spawn(Echo, name="linked")
        watcher = await n1.spawn(Watcher)
        with anyio.fail_after(WAIT):
            t_ref = n1._ref_for(target.address, "target")
            l_ref = n1._ref_for(linked.address, "linked")
            monitor_id = await watcher.ask(("monitor", t_ref))
            await watcher.ask(("link", l_ref))
            await target.ask("ping")  # the monitor request was handled before this answer
            await linked.ask("ping")
        with anyio.fail_after(WAIT):
            while not (target._cell._monitors and linked._cell._links):
                await anyio.lowlevel.checkpoint()
            target.tell("crash")
            linked.tell("crash")
            while len(await watcher.ask("signals")) < 2:
                await anyio.lowlevel.checkpoint()
        signals = sorted(await watcher.ask("signals"), key=lambda s: s[0])
        assert [s[0] for s in signals] == ["Down", "Exit"]
        assert signals[0][1] == target.address
        assert isinstance(signals[0][2], ValueError)
        assert signals[1][1] == linked.address
        assert not t_ref.is_alive
        del monitor_id


async def test_a_remote_actor_linked_to_a_local_one_dies_with_it(nats_server: NatsServer) -> None:
    async with nodes(nats_server, "n1", "n2") as (n1, n2):
        remote_watcher = await n2.spawn(Watcher)
        local = await n1.spawn(Echo)
        with anyio.fail_after(WAIT):
            ref = n2._ref_for(local.address, None)
            await remote_watcher.ask(("link", ref))
            while not local._cell._links:
                await anyio.lowlevel.checkpoint()
            local.tell("crash")
            while not await remote_watcher.ask("signals"):
                await anyio.lowlevel.checkpoint()
        [(kind, address, reason)] = await remote_watcher.ask("signals")
        assert (kind, address) == ("Exit", local.address)
        assert isinstance(reason, ValueError)


async def test_monitoring_an_actor_that_is_gone_is_down_noproc(nats_server: NatsServer) -> None:
    async with nodes(nats_server, "n1", "n2") as (n1, n2):
        gone = await n2.spawn(Echo)
        await gone.stop()
        watcher = await n1.spawn(Watcher)
        with anyio.fail_after(WAIT):
            await watcher.ask(("monitor", n1._ref_for(gone.address, None)))
            while not await watcher.ask("signals"):
                await anyio.lowlevel.checkpoint()
        assert await watcher.ask("signals") == [("Down", gone.address, "noproc")]


# ------------------------------------------------------------------ remote spawn


async def test_spawn_on_another_node(nats_server: NatsServer) -> None:
    async with nodes(nats_server, "n1", "n2", allow=[Echo, "tests.transport._actors:Watcher"]) as (
        n1,
        n2,
    ):
        with anyio.fail_after(WAIT):
            ref = await n1.spawn(Echo, "remote ", node="n2", name="spawned")
            assert ref.address.node == "n2"
            assert n2.whereis("spawned") is not None
            assert await ref.ask(Greeting("x")) == Greeting("remote x")
            assert (await n1.spawn("tests.transport._actors:Watcher", node="n2")).is_alive  # type: ignore[arg-type]
            here = await n1.spawn(Echo, node="n1")
            assert here.address.node == "n1"


async def test_spawn_of_a_class_not_allowed_is_refused(nats_server: NatsServer) -> None:
    async with nodes(nats_server, "n1", "n2", allow=[Echo]) as (n1, n2):
        before = n2.actor_count
        with anyio.fail_after(WAIT), pytest.raises(ConfigError, match="may not be started"):
            await n1.spawn(Watcher, node="n2")
        with anyio.fail_after(WAIT), pytest.raises(ConfigError, match="may not be started"):
            await n1.spawn("os:system", node="n2")  # type: ignore[arg-type]
        assert n2.actor_count == before


async def test_spawn_on_a_node_that_is_not_up_fails_at_once(nats_server: NatsServer) -> None:
    async with nodes(nats_server, "n1") as (n1,):
        with anyio.fail_after(WAIT), pytest.raises(NodeDownError) as caught:
            await n1.spawn(Echo, node="n9")
        assert caught.value.node == "n9"


async def test_spawn_without_a_cluster_transport_is_a_config_error() -> None:
    async with ActorSystem("solo") as system:
        with pytest.raises(ConfigError, match=r"^node: "):
            await system.spawn(Echo, node="other")


# ------------------------------------------------------------------ unreachable nodes


async def test_messages_to_an_unknown_node_are_dead_letters(nats_server: NatsServer) -> None:
    async with nodes(nats_server, "n1") as (n1,):
        ref = n1._ref_for(Address("n9", 3), "ghost")
        ref.tell("lost")
        letter = n1.dead_letters.recent[-1]
        assert (letter.recipient, letter.reason) == ("ghost", "node_down")
        with anyio.fail_after(WAIT), pytest.raises(NodeDownError, match="n9"):
            await ref.ask("hello")


async def test_monitor_or_link_to_a_node_that_is_down_is_noconnection_at_once(
    nats_server: NatsServer,
) -> None:
    async with nodes(nats_server, "n1") as (n1,):
        watcher = await n1.spawn(Watcher)
        ghost = n1._ref_for(Address("n9", 4), None)
        with anyio.fail_after(WAIT):
            await watcher.ask(("monitor", ghost))
            await watcher.ask(("link", ghost))
            got = sorted(await watcher.ask("signals"))
        assert got == [
            ("Down", Address("n9", 4), "noconnection"),
            ("Exit", Address("n9", 4), "noconnection"),
        ]
        with anyio.fail_after(WAIT):
            await ghost.stop()  # returns: nothing to wait for on a node that is down


async def test_a_node_that_leaves_is_down_for_the_others(nats_server: NatsServer) -> None:
    async with nodes(nats_server, "n1") as (n1,):
        watcher = await n1.spawn(Watcher)
        n2 = ActorSystem("n2", transport=transport(nats_server), codec=codec())
        with anyio.fail_after(WAIT):
            async with n2:
                target = await n2.spawn(Echo, name="t")
                await nats_of(n1).wait_for_nodes("n2")
                await watcher.ask(("monitor", n1._ref_for(target.address, "t")))
                while not target._cell._monitors:
                    await anyio.lowlevel.checkpoint()
                n1_down = nats_of(n1).wait_until_down("n2")
            await n1_down
            while not await watcher.ask("signals"):
                await anyio.lowlevel.checkpoint()
        # n2 stopped its actors first (Down shutdown), then said goodbye
        [(kind, address, reason)] = await watcher.ask("signals")
        assert (kind, address) == ("Down", target.address)
        assert reason in ("shutdown", "noconnection")
        assert n1.whereis("t") is None
        assert nats_of(n1).nodes == []


async def test_a_name_change_is_announced_at_once_not_at_the_next_heartbeat(
    nats_server: NatsServer,
) -> None:
    """With a heartbeat of a minute, names still show up and leave within milliseconds."""
    async with nodes(nats_server, "n1", "n2", heartbeat=60, down_after=120) as (n1, n2):
        with anyio.fail_after(WAIT):
            ref = await n2.spawn(Echo, name="fresh")
            found = await nats_of(n1).wait_for_name("fresh")
            assert found.address == ref.address
            await ref.stop()
            while n1.whereis("fresh") is not None:
                nats_of(n1)._changed.clear()
                await nats_of(n1)._changed.wait()

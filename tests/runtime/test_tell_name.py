"""Telling a registered name (``ActorSystem.tell`` / ``ActorContext.tell``): resolved when
sent without a transport, dead letters with a stable reason, the sender stamped."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import pytest

from mabeam import (
    ActorSystem,
    ChildSpec,
    ConfigError,
    DeadLetter,
    Supervisor,
)
from mabeam.runtime import ACTOR_NOT_RUNNING, NO_SUCH_NAME, Actor, Address, Envelope, ExitReason
from mabeam.runtime._envelope import TELL
from mabeam.runtime.supervision import count_children

from ._support import Crash, Events, Ping, Puppet, Recorder, run_in


class Who(Actor):
    """Records ``(message, sender label)`` for every message in ``events``."""

    def __init__(self, events: Events) -> None:
        self.events = events

    async def receive(self, message: Any) -> Any:
        sender = self.context.sender
        self.events.append((message, None if sender is None else sender.label))
        return None


class SlowStop(Actor):
    """Its ``on_stop`` sets ``stopping`` and waits for ``gate``: it stays registered but
    stopping until then."""

    def __init__(self, gate: asyncio.Event, stopping: asyncio.Event) -> None:
        self.gate = gate
        self.stopping = stopping

    async def on_stop(self, reason: ExitReason) -> None:
        self.stopping.set()
        await self.gate.wait()

    async def receive(self, message: Any) -> Any:
        return message


async def test_context_tell_reaches_the_registered_actor_with_the_actor_as_sender() -> None:
    """Inside an actor, context.tell(name, m) enqueues m for the actor registered as name,
    stamped with the telling actor as sender."""
    events = Events()
    async with ActorSystem() as system:
        await system.spawn(Who, events, name="who")
        puppet = await system.spawn(Puppet, name="puppet")

        async def tell(actor: Puppet) -> None:
            actor.context.tell("who", Ping(1))
            actor.context.tell("who", Ping(2))

        with anyio.fail_after(5):
            await run_in(puppet, tell)
            assert await events.wait_for(2) == [(Ping(1), "puppet"), (Ping(2), "puppet")]
        assert system.dead_letters.count == 0


async def test_system_tell_from_application_code_has_no_sender() -> None:
    """ActorSystem.tell outside any actor stamps no sender, as ref.tell does."""
    events = Events()
    async with ActorSystem() as system:
        await system.spawn(Who, events, name="who")
        system.tell("who", Ping(3))
        with anyio.fail_after(5):
            assert await events.wait_for(1) == [(Ping(3), None)]


async def test_a_name_nobody_holds_is_a_dead_letter_no_such_name() -> None:
    """Nothing registered under the name: a dead letter naming it, with reason no_such_name
    and the sender, and nothing raised."""
    async with ActorSystem() as system:
        puppet = await system.spawn(Puppet, name="puppet")

        async def tell(actor: Puppet) -> None:
            actor.context.tell("ghost", Ping(4))

        await run_in(puppet, tell)
        system.tell("ghost", Ping(5))
        assert system.dead_letters.recent == [
            DeadLetter(recipient="ghost", sender="puppet", message=Ping(4), reason=NO_SUCH_NAME),
            DeadLetter(recipient="ghost", sender=None, message=Ping(5), reason=NO_SUCH_NAME),
        ]
        assert system.dead_letters.by_reason == {"no_such_name": 2}


async def test_a_stopping_actor_still_registered_gets_a_dead_letter_actor_not_running() -> None:
    """An actor running its on_stop keeps its name but takes no message: actor_not_running."""
    gate, in_on_stop = asyncio.Event(), asyncio.Event()
    async with ActorSystem() as system:
        ref = await system.spawn(SlowStop, gate, in_on_stop, name="slow")
        stopping = asyncio.create_task(ref.stop())
        with anyio.fail_after(5):
            await in_on_stop.wait()
        assert system.whereis("slow") is ref
        assert not ref.is_alive
        system.tell("slow", Ping(6))
        gate.set()
        await stopping
        assert system.dead_letters.recent == [
            DeadLetter(recipient="slow", sender=None, message=Ping(6), reason=ACTOR_NOT_RUNNING)
        ]
        assert system.whereis("slow") is None


async def test_a_restarted_actor_is_reached_by_its_name() -> None:
    """The name follows the incarnations: after a supervised restart it reaches the new one."""
    events = Events()
    async with ActorSystem() as system:
        sup = await system.spawn(
            Supervisor, [ChildSpec("worker", Recorder, (events, "w"), name="worker")]
        )
        first = system.whereis("worker")
        assert first is not None
        system.tell("worker", Crash())
        with anyio.fail_after(5):
            await first.join()
            await count_children(sup)  # the supervisor has handled the exit
        second = system.whereis("worker")
        assert second is not None
        assert second is not first
        seen = len(events.items)
        system.tell("worker", Ping(7))
        with anyio.fail_after(5):
            items = await events.wait_for(seen + 1)
        assert items[seen:] == [("msg", "w", Ping(7))]
        assert events.tags("restart") == ["w"]


@pytest.mark.parametrize("name", [None, 3, b"who"])
async def test_a_name_that_is_not_a_string_is_refused(name: Any) -> None:
    """A ref or anything else where a name belongs: ConfigError naming the field."""
    async with ActorSystem() as system:
        with pytest.raises(ConfigError) as info:
            system.tell(name, Ping())
        assert info.value.field == "name"
        assert "ref.tell" in str(info.value)


class PlainTransport:
    """The smallest transport: records every envelope and hands it back at once."""

    def __init__(self) -> None:
        self.sent: list[Envelope] = []
        self.system: ActorSystem | None = None

    def attach(self, system: ActorSystem) -> None:
        self.system = system

    def send(self, envelope: Envelope) -> None:
        self.sent.append(envelope)
        assert self.system is not None
        self.system.deliver(envelope)


async def test_a_name_addressed_tell_crosses_a_transport_by_name_and_resolves_on_arrival() -> None:
    """The envelope carries the name, not a resolved actor (destination id 0): the
    receiving system resolves it; no actor under the name is a dead letter then."""
    transport = PlainTransport()
    events = Events()
    async with ActorSystem("n1", transport=transport) as system:
        await system.spawn(Who, events, name="who")
        system.tell("who", Ping(8))
        system.tell("ghost", Ping(9))
        with anyio.fail_after(5):
            assert await events.wait_for(1) == [(Ping(8), None)]
        assert [(e.kind, e.src, e.dst, e.dst_name, e.payload) for e in transport.sent] == [
            (TELL, Address("n1", 0), Address("n1", 0), "who", Ping(8)),
            (TELL, Address("n1", 0), Address("n1", 0), "ghost", Ping(9)),
        ]
        assert [(d.recipient, d.reason) for d in system.dead_letters.recent] == [
            ("ghost", NO_SUCH_NAME)
        ]


async def test_a_name_addressed_tell_to_a_stopping_actor_is_a_dead_letter_on_arrival() -> None:
    """A stopping actor under the name when the envelope arrives: ``actor_not_running``."""
    transport = PlainTransport()
    gate, in_on_stop = asyncio.Event(), asyncio.Event()
    async with ActorSystem(transport=transport) as system:
        ref = await system.spawn(SlowStop, gate, in_on_stop, name="slow")
        stopping = asyncio.create_task(ref.stop())
        with anyio.fail_after(5):
            await in_on_stop.wait()
        system.tell("slow", Ping(10))
        gate.set()
        await stopping
        assert [e.dst_name for e in transport.sent] == ["slow"]
        assert [(d.recipient, d.reason) for d in system.dead_letters.recent] == [
            ("slow", ACTOR_NOT_RUNNING)
        ]

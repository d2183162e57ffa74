"""Timers: send_after and send_interval on virtual time, cancelled with their actor."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from mabeam import Actor, ActorSystem, ConfigError, Mailbox
from mabeam.runtime import Timer

from ._support import Events, Puppet, now, run_in

pytestmark = pytest.mark.virtual_time


class Tick(msgspec.Struct, frozen=True):
    n: int = 0


class Ticker(Actor):
    """Records ``(message, time, sender)``; on start sets the timers it is given."""

    def __init__(
        self,
        events: Events,
        *,
        after: float | None = None,
        every: float | None = None,
        work: float = 0.0,
    ) -> None:
        self.events = events
        self.after = after
        self.every = every
        self.work = work
        self.timers: list[Timer] = []

    async def on_start(self) -> None:
        if self.after is not None:
            self.timers.append(self.context.send_after(self.after, Tick(0)))
        if self.every is not None:
            self.timers.append(self.context.send_interval(self.every, Tick(1)))

    async def receive(self, message: Any) -> Any:
        if message == "timers":
            return self.timers
        if message == "cancel":
            for timer in self.timers:
                timer.cancel()
            return None
        if message == "stop":
            self.context.stop()
            return None
        self.events.append((message, now(), self.context.sender))
        if self.work:
            await asyncio.sleep(self.work)
        return None


async def test_send_after_delivers_once_at_exactly_the_delay() -> None:
    """send_after(2.5, msg) delivers msg once, at t=2.5, with no sender."""
    events = Events()
    async with ActorSystem() as system:
        ref = await system.spawn(Ticker, events, after=2.5)
        (timer,) = await ref.ask("timers")
        assert timer.active
        await events.wait_for(1)
        assert events.items == [(Tick(0), 2.5, None)]
        assert not timer.active
        await asyncio.sleep(10)
        assert len(events.items) == 1


async def test_send_interval_ticks_at_exact_times_without_drift() -> None:
    """send_interval(1.0) ticks at t=1, 2, 3 ... exactly, though each tick takes 0.4 s."""
    events = Events()
    async with ActorSystem() as system:
        await system.spawn(Ticker, events, every=1.0, work=0.4)
        await events.wait_for(6)
    assert [time for _, time, _ in events.items[:6]] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


async def test_a_cancelled_timer_sends_nothing() -> None:
    """Timer.cancel() stops a pending or periodic timer; active turns False."""
    events = Events()
    async with ActorSystem() as system:
        ref = await system.spawn(Ticker, events, after=5.0, every=2.0)
        await events.wait_for(1)  # the periodic tick at t=2
        await ref.ask("cancel")
        timers = await ref.ask("timers")
        assert not any(t.active for t in timers)
        await asyncio.sleep(20)
        assert events.items == [(Tick(1), 2.0, None)]
        timers[0].cancel()  # cancelling twice is harmless


async def test_timers_die_with_their_actor_and_leave_no_dead_letters() -> None:
    """When the actor exits its timers are cancelled: no message, no dead letter after death."""
    events = Events()
    async with ActorSystem() as system:
        ref = await system.spawn(Ticker, events, after=10.0, every=1.0)
        timers = await ref.ask("timers")
        await events.wait_for(2)
        assert now() == 2.0
        await ref.stop()
        assert not any(t.active for t in timers)
        await asyncio.sleep(30)
        assert len(events.items) == 2
        assert system.dead_letters.count == 0


async def test_timers_set_from_a_handler_use_the_actor_clock() -> None:
    """A timer set in a handler counts from the current virtual time."""
    events = Events()
    async with ActorSystem() as system:
        puppet = await system.spawn(Puppet, events)
        await asyncio.sleep(3)

        async def arm(actor: Puppet) -> float:
            actor.context.send_after(1.5, "ping")
            return actor.context.time()

        assert await run_in(puppet, arm) == 3.0
        await events.wait_for(1)
        assert now() == 4.5
        assert system.time() == 4.5


async def test_send_interval_needs_a_positive_interval() -> None:
    """A zero or negative interval is refused with ValueError."""
    async with ActorSystem() as system:
        puppet = await system.spawn(Puppet)

        async def bad(actor: Puppet) -> None:
            for interval in (0, -1.0):
                with pytest.raises(ConfigError, match="interval: must be seconds > 0"):
                    actor.context.send_interval(interval, "x")

        await run_in(puppet, bad)


class Stuck(Actor):
    """A one-slot "fail" mailbox; the first message blocks until ``gate``; ticks every second."""

    mailbox = Mailbox(1, "fail")

    def __init__(self, gate: asyncio.Event, events: Events) -> None:
        self.gate = gate
        self.events = events

    async def on_start(self) -> None:
        self.context.send_interval(1.0, Tick())

    async def receive(self, message: Any) -> Any:
        self.events.append((message, now()))
        await self.gate.wait()
        return None


async def test_a_tick_that_meets_a_full_mailbox_is_a_dead_letter() -> None:
    """A timer message that finds the mailbox full becomes a dead letter (mailbox_full)."""
    gate = asyncio.Event()
    events = Events()
    async with ActorSystem() as system:
        await system.spawn(Stuck, gate, events, name="stuck")
        await asyncio.sleep(3.5)  # t=1 handled (blocks), t=2 queued, t=3 refused
        assert events.items == [(Tick(), 1.0)]
        assert system.dead_letters.by_reason == {"mailbox_full": 1}
        assert system.dead_letters.recent[0].recipient == "stuck"
        gate.set()
        await events.wait_for(2)
        assert events.items[1] == (Tick(), 3.5)

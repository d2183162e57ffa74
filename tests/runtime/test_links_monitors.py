"""Links (two-way exit propagation, trap_exit) and monitors (one-way Down messages)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from mabeam import (
    NOPROC,
    NORMAL,
    SHUTDOWN,
    Actor,
    ActorRef,
    ActorSystem,
    Down,
    Exit,
)

from ._support import (
    Boom,
    Crash,
    Echo,
    Events,
    Exits,
    Puppet,
    Run,
    StopMe,
    downs,
    exits,
    link_to,
    monitor,
    run_in,
)

EXITS = {
    "crash": (Crash("linked crash"), Boom),
    "normal": (StopMe(), NORMAL),
    "shutdown": (StopMe("shutdown"), SHUTDOWN),
    "custom": (StopMe("gave_up"), "gave_up"),
}


EXIT_KINDS = [pytest.param(kind, id=kind) for kind in EXITS]


def matches(reason: Any, expected: Any) -> bool:
    """Whether an exit reason is the expected atom, or an instance of the expected class."""
    if isinstance(expected, type):
        return isinstance(reason, expected)
    return bool(reason == expected)


# -- links -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "direction",
    [pytest.param("linker-dies", id="linker-crashes"), pytest.param("linked-dies", id="target")],
)
async def test_a_crash_propagates_over_a_link_both_ways(direction: str) -> None:
    """Whichever end of a link crashes, the other (not trapping) dies with the same reason."""
    async with ActorSystem() as system:
        recorded = Exits(system)
        a = await system.spawn(Puppet, name="a")
        b = await system.spawn(Puppet, name="b")
        await link_to(a, b)
        dying, other = (a, b) if direction == "linker-dies" else (b, a)
        dying.tell(Crash("linked crash"))
        with anyio.fail_after(5):
            await other.join()
        assert not dying.is_alive
        reason = recorded.reason(other.label)
        assert isinstance(reason, Boom)
        assert reason is recorded.reason(dying.label)


@pytest.mark.parametrize(
    ("how", "propagates"),
    [
        pytest.param("normal", False, id="normal-does-not-propagate"),
        pytest.param("shutdown", True, id="shutdown-propagates"),
        pytest.param("custom", True, id="custom-reason-propagates"),
    ],
)
async def test_only_non_normal_exits_kill_a_linked_actor(how: str, propagates: bool) -> None:
    """A link carries every exit, but a non-trapping actor ignores reason normal."""
    async with ActorSystem() as system:
        recorded = Exits(system)
        a = await system.spawn(Puppet)
        b = await system.spawn(Puppet)
        await link_to(a, b)
        message, expected = EXITS[how]
        b.tell(message)
        with anyio.fail_after(5):
            await b.join()
            if propagates:
                await a.join()
                assert matches(recorded.reason(a.label), expected)
            else:
                assert await a.ask("still here") is None
                assert a.is_alive


@pytest.mark.parametrize("how", EXIT_KINDS)
async def test_trap_exit_turns_exit_signals_into_messages(how: str) -> None:
    """A trapping actor survives a linked actor's exit and gets Exit(ref, reason) instead."""
    events = Events()
    async with ActorSystem() as system:
        trapper = await system.spawn(Puppet, events, trap_exit=True)
        b = await system.spawn(Puppet)
        await link_to(trapper, b)
        message, expected = EXITS[how]
        b.tell(message)
        with anyio.fail_after(5):
            await events.wait_for(1)
        (exit_,) = exits(events)
        assert exit_.actor is b
        assert matches(exit_.reason, expected)
        assert trapper.is_alive


class TrapByClass(Actor):
    trap_exit = True

    def __init__(self, events: Events) -> None:
        self.events = events

    async def receive(self, message: Any) -> Any:
        self.events.append((message, self.context.sender, self.context.trap_exit))
        return None


async def test_trap_exit_class_attribute_and_exit_sender() -> None:
    """trap_exit may be a class attribute; an Exit message's sender is the exited actor."""
    events = Events()
    async with ActorSystem() as system:
        trapper = await system.spawn(TrapByClass, events)
        b = await system.spawn(Puppet)
        await link_to(b, trapper)
        b.tell(Crash())
        with anyio.fail_after(5):
            await events.wait_for(1)
    ((message, sender, trapping),) = events.items
    assert isinstance(message, Exit)
    assert sender is b
    assert trapping is True


@pytest.mark.parametrize("trap", [pytest.param(True, id="trapping"), pytest.param(False, id="not")])
async def test_linking_to_a_dead_actor_is_an_exit_noproc(trap: bool) -> None:
    """link() to an actor that is gone sends an exit signal noproc at once (OTP)."""
    events = Events()
    async with ActorSystem() as system:
        recorded = Exits(system)
        dead = await system.spawn(Echo)
        await dead.stop()
        linker = await system.spawn(Puppet, events, trap_exit=trap)
        linker.tell(_link_message(dead))
        with anyio.fail_after(5):
            if trap:
                await events.wait_for(1)
                assert exits(events) == [Exit(dead, NOPROC)]
                assert linker.is_alive
            else:
                await linker.join()
                assert recorded.reason(linker.label) == NOPROC


def _link_message(target: ActorRef) -> Run:
    async def link(actor: Puppet) -> None:
        actor.context.link(target)

    return Run(link)


async def test_unlink_stops_propagation() -> None:
    """After unlink, a crash of the former peer no longer reaches the actor."""
    async with ActorSystem() as system:
        a = await system.spawn(Puppet)
        b = await system.spawn(Puppet)
        await link_to(a, b)

        async def unlink(actor: Puppet) -> None:
            actor.context.unlink(b)

        await run_in(a, unlink)
        b.tell(Crash())
        with anyio.fail_after(5):
            await b.join()
            assert await a.ask("alive?") is None
        assert a.is_alive


class LinkedParent(Actor):
    """Spawns a linked child on request and records Exit messages if trapping."""

    def __init__(self, events: Events, trap: bool) -> None:
        self.events = events
        self.trap = trap

    async def on_start(self) -> None:
        self.context.trap_exit = self.trap

    async def receive(self, message: Any) -> Any:
        if message == "spawn":
            child: ActorRef = await self.context.spawn_link(Puppet)
            return child
        self.events.append(message)
        return None


@pytest.mark.parametrize("trap", [pytest.param(False, id="dies"), pytest.param(True, id="traps")])
async def test_spawn_link_ties_the_owner_to_its_child(trap: bool) -> None:
    """A spawn_link child's crash kills a non-trapping owner, or reaches a trapping one as Exit."""
    events = Events()
    async with ActorSystem() as system:
        recorded = Exits(system)
        owner = await system.spawn(LinkedParent, events, trap)
        child = await owner.ask("spawn")
        child.tell(Crash("child crash"))
        with anyio.fail_after(5):
            if trap:
                await events.wait_for(1)
                (exit_,) = events.items
                assert isinstance(exit_, Exit)
                assert exit_.actor is child
                assert owner.is_alive
            else:
                await owner.join()
                assert isinstance(recorded.reason(owner.label), Boom)


async def test_link_to_itself_is_a_no_op() -> None:
    """An actor linking to itself changes nothing."""
    async with ActorSystem() as system:
        a = await system.spawn(Puppet)

        async def self_link(actor: Puppet) -> None:
            actor.context.link(actor.context.self)

        await run_in(a, self_link)
        assert a.is_alive
        with anyio.fail_after(5):
            await a.stop()


# -- monitors ----------------------------------------------------------------------------


@pytest.mark.parametrize("how", EXIT_KINDS)
async def test_monitor_delivers_down_with_the_reason(how: str) -> None:
    """A watcher gets Down(ref, reason, monitor_id) when the target exits, for any reason."""
    events = Events()
    async with ActorSystem() as system:
        watcher = await system.spawn(Puppet, events)
        target = await system.spawn(Puppet)
        monitor_id = await monitor(watcher, target)
        message, expected = EXITS[how]
        target.tell(message)
        with anyio.fail_after(5):
            await events.wait_for(1)
        (down,) = downs(events)
        assert down.actor is target
        assert down.monitor == monitor_id
        assert matches(down.reason, expected)
        assert watcher.is_alive


async def test_monitor_is_one_way() -> None:
    """The watcher's crash does not affect the target, nor its later monitor."""
    events = Events()
    async with ActorSystem() as system:
        target_events = Events()
        target = await system.spawn(Puppet, target_events)
        watcher = await system.spawn(Puppet, events)
        await monitor(watcher, target)
        second = await system.spawn(Puppet, events)
        await monitor(second, target)
        watcher.tell(Crash())
        with anyio.fail_after(5):
            await watcher.join()
            assert await target.ask("fine") is None
            assert target.is_alive
            await target.stop()
            await events.wait_for(1)
        assert len(downs(events)) == 1  # only the live watcher heard of it
        assert target_events.items == ["fine"]


async def test_monitoring_a_dead_actor_gives_down_noproc_at_once() -> None:
    """monitor() of an actor that is gone queues Down(noproc) immediately."""
    events = Events()
    async with ActorSystem() as system:
        dead = await system.spawn(Echo)
        await dead.stop()
        watcher = await system.spawn(Puppet, events)
        monitor_id = await monitor(watcher, dead)
        with anyio.fail_after(5):
            await events.wait_for(1)
        assert downs(events) == [Down(dead, NOPROC, monitor_id)]


async def test_demonitor_stops_the_down() -> None:
    """After demonitor, the target's exit sends the watcher nothing."""
    events = Events()
    async with ActorSystem() as system:
        watcher = await system.spawn(Puppet, events)
        target = await system.spawn(Puppet)
        kept = await system.spawn(Puppet)
        monitor_id = await monitor(watcher, target)
        kept_id = await monitor(watcher, kept)

        async def demonitor(actor: Puppet) -> None:
            actor.context.demonitor(monitor_id)
            actor.context.demonitor(123_456_789)  # unknown ids are ignored

        await run_in(watcher, demonitor)
        target.tell(Crash())
        await target.join()
        kept.tell(Crash())  # a control: this one still arrives
        with anyio.fail_after(5):
            await events.wait_for(1)
            await watcher.ask("flush")
        assert [d.monitor for d in downs(events)] == [kept_id]


async def test_two_monitors_give_two_downs() -> None:
    """Each monitor is separate: monitoring twice gives two Downs with their own ids."""
    events = Events()
    async with ActorSystem() as system:
        watcher = await system.spawn(Puppet, events)
        target = await system.spawn(Puppet)
        first = await monitor(watcher, target)
        second = await monitor(watcher, target)
        assert first != second
        target.tell(StopMe())
        with anyio.fail_after(5):
            await events.wait_for(2)
        assert sorted(d.monitor for d in downs(events)) == sorted([first, second])


async def test_links_and_monitors_are_cleared_when_the_watcher_exits() -> None:
    """A dead watcher's monitor is removed: the target's later exit sends nothing anywhere."""
    events = Events()
    async with ActorSystem() as system:
        watcher = await system.spawn(Puppet, events)
        target = await system.spawn(Puppet)
        await monitor(watcher, target)
        await watcher.stop()
        target.tell(Crash())
        with anyio.fail_after(5):
            await target.join()
        assert events.items == []
        assert system.dead_letters.count == 0

"""ActorSystem: closing stops everything in reverse order and leaves no task behind."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import pytest
from structlog.testing import capture_logs

from mabeam import (
    KILLED,
    SHUTDOWN,
    Actor,
    ActorContext,
    ActorSystem,
    ChildSpec,
    ConfigError,
    ExitReason,
    Supervisor,
    SystemClosedError,
)
from mabeam.runtime.supervision import start_child

from ._support import Crash, Echo, Events, Exits, Forever, Recorder, now


async def test_closing_stops_actors_in_reverse_start_order_with_on_stop() -> None:
    """Leaving `async with` stops every top-level actor, last started first, on_stop(shutdown)."""
    events = Events()
    async with ActorSystem() as system:
        for tag in "abcd":
            await system.spawn(Recorder, events, tag)
        assert system.actor_count == 5
    assert [e for e in events.items if e[0] == "stop"] == [
        ("stop", tag, SHUTDOWN) for tag in "dcba"
    ]
    assert system.actor_count == 0
    assert system.closed


async def test_closing_stops_a_supervision_tree_leaves_first() -> None:
    """A tree under the root supervisor stops depth first, in reverse start order."""
    events = Events()
    inner = ChildSpec("inner", Supervisor, ([ChildSpec("b", Recorder, (events, "b"))],))
    async with ActorSystem() as system:
        await start_child(
            system.root,
            ChildSpec("top", Supervisor, ([ChildSpec("a", Recorder, (events, "a")), inner],)),
        )
        await start_child(system.root, ChildSpec("c", Recorder, (events, "c")))
        assert events.tags("start") == ["a", "b", "c"]
    assert events.tags("stop") == ["c", "b", "a"]


class TickForever(Actor):
    """Idle, with a periodic timer and a far-off one pending."""

    async def on_start(self) -> None:
        self.context.send_interval(0.5, "tick")
        self.context.send_after(1000, "later")

    async def receive(self, message: Any) -> Any:
        return None


class HangingStop(Actor):
    async def on_stop(self, reason: ExitReason) -> None:
        await asyncio.Event().wait()


class Owner(Actor):
    """Owns a child whose on_stop never returns, and is busy itself."""

    async def on_start(self) -> None:
        await self.context.spawn(HangingStop)

    async def receive(self, message: Any) -> Any:
        await asyncio.Event().wait()


@pytest.mark.virtual_time
async def test_closing_leaves_no_task_behind() -> None:
    """Busy, idle, hanging, timed and supervised actors all end; only the test's task remains."""
    async with ActorSystem() as system:
        exits = Exits(system)
        busy = await system.spawn(Forever, name="busy")
        busy.tell("work")
        await system.spawn(Echo, name="idle")
        await system.spawn(TickForever, name="ticker")
        owner = await system.spawn(Owner, name="owner")
        owner.tell("work")
        worker = ChildSpec("w", Forever, name="w")
        inner = ChildSpec("inner", Supervisor, ([worker],), name="inner")
        await start_child(system.root, ChildSpec("top", Supervisor, ([inner],), name="top"))
        system.whereis("w").tell("work")  # type: ignore[union-attr]
        await asyncio.sleep(2)
        started = now()
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert system.actor_count == 0
    # Each busy actor gets its 5 s shutdown timeout in turn: w, owner (whole subtree), busy.
    assert now() - started == 15.0
    assert exits.reason("busy") == KILLED
    assert exits.reason("owner") == KILLED
    assert [r for label, r in exits.items if label.startswith("HangingStop#")] == [KILLED]
    assert exits.reason("w") == KILLED
    assert exits.reason("idle") == exits.reason("ticker") == exits.reason("inner") == SHUTDOWN
    assert system.dead_letters.count == 0


async def test_closing_with_only_idle_actors_takes_no_time_and_leaves_no_task() -> None:
    """Idle actors stop at once; afterwards only the test's own task is left."""
    async with ActorSystem() as system:
        for _ in range(100):
            await system.spawn(Echo)
        assert system.actor_count == 101
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert system.actor_count == 0


async def test_spawn_outside_the_running_system_raises() -> None:
    """spawn before entering or after closing raises SystemClosedError."""
    system = ActorSystem()
    assert system.closed
    with pytest.raises(SystemClosedError):
        await system.spawn(Echo)
    async with system:
        assert not system.closed
        await system.spawn(Echo)
    assert system.closed
    with pytest.raises(SystemClosedError, match="not running"):
        await system.spawn(Echo)
    with pytest.raises(SystemClosedError):
        _ = system.root


async def test_a_system_runs_once() -> None:
    """Entering an ActorSystem a second time raises SystemClosedError."""
    system = ActorSystem()
    async with system:
        pass
    with pytest.raises(SystemClosedError, match="already started"):
        async with system:
            pass  # pragma: no cover


async def test_shutdown_can_be_called_directly_and_twice() -> None:
    """shutdown() closes the system; calling it again (or leaving the block) is harmless."""
    events = Events()
    async with ActorSystem() as system:
        await system.spawn(Recorder, events, "a")
        await system.shutdown()
        assert system.closed
        await system.shutdown()
    assert events.tags("stop") == ["a"]


async def test_an_error_in_the_block_still_closes_the_system() -> None:
    """An exception inside `async with` propagates after every actor is stopped."""
    events = Events()
    system = ActorSystem()

    async def application() -> None:
        async with system:
            await system.spawn(Recorder, events, "a")
            raise RuntimeError("application failed")

    with pytest.raises(RuntimeError, match="application failed"):
        await application()
    assert events.tags("stop") == ["a"]
    assert system.closed


async def test_the_system_fails_when_the_root_supervisor_gives_up() -> None:
    """Past the root's restart intensity the system closes, with failure set and logged."""
    events = Events()
    with capture_logs() as logs:
        async with ActorSystem("fragile", intensity=0) as system:
            await start_child(system.root, ChildSpec("w", Recorder, (events, "w"), name="w"))
            child = system.whereis("w")
            assert child is not None
            child.tell(Crash())
            with anyio.fail_after(5):
                await system.root.join()
            assert system.closed
            assert system.failure == SHUTDOWN
            with pytest.raises(SystemClosedError):
                await system.spawn(Echo)
    assert {
        "event": "system_failed",
        "log_level": "error",
        "system": "fragile",
        "reason": SHUTDOWN,
    } in logs


async def test_a_clean_close_is_not_a_failure() -> None:
    """A system closed normally has no failure."""
    async with ActorSystem() as system:
        await system.spawn(Echo)
    assert system.failure is None


async def test_exit_observers_see_every_exit() -> None:
    """add_exit_observer is called with each exiting actor's context and reason."""
    seen: list[tuple[str, ExitReason]] = []

    def observe(cell: ActorContext, reason: ExitReason) -> None:
        seen.append((cell.self.label, reason))

    async with ActorSystem() as system:
        system.add_exit_observer(observe)
        ref = await system.spawn(Echo, name="e")
        await ref.stop()
        assert seen == [("e", "normal")]
    assert seen == [("e", "normal"), ("root", SHUTDOWN)]


def test_dead_letter_history_must_not_be_negative() -> None:
    """A negative dead_letter_history is a ConfigError naming it."""
    with pytest.raises(ConfigError) as info:
        ActorSystem(dead_letter_history=-1)
    assert info.value.field == "dead_letter_history"


@pytest.mark.virtual_time
async def test_system_time_is_the_loop_clock() -> None:
    """system.time() reads the event loop's clock (virtual in simulation)."""
    async with ActorSystem() as system:
        await asyncio.sleep(42)
        assert system.time() == 42.0

"""What waking an idle actor must keep, however the wake is made (in process a task per
wake; the simulated network's deliveries wake eagerly, tested the same way in
``tests/sim/test_eager_wakes.py``): one message at a time, FIFO per sender, no handler
nested in another's, contextvars as in a task, anyio cancel scopes across the first
await, crashes and kills in the first step as anywhere else."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import anyio
import pytest

from mabeam import ActorCrashedError, ActorDeadError, ActorSystem
from mabeam.runtime import Actor, ActorRef

LOG: contextvars.ContextVar[str] = contextvars.ContextVar("LOG", default="unset")


class Recorder(Actor):
    """Appends ``(name, message)`` to a shared list; forwards ``("to", name, m)``."""

    def __init__(self, events: list[Any]) -> None:
        self.events = events

    async def receive(self, message: Any) -> Any:
        if isinstance(message, tuple) and message[0] == "to":
            _, target, inner = message
            self.context.tell(target, inner)
            # The target is idle, yet its handler must not run inside this one.
            self.events.append((self.context.name, "after-tell"))
            return None
        self.events.append((self.context.name, message))
        return message


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_tell_from_a_handler_queues_and_never_runs_the_target_nested() -> None:
    events: list[Any] = []
    async with ActorSystem() as system:
        await system.spawn(Recorder, events, name="a")
        await system.spawn(Recorder, events, name="b")
        system.tell("a", ("to", "b", "hello"))
        await settle()
    assert events == [("a", "after-tell"), ("b", "hello")]


async def test_messages_from_one_sender_are_handled_in_order_one_at_a_time() -> None:
    events: list[Any] = []
    async with ActorSystem() as system:
        ref = await system.spawn(Recorder, events, name="a")
        for i in range(300):  # more than one drain budget
            ref.tell(i)
        assert await ref.ask("last") == "last"
    assert [m for _, m in events] == [*range(300), "last"]


class Suspender(Actor):
    """Records the current task and a contextvar before and after an await."""

    def __init__(self, seen: list[Any]) -> None:
        self.seen = seen

    async def receive(self, message: Any) -> Any:
        before = asyncio.current_task()
        self.seen.append(("value-before", LOG.get()))
        LOG.set(f"set-by-handler-{message}")
        await asyncio.sleep(0.01)
        after = asyncio.current_task()
        self.seen.append(("same-task", before is after and before is not None))
        self.seen.append(("value-after", LOG.get()))
        return message


@pytest.mark.virtual_time
async def test_contextvars_and_the_current_task_are_as_in_a_task_across_the_first_await() -> None:
    seen: list[Any] = []
    async with ActorSystem() as system:
        ref = await system.spawn(Suspender, seen)
        LOG.set("set-by-app")
        assert await ref.ask(1) == 1
        assert LOG.get() == "set-by-app"  # nothing leaks back into the application
    assert seen == [
        ("value-before", "set-by-app"),  # a copy of the waker's context, as a Task's
        ("same-task", True),
        ("value-after", "set-by-handler-1"),
    ]


class Timeboxed(Actor):
    """Enters an anyio cancel scope before its first await and leaves it after."""

    async def receive(self, message: float) -> str:
        with anyio.move_on_after(1.0) as scope:
            await anyio.sleep(message)
        return "timed out" if scope.cancelled_caught else "finished"


@pytest.mark.virtual_time
async def test_an_anyio_cancel_scope_entered_before_the_first_await_works() -> None:
    async with ActorSystem() as system:
        ref = await system.spawn(Timeboxed)
        assert await ref.ask(0.5) == "finished"
        assert await ref.ask(5.0) == "timed out"
        assert await ref.ask(0.1) == "finished"


class Crasher(Actor):
    async def receive(self, message: Any) -> Any:
        if message == "boom":
            raise RuntimeError("boom at once")
        if message == "later":
            await asyncio.sleep(0)
            raise RuntimeError("boom after an await")
        return message


async def test_an_exception_before_or_after_the_first_await_crashes_the_actor() -> None:
    async with ActorSystem() as system:
        for message in ("boom", "later"):
            ref = await system.spawn(Crasher)
            with pytest.raises(ActorCrashedError) as caught:
                await ref.ask(message)
            assert isinstance(caught.value.__cause__, RuntimeError)
            await ref.join()
            assert not ref.is_alive


class Sleeper(Actor):
    stopped: list[Any]

    def __init__(self, stopped: list[Any]) -> None:
        self.stopped = stopped

    async def receive(self, message: Any) -> Any:
        if message == "stop-self":
            self.context.stop()
            return "stopping"
        await asyncio.sleep(3600)
        return None  # pragma: no cover - killed first

    async def on_stop(self, reason: Any) -> None:
        self.stopped.append(reason)


@pytest.mark.virtual_time
async def test_a_kill_right_after_the_handler_first_suspended_exits_the_actor() -> None:
    """The handler has just suspended for the first time: a kill still reaches it, the ask
    fails, nothing hangs."""
    stopped: list[Any] = []
    async with ActorSystem() as system:
        ref = await system.spawn(Sleeper, stopped)
        asking = asyncio.create_task(ref.ask("sleep", timeout=None))
        await asyncio.sleep(0)  # the ask is sent; the actor is woken
        await asyncio.sleep(0)  # its handler ran and suspended
        ref._cell._kill("killed")
        with pytest.raises(ActorDeadError):
            await asking
        await ref.join()
    assert stopped == []  # killed: no on_stop, as before


async def test_stopping_itself_in_the_first_step_runs_on_stop_once() -> None:
    stopped: list[Any] = []
    async with ActorSystem() as system:
        ref = await system.spawn(Sleeper, stopped)
        assert await ref.ask("stop-self") == "stopping"
        await ref.join()
    assert stopped == ["normal"]


class Pinger(Actor):
    """Tells its peer a counter until it reaches ``limit``, then resolves ``done``."""

    def __init__(self, done: asyncio.Future[int], limit: int) -> None:
        self.done = done
        self.limit = limit
        self.peer: ActorRef | None = None

    async def receive(self, message: Any) -> Any:
        if isinstance(message, ActorRef):
            self.peer = message
            return None
        if message >= self.limit:
            self.done.set_result(message)
            return None
        assert self.peer is not None
        self.peer.tell(message + 1)
        return None


async def test_ping_pong_between_two_actors_by_tells() -> None:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[int] = loop.create_future()
    async with ActorSystem() as system:
        a = await system.spawn(Pinger, done, 1000)
        b = await system.spawn(Pinger, done, 1000)
        a.tell(b)
        b.tell(a)
        a.tell(0)
        assert await done == 1000

"""Actors, messages and a shared event log used across the runtime tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from mabeam import Actor, ActorContext, ActorRef, ActorSystem, Down, Exit, ExitReason


def now() -> float:
    """The running loop's clock: exact virtual seconds under ``virtual_time``."""
    return asyncio.get_running_loop().time()


class Boom(Exception):
    """The exception test actors crash with."""


class Crash(msgspec.Struct, frozen=True):
    """Ask a test actor to raise :class:`Boom`."""

    why: str = "boom"


class StopMe(msgspec.Struct, frozen=True):
    """Ask a test actor to stop itself with ``reason``."""

    reason: str = "normal"


class Ping(msgspec.Struct, frozen=True):
    """A message a test actor answers with ``Pong``."""

    n: int = 0


class Pong(msgspec.Struct, frozen=True):
    n: int = 0


class Events:
    """A list shared by a test and its actors, with a wait for the n-th entry."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def append(self, item: Any) -> None:
        self.items.append(item)
        for count, waiter in self._waiters:
            if len(self.items) >= count and not waiter.done():
                waiter.set_result(None)

    async def wait_for(self, count: int) -> list[Any]:
        """Return the entries once there are at least ``count`` (bound it with fail_after)."""
        if len(self.items) < count:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append((count, waiter))
            await waiter
        return self.items

    def tags(self, kind: str) -> list[Any]:
        """The second field of every tuple entry whose first field is ``kind``, in order."""
        return [item[1] for item in self.items if isinstance(item, tuple) and item[0] == kind]


class Recorder(Actor):
    """Records ``("start", tag)``, ``("restart", tag, reason)``, ``("stop", tag, reason)``
    and ``("msg", tag, message)`` in ``events``; crashes on :class:`Crash`, stops on
    :class:`StopMe`, answers :class:`Ping` with :class:`Pong`."""

    def __init__(self, events: Events, tag: str = "") -> None:
        self.events = events
        self.tag = tag

    async def on_start(self) -> None:
        self.events.append(("start", self.tag))

    async def on_restart(self, reason: ExitReason) -> None:
        self.events.append(("restart", self.tag, reason))

    async def on_stop(self, reason: ExitReason) -> None:
        self.events.append(("stop", self.tag, reason))

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Crash):
            raise Boom(message.why)
        if isinstance(message, StopMe):
            self.context.stop(message.reason)
            return None
        self.events.append(("msg", self.tag, message))
        if isinstance(message, Ping):
            return Pong(message.n)
        return message


class Echo(Actor):
    """Answers every message with itself."""

    async def receive(self, message: Any) -> Any:
        return message


class Blocker(Actor):
    """Each message awaits ``gate`` (an Event) before it is recorded in ``events``."""

    def __init__(self, gate: asyncio.Event, events: Events | None = None) -> None:
        self.gate = gate
        self.events = events

    async def receive(self, message: Any) -> Any:
        if self.events is not None:
            self.events.append(("begin", message))
        await self.gate.wait()
        if self.events is not None:
            self.events.append(("end", message))
        return message


class Forever(Actor):
    """Every message awaits forever (only cancellation ends it)."""

    async def receive(self, message: Any) -> Any:
        await asyncio.Event().wait()


class Run(msgspec.Struct, frozen=True):
    """Ask a :class:`Puppet` to run a callable with its context: ``fn(actor)``."""

    fn: Any


class Puppet(Actor):
    """Runs what it is sent (``Run(fn)``: ``await fn(self)``) and records signals in ``events``.

    Lets a test act *as an actor*: link, monitor, spawn, start timers.
    """

    def __init__(self, events: Events | None = None, *, trap_exit: bool = False) -> None:
        self.events = events if events is not None else Events()
        self.trap = trap_exit

    async def on_start(self) -> None:
        self.context.trap_exit = self.trap

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Run):
            fn: Callable[[Puppet], Awaitable[Any]] = message.fn
            return await fn(self)
        if isinstance(message, Crash):
            raise Boom(message.why)
        if isinstance(message, StopMe):
            self.context.stop(message.reason)
            return None
        self.events.append(message)
        return None


async def run_in(puppet: ActorRef, fn: Callable[[Puppet], Awaitable[Any]]) -> Any:
    """Run ``fn(actor)`` inside the puppet actor and return its result."""
    return await puppet.ask(Run(fn))


async def link_to(puppet: ActorRef, target: ActorRef) -> None:
    """Make ``puppet`` link to ``target``."""

    async def link(actor: Puppet) -> None:
        actor.context.link(target)

    await run_in(puppet, link)


async def monitor(puppet: ActorRef, target: ActorRef) -> int:
    """Make ``puppet`` monitor ``target``; returns the monitor id."""

    async def watch(actor: Puppet) -> int:
        return actor.context.monitor(target)

    result: int = await run_in(puppet, watch)
    return result


def downs(events: Events) -> list[Down]:
    """The ``Down`` messages recorded so far."""
    return [e for e in events.items if isinstance(e, Down)]


def exits(events: Events) -> list[Exit]:
    """The ``Exit`` messages recorded so far."""
    return [e for e in events.items if isinstance(e, Exit)]


class Exits:
    """Every actor exit in a system, as ``(label, reason)``, via ``add_exit_observer``."""

    def __init__(self, system: ActorSystem) -> None:
        self.items: list[tuple[str, ExitReason]] = []
        system.add_exit_observer(self._observe)

    def _observe(self, cell: ActorContext, reason: ExitReason) -> None:
        self.items.append((cell.self.label, reason))

    def reason(self, label: str) -> ExitReason:
        """The exit reason of the (last) actor with that label."""
        return [r for name, r in self.items if name == label][-1]

"""Eager wakes: the actors a transport's delivery callback woke run right after it.

Waking an idle actor normally starts a task for its drain loop; the task runs one loop
turn later. When a transport delivers from a plain loop callback (the simulated
network's timer) and nothing else is ready in the loop, that next turn would run
exactly the drains it woke, in the order it woke them, and nothing else. Running them
at once, at the end of the callback, in that order, is then the same run, one loop turn
and one task per wake cheaper (issue 18's eager step). The transport opens a batch with
:meth:`EagerWakes.begin`, delivers, and closes it with :meth:`EagerWakes.finish`; a wake
inside the batch records the actor instead of starting a task.

What makes it the same run:

* **Order.** If a delivery scheduled anything else (a reply wakes the task that asked),
  the next turn would have interleaved it with the drains; the batch then starts the
  drains' tasks after all, each put back at the place in the ready queue its wake had.
* **The current task.** A drain runs as a parked *host* task that is lent to it
  (``asyncio.current_task()``, anyio cancel scopes and sniffio see a task), in a copy of
  the context of the callback, as a task would have made.
* **A drain that suspends** (an await that waits) stays in that same host task, which
  takes the coroutine over at once, waiting on the very future it awaits (so wake-ups
  come in the same order); a new host is parked for the next drain.

A drain that finishes without waiting, the common case, costs no task at all. The
loop must keep a ready queue (``asyncio``'s own loops and subclasses, such as
:class:`~mabeam.sim.VirtualEventLoop`); on any other loop, or in debug mode, wakes start
tasks as always.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Coroutine, Generator
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from ._context import ActorContext
    from ._system import ActorSystem

_enter_task = asyncio.tasks._enter_task
_leave_task = asyncio.tasks._leave_task


class _Marker:
    """Stands where an actor's record holds its drain's task, when there is no task."""

    __slots__ = ("_done", "_name")

    def __init__(self, name: str, *, done: bool) -> None:
        self._name = name
        self._done = done

    def done(self) -> bool:
        return self._done

    def cancel(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<eager wake {self._name}>"


PENDING: Final[Any] = _Marker("pending", done=False)
"""Woken in a batch, its drain not run yet (typed Any: it stands in for a task)."""

FAILED: Final[Any] = _Marker("failed", done=True)
"""Its eager step raised out of the drain loop: as a task that ended with an exception."""

Woken = list[tuple["ActorContext", int]]
"""The actors a batch woke, each with the length of the ready queue at its wake."""


class _Adopt:
    """Drives a drain that suspended in its eager step, from inside its host task.

    It hands the host task what the drain yielded (so the task waits on the drain's
    own future) and passes every resumption (value or exception) on to the drain, in
    the drain's own context.
    """

    __slots__ = ("_cancel", "_context", "_coro", "_first")

    def __init__(
        self,
        coro: Coroutine[Any, Any, Any],
        context: contextvars.Context,
        first: Any,
        cancel: bool,
    ) -> None:
        self._coro = coro
        self._context = context
        self._first = first
        self._cancel = cancel

    def __await__(self) -> Generator[Any, None, Any]:
        coro, run = self._coro, self._context.run
        yielded, self._first = self._first, None
        error: BaseException | None = None
        # A host cancelled while lent to the eager step does as a task would have:
        # cancel what the drain waits on, or throw at the drain's next resumption.
        if self._cancel and not (isinstance(yielded, asyncio.Future) and yielded.cancel()):
            error = asyncio.CancelledError()
        while True:
            if error is None:
                try:
                    yield yielded
                except BaseException as exc:  # thrown in by the host task: pass it on
                    error = exc
            try:
                if error is None:
                    yielded = run(coro.send, None)
                else:
                    thrown, error = error, None
                    yielded = run(coro.throw, thrown)
            except StopIteration as stop:
                return stop.value


class _Host:
    """A parked task, lent to eager drains as their current task."""

    __slots__ = ("job", "park", "task")

    def __init__(self, loop: asyncio.AbstractEventLoop, ready: deque[Any]) -> None:
        self.job: tuple[Coroutine[Any, Any, Any], contextvars.Context, Any] | None = None
        self.park: asyncio.Future[None] = loop.create_future()
        # Not loop.create_task: a task factory (an eager one) must not run it elsewhere.
        before = len(ready)
        self.task = asyncio.Task(self._main(), loop=loop)
        if len(ready) == before + 1:
            ready.pop()._run()  # its first step, now: it only parks

    async def _main(self) -> Any:
        cancel = False
        try:
            await self.park
        except asyncio.CancelledError:
            if self.job is None:
                raise  # cancelled while parked (the loop is closing): just end
            cancel = True  # cancelled from the eager step it was lent to
        job, self.job = self.job, None
        if job is None:
            return None  # released
        coro, context, first = job
        return await _Adopt(coro, context, first, cancel)

    def adopt(
        self,
        ready: deque[Any],
        coro: Coroutine[Any, Any, Any],
        context: contextvars.Context,
        first: Any,
    ) -> None:
        """Take the suspended drain over now: the host waits on what it yielded."""
        self.job = (coro, context, first)
        park = self.park
        if park.done():
            return  # cancelled while lent: its wake-up is queued, it adopts then
        before = len(ready)
        park.set_result(None)
        if len(ready) == before + 1:
            ready.pop()._run()  # the host's step, now, as the drain's task would have run

    def release(self) -> None:
        if not self.park.done():
            self.park.set_result(None)


class EagerWakes:
    """One transport's batches of eager wakes (see the module docstring)."""

    __slots__ = ("_host", "_loop", "_ready", "_systems", "_woken")

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready: deque[Any] | None = None
        self._host: _Host | None = None
        self._woken: Woken = []
        self._systems: tuple[ActorSystem, ...] = ()

    def begin(self, loop: asyncio.AbstractEventLoop, systems: tuple[ActorSystem, ...]) -> bool:
        """Open a batch if nothing else is ready in ``loop``; False: wake as always."""
        if loop is not self._loop:
            self._loop = loop
            self._host = None
            # asyncio's own loops keep a ready queue (and the flags read below).
            self._ready = loop._ready if isinstance(loop, asyncio.BaseEventLoop) else None  # type: ignore[attr-defined]
        ready = self._ready
        if ready is None or ready or loop._stopping or loop._debug:  # type: ignore[attr-defined]
            return False
        woken = self._woken
        for system in systems:
            system._woken = woken
        self._systems = systems
        return True

    def finish(self) -> None:
        """Close the batch: run the drains it woke, or start their tasks in place."""
        for system in self._systems:
            system._woken = None
        self._systems = ()
        woken = self._woken
        if not woken:
            return
        self._woken = []
        loop, ready = self._loop, self._ready
        assert loop is not None
        assert ready is not None
        if ready:
            # Something else was scheduled among the wakes: the order of the next turn
            # needs each drain's task where its wake was.
            queued = list(ready)
            ready.clear()
            taken = 0
            for cell, position in woken:
                ready.extend(queued[taken:position])
                taken = position
                if cell._task is PENDING:
                    cell._task = loop.create_task(cell._run())
            ready.extend(queued[taken:])
            return
        try:
            for cell, _ in woken:
                if cell._task is PENDING:
                    self._run(loop, ready, cell)
        finally:
            # Only KeyboardInterrupt or SystemExit leave early: the drains not run yet
            # get their tasks, so nothing woken is lost if the loop runs again.
            for cell, _ in woken:
                if cell._task is PENDING:
                    cell._task = loop.create_task(cell._run())

    def _run(self, loop: asyncio.AbstractEventLoop, ready: deque[Any], cell: ActorContext) -> None:
        """One drain's eager step, as its task's first step would have run it."""
        host = self._host
        if host is None or host.park.done():
            # None yet, released, or cancelled (by the loop closing, or by a drain it was
            # lent to, whose cancellation must not reach the next one): a new host.
            host = self._host = _Host(loop, ready)
        task = host.task
        cell._task = task
        context = contextvars.copy_context()
        coro = cell._run()
        _enter_task(loop, task)
        try:
            first = context.run(coro.send, None)
        except StopIteration:
            return
        except BaseException as exc:
            # The drain ended cancelled or failed: the actor's record holds what a task
            # that ended so would be (done), and a failure is reported, or raised on.
            if cell._task is task:
                cell._task = FAILED
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            if not isinstance(exc, asyncio.CancelledError):
                loop.call_exception_handler(
                    {"message": "an actor's drain loop failed", "exception": exc, "task": task}
                )
            return
        finally:
            _leave_task(loop, task)
        # It waits: the host takes it over, and a new host parks for the next drain.
        self._host = None
        host.adopt(ready, coro, context, first)

    def release(self) -> None:
        """End the parked host (the systems this transport carries have stopped)."""
        host, self._host = self._host, None
        if host is not None:
            host.release()

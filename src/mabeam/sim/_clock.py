"""Virtual time for deterministic simulation: an asyncio loop whose clock jumps.

:class:`VirtualEventLoop` is an ordinary :class:`asyncio.SelectorEventLoop` with three
changes. Its :meth:`~VirtualEventLoop.time` reads a virtual clock (float seconds from
``start``, default ``0.0``) instead of ``time.monotonic()``; its selector is wrapped
so that whenever the loop would *wait* for the next timer, the clock jumps to that
timer's deadline and the wait returns at once; and timers due at one instant run in the
order they were scheduled (asyncio leaves that to its heap, see :class:`_Timer`).
Everything built on ``loop.time()`` and ``loop.call_at()`` -- ``asyncio.sleep``,
``call_later``, ``wait_for``, ``asyncio.timeout``, ``anyio.sleep``,
``anyio.fail_after``/``move_on_after``, ``anyio.current_time()`` and task groups -- runs
unchanged, and thirty virtual seconds of protocol take milliseconds.

How one loop iteration (``BaseEventLoop._run_once``) meets the wrapped ``select``:

* a callback is ready (or the loop is stopping): asyncio passes ``timeout=0``; the real
  selector is polled and the clock does not move, so no amount of ready work, however
  long its chain of ``call_soon`` hops, ever sees time pass;
* nothing is ready but a timer is scheduled: the real selector is still polled with
  ``timeout=0`` (so the self-pipe behind ``call_soon_threadsafe`` and signal handling
  keep working); if nothing real is ready the clock is set to exactly the earliest
  timer's ``when`` (read from the heap, not ``now + timeout``, so there is no float
  drift, and never moved backwards) and ``select`` returns no events; asyncio then
  finds that timer due and runs it;
* nothing is ready and nothing is scheduled (``timeout=None``): the loop blocks on the
  real selector, exactly like a real loop. A simulation with nothing scheduled is
  waiting for the outside world (a thread, a socket, a signal) and waits in real time.

Why this design: the mabeam runtime is asyncio-based, so actor code must not change
between production and simulation. A loop subclass gives that: pass
``loop_factory=VirtualEventLoop`` to ``asyncio.Runner``, ``anyio.run`` or pytest-asyncio
and nothing else knows. trio's ``MockClock(autojump_threshold=0)`` is the model, but
it is trio-only. ``looptime`` fakes asyncio time by patching loops, mostly through its
pytest plugin; a small subclass we own avoids the dependency and the patching,
and works the same under ``asyncio.Runner``, ``anyio.run`` and pytest-asyncio.

Determinism: the clock moves only when the loop is idle, to the next deadline, so a
program whose inputs (seed, scenario) are fixed and which does no real I/O sees the
same sequence of ``(loop.time(), event)`` on every run. Real I/O and threads are the
limit: their completions arrive whenever the real world delivers them, and a timer
pending meanwhile is not held back (``await asyncio.to_thread(f)`` under
``fail_after(1)`` times out at once, in virtual time, unless ``f`` has already
finished). Keep threads and sockets out of simulated code.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import itertools
import math
import selectors
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, TypeVarTuple

if TYPE_CHECKING:
    from _typeshed import FileDescriptorLike

__all__ = ["VirtualEventLoop", "is_virtual", "run_virtual"]

T = TypeVar("T")
PosArgsT = TypeVarTuple("PosArgsT")


_POLL_EVERY = 64
"""Loop turns between polls of the real selector while the simulation runs."""


class _VirtualSelector(selectors.BaseSelector):
    """A real selector whose ``select`` jumps the owning loop's clock instead of waiting."""

    def __init__(self, loop: VirtualEventLoop, real: selectors.BaseSelector) -> None:
        self._loop = loop
        self._real = real
        self._turns = 0

    def register(
        self, fileobj: FileDescriptorLike, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: FileDescriptorLike) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(
        self, fileobj: FileDescriptorLike, events: int, data: Any = None
    ) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def get_map(self) -> Mapping[FileDescriptorLike, selectors.SelectorKey]:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:
            # Nothing ready, nothing scheduled: only the outside world can wake us.
            return self._real.select(None)
        # Polling the real selector is a system call per loop turn, the biggest cost of a
        # simulation that delivers messages at many distinct times. Callbacks from
        # threads are queued on the loop directly (the self-pipe only wakes a blocked
        # select), so a poll every _POLL_EVERY turns is enough for real I/O to get in.
        self._turns += 1
        if self._turns >= _POLL_EVERY:
            self._turns = 0
            ready = self._real.select(0)
            if ready:
                return ready
        if timeout > 0:
            self._loop._jump_to_next_timer(timeout)
        return []


class _Timer(asyncio.TimerHandle):
    """A timer that orders after every timer scheduled before it for the same instant.

    asyncio orders timers by deadline only and leaves ties to its heap, whose layout
    depends on the loop's history (how many turns it ran, when cancelled timers left).
    Timers due at one virtual instant are common (fixed latencies, equal timeouts), so
    the virtual loop breaks ties by scheduling order: the same program runs its timers
    in the same order however its loop turns fall.
    """

    __slots__ = ("_seq",)

    def __init__(
        self,
        seq: int,
        when: float,
        callback: Callable[..., object],
        args: tuple[Any, ...],
        loop: asyncio.AbstractEventLoop,
        context: Any,
    ) -> None:
        super().__init__(when, callback, args, loop, context)
        self._seq = seq

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, asyncio.TimerHandle):
            return NotImplemented
        return _before(self, other)

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, asyncio.TimerHandle):
            return NotImplemented
        return _before(other, self)


def _before(first: asyncio.TimerHandle, second: asyncio.TimerHandle) -> bool:
    """Whether ``first`` runs before ``second``: the earlier instant, then the one
    scheduled first (ties with a timer that is not the virtual loop's own: neither)."""
    when: float = first._when  # type: ignore[attr-defined]
    other: float = second._when  # type: ignore[attr-defined]
    if when != other:
        return when < other
    return isinstance(first, _Timer) and isinstance(second, _Timer) and first._seq < second._seq


class VirtualEventLoop(asyncio.SelectorEventLoop):
    """An asyncio event loop whose ``time()`` is virtual and jumps to the next timer when idle.

    ``start`` is the virtual time the loop reads before anything has run. Use it as a
    loop factory: ``asyncio.Runner(loop_factory=VirtualEventLoop)``,
    ``anyio.run(main, backend_options={"loop_factory": VirtualEventLoop})``, or
    :func:`run_virtual`.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._virtual_now = 0.0
        self._timer_seq = itertools.count()
        self._virtual_selector = _VirtualSelector(self, selectors.DefaultSelector())
        super().__init__(self._virtual_selector)
        self._base_resolution: float = self._clock_resolution
        self._set_now(float(start))

    def time(self) -> float:
        """Return the virtual time in seconds; it moves only while the loop is idle."""
        return self._virtual_now

    def call_at(
        self,
        when: float,
        callback: Callable[[*PosArgsT], object],
        *args: *PosArgsT,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        """Schedule ``callback`` at virtual time ``when``: after the timers scheduled
        before it for the same instant (asyncio leaves that order undefined)."""
        if when is None:
            raise TypeError("when cannot be None")
        self._check_closed()  # type: ignore[attr-defined]
        if self.get_debug():
            self._check_thread()  # type: ignore[attr-defined]
            self._check_callback(callback, "call_at")  # type: ignore[attr-defined]
        return self._push_timer(next(self._timer_seq), when, callback, args, context)

    def _push_timer(
        self,
        seq: int,
        when: float,
        callback: Callable[..., object],
        args: tuple[Any, ...],
        context: contextvars.Context | None,
    ) -> asyncio.TimerHandle:
        """Schedule ``callback`` at ``when`` with the place ``seq`` among timers of that instant."""
        timer = _Timer(seq, when, callback, args, self, context)
        if timer._source_traceback:  # type: ignore[attr-defined]
            del timer._source_traceback[-1]  # type: ignore[attr-defined]
        heapq.heappush(self._scheduled, timer)  # type: ignore[attr-defined]
        timer._scheduled = True  # type: ignore[attr-defined]
        return timer

    async def shutdown_default_executor(
        self,
        timeout: float | None = None,
    ) -> None:
        """Join the default executor's threads, waiting as long as they take in real time.

        ``timeout`` is ignored: from Python 3.13 asyncio bounds the join with a loop
        timer, which on virtual time would expire at once (``asyncio.Runner.close`` passes
        300 s) and raise a ``RuntimeWarning`` about threads that had not finished yet.
        """
        await super().shutdown_default_executor()

    def _reserve_timer(self) -> int:
        """A place among timers for one scheduled later with :meth:`_push_timer`: it runs
        as if scheduled now (before any timer scheduled after this call, same instant)."""
        return next(self._timer_seq)

    def _advance_to(self, when: float) -> bool:
        """Move the clock to ``when`` if the loop's next turn would run just one timer due
        then, and nothing else; the caller runs that timer's callback instead of the loop.

        True when no callback is ready, the loop is not stopping, and no live timer is due
        before or at ``when`` (the turn would run those too, in one batch). The taken turn
        counts towards the real selector's poll, and a turn due to poll is left to the
        loop. Off in debug mode, whose turns time every callback.
        """
        if self._ready or self._stopping or self._debug:  # type: ignore[attr-defined]
            return False
        selector = self._virtual_selector
        if selector._turns + 1 >= _POLL_EVERY:
            return False
        scheduled: list[asyncio.TimerHandle] = self._scheduled  # type: ignore[attr-defined]
        # What the turn does first: drop the cancelled timers at the head of the heap.
        while scheduled and scheduled[0]._cancelled:
            self._timer_cancelled_count -= 1  # type: ignore[attr-defined]
            heapq.heappop(scheduled)._scheduled = False  # type: ignore[attr-defined]
        now = max(self._virtual_now, when)
        resolution = max(self._base_resolution, math.ulp(now))  # as _set_now sets it
        if scheduled and scheduled[0]._when < now + resolution:  # type: ignore[attr-defined]
            return False
        selector._turns += 1
        self._virtual_now = now
        self._clock_resolution = resolution
        return True

    def _jump_to_next_timer(self, timeout: float) -> None:
        # asyncio has already dropped cancelled handles from the head of the heap.
        scheduled: list[asyncio.TimerHandle] = self._scheduled  # type: ignore[attr-defined]
        when = scheduled[0].when() if scheduled else self._virtual_now + timeout
        self._set_now(max(self._virtual_now, when))

    def _set_now(self, now: float) -> None:
        # asyncio runs a timer when ``when < time() + _clock_resolution``. Far from 0 the
        # resolution (1 ns) is below a float's spacing, ``now + 1 ns == now``, and a timer
        # due exactly now would never run: the loop would spin forever (seen past about
        # 9e6 virtual seconds). One spacing (ulp) of ``now`` keeps the sum above ``now``.
        self._virtual_now = now
        self._clock_resolution = max(self._base_resolution, math.ulp(now))


def run_virtual(
    main: Callable[[*PosArgsT], Awaitable[T]], *args: *PosArgsT, start: float = 0.0
) -> T:
    """Run ``main(*args)`` on a fresh :class:`VirtualEventLoop` and close the loop after.

    Like :func:`asyncio.run`: cancels leftover tasks, shuts down async generators and the
    default executor, and returns ``main``'s result or raises its exception.
    """

    async def _main() -> T:
        return await main(*args)

    with asyncio.Runner(loop_factory=lambda: VirtualEventLoop(start)) as runner:
        return runner.run(_main())


def is_virtual(loop: asyncio.AbstractEventLoop | None = None) -> bool:
    """Return whether ``loop`` (default: the running loop) runs on virtual time.

    Outside a running loop, with no ``loop`` given, returns ``False``.
    """
    if loop is None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
    return isinstance(loop, VirtualEventLoop)

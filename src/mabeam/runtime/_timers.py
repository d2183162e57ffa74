"""Timers of an actor: ``send_after`` and ``send_interval``, cancelled when it exits."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ._checks import check_seconds
from ._state import RUNNING

if TYPE_CHECKING:
    from ._context import ActorContext


class Timer:
    """A pending ``send_after`` or periodic message; ``cancel()`` it, or it dies with its actor."""

    __slots__ = ("_cell", "_handle", "_interval", "_message", "_when")

    def __init__(self, cell: ActorContext, message: Any, when: float, interval: float | None):
        self._cell = cell
        self._message = message
        self._when = when
        self._interval = interval
        self._handle: asyncio.TimerHandle | None = cell._loop.call_at(when, self._fire)

    @property
    def active(self) -> bool:
        """True until it fired (one-shot), was cancelled, or its actor exited."""
        return self._handle is not None

    def cancel(self) -> None:
        """Stop it; a message already in the mailbox stays there."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
            timers = self._cell._timers
            if timers is not None:
                timers.pop(self, None)

    def _fire(self) -> None:
        cell = self._cell
        if self._interval is None:
            self._handle = None
            if cell._timers is not None:
                cell._timers.pop(self, None)
        else:
            # Schedule from the planned time, not from now, so a periodic timer never drifts.
            self._when += self._interval
            self._handle = cell._loop.call_at(self._when, self._fire)
        if cell._state <= RUNNING:
            # Like a message off the network, a tick that meets a full mailbox is a dead letter.
            cell._accept(self._message, None, None)


def send_after(cell: ActorContext, delay: float, message: Any) -> Timer:
    """Send ``message`` to this actor after ``delay`` seconds (cancelled if it exits)."""
    seconds = check_seconds("delay", delay)
    assert seconds is not None
    return add_timer(cell, Timer(cell, message, cell._loop.time() + seconds, None))


def send_interval(cell: ActorContext, interval: float, message: Any) -> Timer:
    """Send ``message`` to this actor every ``interval`` seconds until cancelled or exit."""
    seconds = check_seconds("interval", interval, allow_zero=False)
    assert seconds is not None
    return add_timer(cell, Timer(cell, message, cell._loop.time() + seconds, seconds))


def add_timer(cell: ActorContext, timer: Timer) -> Timer:
    if cell._timers is None:
        cell._timers = {}
    cell._timers[timer] = None
    return timer


def cancel_timers(cell: ActorContext) -> None:
    timers = cell._timers
    if timers:
        for timer in list(timers):
            timer.cancel()
    cell._timers = None

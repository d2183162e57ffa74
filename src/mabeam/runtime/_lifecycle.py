"""An actor's lifecycle: spawn, start failure, kill, orderly exit, shutdown, finalize.

The functions behind spawning (``spawn_child``, called by ``ActorContext.spawn``, the
system and supervisors) and :class:`~mabeam.runtime.ActorContext`'s ``_kill``,
``_exit``, ``_shutdown`` and ``_finalize``: how an actor starts (``on_start``
run before the spawner gets the ref), and every way it ends (its drain loop returns a
reason, a link or a supervisor kills it, a shutdown waits for it within its timeout),
and what its end tells the others (links, monitors, waiting asks, its parent).
"""

from __future__ import annotations

import asyncio
import inspect
from typing import TYPE_CHECKING, Any

from .._errors import ActorDeadError, ActorStartError, SystemClosedError
from .._log import get_logger
from . import _links, _timers
from ._actor import Actor, overrides
from ._eager import PENDING
from ._mailbox import Mailbox
from ._signals import KILLED, SHUTDOWN, ExitReason, describe_reason, is_orderly
from ._state import DEAD, RUNNING, STARTING, STOP, STOPPING, current_context

if TYPE_CHECKING:
    from ._context import ActorContext

_log = get_logger("mabeam.runtime")


def _started(task: asyncio.Task[Any]) -> bool:
    """Whether the task's coroutine has begun: cancelling one that has not runs none of it."""
    coro = task.get_coro()
    return not (
        inspect.iscoroutine(coro) and inspect.getcoroutinestate(coro) == inspect.CORO_CREATED
    )


async def spawn_child(
    parent: ActorContext,
    actor_class: type[Actor],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    name: str | None = None,
    mailbox: Mailbox | None = None,
    link: bool = False,
    shutdown: float | None = 5.0,
    restart_reason: ExitReason | None = None,
) -> ActorContext:
    system = parent._system
    if system._closed or parent._state >= STOPPING:
        raise SystemClosedError(
            f"cannot spawn {actor_class.__name__}: "
            + ("the system is closed" if system._closed else f"{parent._label} is stopping")
        )
    if not (isinstance(actor_class, type) and issubclass(actor_class, Actor)):
        raise TypeError(f"spawn needs an Actor subclass, got {actor_class!r}")
    if name is not None:
        system._check_name_free(name)
    actor = actor_class(*args, **kwargs)
    cell = type(parent)(
        system,
        actor,
        system._next_id(),
        name,
        parent,
        mailbox if mailbox is not None else actor_class.mailbox,
        shutdown,
    )
    actor.context = cell
    system._cells[cell._id] = cell
    if name is not None:
        system._names[name] = cell
    if parent._children is None:
        parent._children = {}
    parent._children[cell._id] = cell
    if link:
        _links.link_cells(cell, parent)
    system._live += 1
    _log.debug("actor_spawned", actor=cell._label, actor_id=cell._id, parent=parent._label)
    # on_restart's default calls on_start, so a restart needs a call if either is ours.
    if overrides(actor, "on_start") or (
        restart_reason is not None and overrides(actor, "on_restart")
    ):
        token = current_context.set(cell)
        try:
            if restart_reason is None:
                await actor.on_start()
            else:
                await actor.on_restart(restart_reason)
        except Exception as exc:
            # What on_start spawned is shut down in order before spawn raises.
            cell._state = STOPPING
            try:
                await cell._stop_children()
            finally:
                cell._abort_start(exc)
            raise ActorStartError(cell._label, exc) from exc
        except BaseException:
            cell._abort_start(SHUTDOWN)
            raise
        finally:
            current_context.reset(token)
    if cell._state == STARTING:
        cell._state = RUNNING
        if cell._queue:
            cell._task = parent._loop.create_task(cell._run())
        else:
            cell._idle = True
    return cell


def abort_start(cell: ActorContext, reason: ExitReason) -> None:
    """on_start failed: the actor never ran, so nobody is signalled; pending asks fail."""
    if cell._links is not None:
        for other in cell._links:
            if other._links is not None:
                other._links.pop(cell, None)
        cell._links = None
    _log.warning(
        "actor_start_failed",
        actor=cell._label,
        actor_id=cell._id,
        reason=describe_reason(reason),
    )
    cell._finalize(reason, signal=False)


def kill(cell: ActorContext, reason: ExitReason) -> None:
    """Exit now with ``reason``: cancel the handler that runs, then run on_stop."""
    if cell._state == DEAD:
        return
    if cell._state == STOPPING:
        if reason == KILLED and cell._task is not None:
            cell._kill_reason = KILLED
            cell._task.cancel()
        return
    if current_context.get() is cell:
        # Its own code signalled itself (it linked to a dead actor, in a handler or in
        # on_start): cancelling our own task would land only at a later await, if any.
        # Exit as soon as that code returns instead.
        cell._push_stop(reason, front=True)
        return
    cell._kill_reason = reason
    task = cell._task
    if task is PENDING:
        # Woken in a batch of eager wakes, its drain not run yet: it never will be.
        task = cell._task = None
    if task is not None and not task.done() and _started(task):
        task.cancel()
    else:
        if task is not None:
            # A drain task that has not started yet would die without running a line
            # of _run (so without _exit), and one already gone cannot be cancelled:
            # drop it and exit in a task of our own.
            task.cancel()
        cell._idle = False
        cell._task = cell._loop.create_task(cell._exit(reason))


async def exit(cell: ActorContext, reason: ExitReason) -> None:
    cell._state = STOPPING
    cell._idle = False
    _timers.cancel_timers(cell)
    if reason != KILLED:
        current_context.set(cell)
        try:
            if overrides(cell._actor, "on_stop"):
                try:
                    await cell._actor.on_stop(reason)
                except Exception as exc:
                    _log.error(
                        "actor_on_stop_failed",
                        actor=cell._label,
                        actor_id=cell._id,
                        exc_info=exc,
                    )
            await cell._stop_children()
        except asyncio.CancelledError:
            if cell._kill_reason is None:
                cell._finalize(SHUTDOWN)
                raise
            if cell._task is not None:
                cell._task.uncancel()
            reason = KILLED
        except Exception as exc:
            _log.error("actor_on_stop_failed", actor=cell._label, actor_id=cell._id, exc_info=exc)
    cell._finalize(reason)


async def stop_children(cell: ActorContext) -> None:
    """Shut owned children down in reverse spawn order, each within its shutdown timeout."""
    while cell._children:
        # A snapshot per pass: reversed() over a dict that shrinks from the end is
        # quadratic, and a child's exit may spawn (rarely) while we wait.
        for child in reversed(list(cell._children.values())):
            await child._shutdown(SHUTDOWN)
            cell._children.pop(child._id, None)


async def shutdown(cell: ActorContext, reason: ExitReason) -> None:
    """Ask this actor to exit after its current message; kill it past its timeout."""
    if cell._state == DEAD:
        return
    task = cell._task
    if cell._state <= RUNNING and task is not None and task.done():
        # Its drain task was cancelled before it ran a line (asyncio.run ending): the
        # actor is idle in fact, so a new drain task can run the stop and on_stop.
        cell._task = None
        cell._idle = True
    timeout = cell._shutdown_timeout
    if cell._state <= RUNNING and cell._can_finish_now():
        cell._state = STOPPING
        _timers.cancel_timers(cell)
        cell._finalize(KILLED if timeout is not None and timeout <= 0 else reason)
        return
    if cell._state <= RUNNING:
        cell._push_stop(reason, front=True)
    stopped = cell._stopped_future()
    if timeout is not None and timeout <= 0:
        cell._kill(KILLED)
    elif timeout is not None:
        done, _ = await asyncio.wait((stopped,), timeout=timeout)
        if not done:
            _log.warning("actor_shutdown_timeout", actor=cell._label, timeout=timeout)
            cell._kill(KILLED)
    await asyncio.shield(stopped)


def can_finish_now(cell: ActorContext) -> bool:
    """Idle, nothing to run on exit: finish without a task (fast shutdown of many actors)."""
    return (
        cell._idle
        and not cell._queue
        and not cell._children
        and not overrides(cell._actor, "on_stop")
    )


def finalize(cell: ActorContext, reason: ExitReason, *, signal: bool = True) -> None:
    """The actor is gone: fail what waits on it, tell links, monitors, then resolve stop()."""
    cell._state = DEAD
    cell._idle = False
    cell._task = None
    cell._sender = None
    _timers.cancel_timers(cell)
    system = cell._system
    queue, cell._queue = cell._queue, None
    if queue:
        for message, sender, reply in queue:
            if message is STOP:
                continue
            if reply is not None:
                cell._fail(reply, ActorDeadError(cell._label, "ask"))
            else:
                system._dead_letter(cell._label, message, sender, "actor_stopped")
    cell._current = None
    deferred, cell._deferred = cell._deferred, None
    if deferred:
        for handle in list(deferred):
            handle._abandon(ActorDeadError(cell._label, "ask"))
    waiters, cell._space_waiters = cell._space_waiters, None
    if waiters:
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
    if cell._children:
        # Children still here were left by a kill: they go with their owner, killed
        # too (a child already running its on_stop would otherwise never be stopped).
        for child in reversed(list(cell._children.values())):
            child._kill(KILLED)
    if cell._parent is not None and cell._parent._children is not None:
        cell._parent._children.pop(cell._id, None)
    if cell._name is not None and system._names.get(cell._name) is cell:
        del system._names[cell._name]
    system._cells.pop(cell._id, None)
    system._live -= 1
    _links.signal_exit(cell, reason, signal=signal)
    if cell._stopped is not None and not cell._stopped.done():
        cell._stopped.set_result(None)
    if is_orderly(reason):
        _log.debug("actor_exited", actor=cell._label, actor_id=cell._id, reason=reason)
    elif isinstance(reason, BaseException):
        _log.error(
            "actor_crashed",
            actor=cell._label,
            actor_id=cell._id,
            reason=describe_reason(reason),
            exc_info=reason,
        )
    else:
        _log.info(
            "actor_exited", actor=cell._label, actor_id=cell._id, reason=describe_reason(reason)
        )
    system._actor_exited(cell, reason)

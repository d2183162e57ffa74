"""Links and monitors of an actor (OTP's): who hears when it exits, and how.

A link joins two actors both ways: an abnormal exit of either one kills the other, or
reaches it as an :class:`~mabeam.runtime.Exit` message if it traps exits. A monitor is one
way: the watcher gets one :class:`~mabeam.runtime.Down` message. These functions keep that
bookkeeping for :class:`~mabeam.runtime.ActorContext`, whose methods call them.

An actor on another node is a :class:`~mabeam.runtime._ref.Remote` cell: links and
monitors on it are kept here as on a local one, and the system's transport is told
(a control message to that node), which later hands back ``Down`` and ``Exit`` signals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._ref import Remote
from ._signals import NOPROC, NORMAL, Down, Exit, ExitReason
from ._state import RUNNING, STOPPING

if TYPE_CHECKING:
    from ._context import ActorContext
    from ._ref import ActorRef


def _remote_transport(cell: object) -> Any:
    """The transport that reaches ``cell`` if it stands for an actor on another node, else None."""
    if type(cell) is Remote:
        return cell._system._transport
    return None


def link(cell: ActorContext, ref: ActorRef) -> None:
    """Link both ways; linking to an actor that is not running is an exit ``noproc`` now."""
    other = ref._cell
    if other is cell:
        return
    if other._state >= STOPPING:
        exit_signal(cell, other, NOPROC)
        return
    link_cells(cell, other)
    transport = _remote_transport(other)
    if transport is not None:
        transport.remote_link(cell, other)


def unlink(cell: ActorContext, ref: ActorRef) -> None:
    """Remove a link (both ways); a no-op when there is none."""
    other = ref._cell
    if cell._links is not None:
        cell._links.pop(other, None)
    if other._links is not None:
        other._links.pop(cell, None)
    transport = _remote_transport(other)
    if transport is not None:
        transport.remote_unlink(cell, other)


def monitor(cell: ActorContext, ref: ActorRef) -> int:
    """Watch ``ref``: when it exits this actor gets ``Down(ref, reason, monitor_id)``."""
    target = ref._cell
    monitor_id = next(cell._system._monitor_ids)
    if target._state >= STOPPING:
        cell._enqueue_signal((Down(ref, NOPROC, monitor_id), None, None))
        return monitor_id
    if target._monitors is None:
        target._monitors = {}
    target._monitors[monitor_id] = cell
    if cell._watching is None:
        cell._watching = {}
    cell._watching[monitor_id] = target
    transport = _remote_transport(target)
    if transport is not None:
        transport.remote_monitor(cell, target, monitor_id)
    return monitor_id


def demonitor(cell: ActorContext, monitor_id: int) -> None:
    """Stop watching; a ``Down`` already in the mailbox stays there."""
    if cell._watching is None:
        return
    target = cell._watching.pop(monitor_id, None)
    if target is not None and target._monitors is not None:
        target._monitors.pop(monitor_id, None)
        transport = _remote_transport(target)
        if transport is not None:
            transport.remote_demonitor(target, monitor_id)


def link_cells(cell: ActorContext, other: ActorContext) -> None:
    if cell._links is None:
        cell._links = {}
    cell._links[other] = None
    if other._links is None:
        other._links = {}
    other._links[cell] = None


def exit_signal(cell: ActorContext, origin: ActorContext, reason: ExitReason) -> None:
    """An exit signal from a link (OTP): a message if trapping, else kill unless normal."""
    transport = _remote_transport(cell)
    if transport is not None:
        # A link to an actor on another node: the signal travels there.
        transport.remote_exit(origin, cell, reason)
        return
    if cell._state >= STOPPING:
        return
    if cell._trap_exit:
        cell._enqueue_signal((Exit(origin._ref, reason), origin, None))
    elif reason != NORMAL:
        cell._kill(reason)


def signal_exit(cell: ActorContext, reason: ExitReason, *, signal: bool) -> None:
    """The actor is gone: unlink and unwatch it; tell links and monitors (if ``signal``)."""
    links, cell._links = cell._links, None
    if links:
        for other in links:
            if other._links is not None:
                other._links.pop(cell, None)
            if signal:
                exit_signal(other, cell, reason)
    watching, cell._watching = cell._watching, None
    if watching:
        for monitor_id, target in watching.items():
            if target._monitors is not None:
                target._monitors.pop(monitor_id, None)
                transport = _remote_transport(target)
                if transport is not None:
                    transport.remote_demonitor(target, monitor_id)
    monitors, cell._monitors = cell._monitors, None
    if monitors and signal:
        for monitor_id, watcher in monitors.items():
            if watcher._state <= RUNNING:
                watcher._enqueue_signal((Down(cell._ref, reason, monitor_id), None, None))
            if watcher._watching is not None:
                watcher._watching.pop(monitor_id, None)

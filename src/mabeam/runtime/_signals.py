"""Exit reasons and the system messages an actor can receive (``Exit``, ``Down``).

An exit reason is OTP's: the atoms ``normal``, ``shutdown``, ``killed`` and
``noproc`` as strings, or the exception that crashed the actor. ``normal`` and
``shutdown`` are the orderly ones (a transient child is not restarted for them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, TypeAlias

import msgspec

if TYPE_CHECKING:
    from ._ref import ActorRef

ExitReason: TypeAlias = "str | BaseException"

NORMAL: Final = "normal"
"""The actor finished on purpose (``stop()``, or ``context.stop()``)."""
SHUTDOWN: Final = "shutdown"
"""Its owner or supervisor shut it down (also: a supervisor giving up, OTP-style)."""
KILLED: Final = "killed"
"""It did not stop within its shutdown timeout and was cancelled."""
NOPROC: Final = "noproc"
"""It was not running when monitored."""


def is_orderly(reason: ExitReason) -> bool:
    """``normal`` or ``shutdown``: the exits a transient child is not restarted for."""
    return isinstance(reason, str) and reason in (NORMAL, SHUTDOWN)


def describe_reason(reason: ExitReason) -> str:
    """A short text for logs and traces: the atom, or the exception's repr."""
    return reason if isinstance(reason, str) else repr(reason)


class Exit(msgspec.Struct, frozen=True, tag=True):
    """A linked actor exited; delivered as a message only to actors that trap exits."""

    actor: ActorRef
    reason: Any


class Down(msgspec.Struct, frozen=True, tag=True):
    """A monitored actor exited (or was not running: reason ``noproc``)."""

    actor: ActorRef
    reason: Any
    monitor: int

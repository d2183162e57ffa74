"""Exit reasons and the system messages an actor can receive (``Exit``, ``Down``).

An exit reason is OTP's: the atoms ``normal``, ``shutdown``, ``killed`` and
``noproc`` as strings, :class:`Shutdown` (OTP's ``{shutdown, Term}``: a shutdown that
says why), or the exception that crashed the actor. ``normal``, ``shutdown`` and
``Shutdown(...)`` are the orderly ones (a transient child is not restarted for them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, TypeAlias

import msgspec

if TYPE_CHECKING:
    from ._ref import ActorRef

ExitReason: TypeAlias = "str | Shutdown | BaseException"

NORMAL: Final = "normal"
"""The actor finished on purpose (``stop()``, or ``context.stop()``)."""
SHUTDOWN: Final = "shutdown"
"""Its owner or supervisor shut it down (also: a supervisor giving up, OTP-style)."""
KILLED: Final = "killed"
"""It did not stop within its shutdown timeout and was cancelled."""
NOPROC: Final = "noproc"
"""It was not running when monitored."""


class Shutdown(msgspec.Struct, frozen=True):
    """An orderly exit that carries why: OTP's ``{shutdown, Term}``.

    ``context.stop(Shutdown("maintenance"))`` ends an actor as ``shutdown`` does: a
    transient child is not restarted, it is no crash, and a linked actor that does not
    trap exits exits with the same reason (one that traps gets it in the ``Exit``).
    """

    payload: Any = None


def is_orderly(reason: ExitReason) -> bool:
    """``normal``, ``shutdown``, ``Shutdown(...)``: exits a transient child is not restarted for."""
    if isinstance(reason, str):
        return reason in (NORMAL, SHUTDOWN)
    return isinstance(reason, Shutdown)


def describe_reason(reason: ExitReason) -> str:
    """A short text for logs and traces: the atom, ``shutdown: <payload>``, or the repr."""
    if isinstance(reason, str):
        return reason
    if isinstance(reason, Shutdown):
        return f"{SHUTDOWN}: {reason.payload!r}"
    return repr(reason)


class Exit(msgspec.Struct, frozen=True, tag=True):
    """A linked actor exited; delivered as a message only to actors that trap exits."""

    actor: ActorRef
    reason: Any


class Down(msgspec.Struct, frozen=True, tag=True):
    """A monitored actor exited (or was not running: reason ``noproc``)."""

    actor: ActorRef
    reason: Any
    monitor: int

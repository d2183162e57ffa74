"""Lifecycle states of an actor and the context variable naming the running actor."""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from ._context import ActorContext

STARTING: Final = 0
RUNNING: Final = 1
STOPPING: Final = 2
DEAD: Final = 3

current_context: contextvars.ContextVar[ActorContext | None] = contextvars.ContextVar(
    "mabeam_current_actor", default=None
)
"""The actor whose code is running: how the runtime stamps the sender of a message.

Each actor's task sets it; application code outside actors sees None. Code cannot
pass a sender of its choosing, so a sender can never be forged.
"""


class _Stop:
    """Mailbox item that ends the drain loop with an exit reason."""

    __slots__ = ()


STOP: Final = _Stop()
"""The mailbox item of a stop (``ref.stop()``, ``context.stop()``, a shutdown)."""

"""The :class:`Actor` base class: what a user subclasses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ._mailbox import UNBOUNDED, Mailbox
from ._signals import ExitReason

if TYPE_CHECKING:
    from ._context import ActorContext


class Actor:
    """An actor: state plus ``receive``, run one message at a time by the runtime.

    Subclass it and define ``async def receive(self, message)``; what it returns
    answers an ``ask`` (and is ignored for a ``tell``). An exception escaping
    ``receive`` crashes the actor, as in OTP: links and monitors are told, its
    supervisor decides, and a waiting ``ask`` gets
    :class:`~mabeam.ActorCrashedError` with the exception as ``__cause__``.

    ``self.context`` (set before ``on_start``, not yet in ``__init__``) is the
    actor's handle on the runtime: its own ref, the current sender, spawning,
    links, monitors and timers.

    Class attributes: ``mailbox`` (a :class:`Mailbox`, unbounded by default) and
    ``trap_exit`` (turn exit signals from links into :class:`~mabeam.Exit` messages).
    """

    mailbox: ClassVar[Mailbox] = UNBOUNDED
    trap_exit: ClassVar[bool] = False
    context: ActorContext

    async def on_start(self) -> None:
        """Runs once before the first message, in the spawner's ``await spawn(...)``.

        Raising here fails the spawn with :class:`~mabeam.ActorStartError`.
        """

    async def on_restart(self, reason: ExitReason) -> None:
        """Runs instead of ``on_start`` on an instance a supervisor restarted after ``reason``.

        The default calls ``on_start``.
        """
        await self.on_start()

    async def receive(self, message: Any) -> Any:
        """Handle one message; the return value answers an ``ask``."""
        raise NotImplementedError(
            f"{type(self).__name__} does not handle {type(message).__name__}: define receive()"
        )

    async def on_stop(self, reason: ExitReason) -> None:
        """Runs when the actor exits for any ``reason`` but ``killed``; then it is gone.

        Its owner waits for it at most the actor's shutdown timeout.
        """


def overrides(actor: Actor, method: str) -> bool:
    """True when the actor's class overrides ``method`` of :class:`Actor`."""
    return getattr(type(actor), method) is not getattr(Actor, method)

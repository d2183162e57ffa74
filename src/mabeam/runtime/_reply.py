"""Deferred replies: answer an ask later, from another message (OTP's ``gen_server:reply``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._errors import ActorError

if TYPE_CHECKING:
    from ._context import ActorContext


class DeferredReply:
    """The answer to one ask, kept by the actor and given later: :meth:`reply` or :meth:`fail`.

    Made by :meth:`ActorContext.reply_later` while the ask is handled; the handler's return
    value is then not the answer. The asker keeps waiting (within its ``ask`` timeout) until
    the actor calls ``reply(value)`` or ``fail(error)``, from whatever later message it
    likes. If the actor exits first, the asker gets :class:`~mabeam.ActorDeadError` at once.

    A handle made for a message that was told, not asked, wants no answer (:attr:`wanted`
    is False): its ``reply`` and ``fail`` do nothing, as a told message's return value
    goes nowhere.
    """

    __slots__ = ("_asker", "_cell", "_label", "_message_type", "_reply", "_wanted")

    def __init__(
        self, cell: ActorContext, reply: Any, asker: ActorContext | None, message_type: str
    ) -> None:
        self._cell: ActorContext | None = cell
        self._label = cell._label
        self._reply = reply
        self._asker = asker
        self._message_type = message_type
        self._wanted = reply is not None

    @property
    def wanted(self) -> bool:
        """True for an ask (someone awaits the answer), False for a told message."""
        return self._wanted

    @property
    def done(self) -> bool:
        """True once given (``reply``/``fail``) or failed by the actor's exit."""
        return self._cell is None

    def reply(self, value: Any) -> None:
        """Answer the ask with ``value`` (what ``receive`` would have returned)."""
        self._settle(value, None)

    def fail(self, error: BaseException) -> None:
        """Fail the ask: the asker's ``ask`` raises ``error``."""
        if not isinstance(error, BaseException):
            raise TypeError(f"fail() needs an exception, got {error!r}")
        self._settle(None, error)

    def _settle(self, value: Any, error: BaseException | None) -> None:
        cell = self._cell
        if cell is None:
            raise ActorError(
                f"the deferred reply to {self._message_type} was already given "
                "(or failed when the actor exited)",
                actor=self._label,
            )
        self._cell = None
        reply, self._reply = self._reply, None
        if cell._deferred is not None:
            cell._deferred.pop(self, None)
        if reply is not None:
            cell._answer(reply, self._asker, value, error)

    def _abandon(self, error: BaseException) -> None:
        """The actor exits with this reply outstanding: the asker fails at once."""
        if self._cell is not None:
            self._settle(None, error)

    def __repr__(self) -> str:
        state = "done" if self.done else ("pending" if self._wanted else "not wanted")
        return f"<DeferredReply {self._label} {self._message_type} {state}>"

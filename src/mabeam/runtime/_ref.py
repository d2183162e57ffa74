"""``ActorRef``: the only way to reach an actor — tell, send, ask, stop.

Besides the actor's own cell, a ref may stand on :class:`Departed` (an actor that exited
before its message arrived) or :class:`Remote` (a live actor on another node).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Generic, Protocol

from typing_extensions import TypeVar

from .._errors import ActorDeadError, ActorError, AskTimeoutError
from ._checks import check_seconds
from ._envelope import ASK, TELL, Address, Envelope
from ._mailbox import Mailbox
from ._state import DEAD, RUNNING, current_context

if TYPE_CHECKING:
    from ._context import ActorContext
    from ._system import ActorSystem

DEFAULT_ASK_TIMEOUT = 5.0
"""Seconds an ``ask`` waits by default: OTP's ``gen_server:call`` default."""

_INF = float("inf")


def _expire(reply: asyncio.Future[Any], actor: str, message: Any, timeout: float) -> None:
    if not reply.done():
        reply.set_exception(AskTimeoutError(actor, type(message).__name__, timeout))


def send_ask(
    system: ActorSystem,
    sender: ActorContext | None,
    cell: Any,
    message: Any,
    reply: asyncio.Future[Any],
) -> int:
    """Ask through the transport: the ask waits in the system's table by correlation id
    (returned; the asker pops it when done), and its answer comes back as an envelope
    (``system.deliver`` resolves it)."""
    correlation = next(system._correlations)
    system._pending[correlation] = reply
    src = system._address if sender is None else sender._addr()
    envelope = Envelope(
        ASK,
        src,
        cell._addr(),
        message,
        None if sender is None else sender._name,
        cell._name,
        correlation,
        src,
    )
    try:
        system._send(envelope)
    except BaseException:
        system._pending.pop(correlation, None)  # not sent: nothing will answer it
        raise
    return correlation


ReplyT = TypeVar("ReplyT", default=Any)
"""What an actor's ``receive`` returns: the type ``ask`` gives back (``Any`` unless known)."""
_ReplyT_co = TypeVar("_ReplyT_co", covariant=True)


class Receives(Protocol[_ReplyT_co]):
    """Anything with an ``async receive(message)``: ``spawn`` reads the reply type off it."""

    async def receive(self, message: Any, /) -> _ReplyT_co: ...


class ActorRef(Generic[ReplyT]):
    """A handle on one actor incarnation. Only the runtime makes them (no public constructor).

    A restarted actor is a new incarnation with a new ref; find it again by name with
    ``system.whereis(name)``, as in OTP.

    For type checkers, ``ActorRef[R]`` is a ref whose ``ask`` returns ``R``: ``spawn``
    infers ``R`` from the return annotation of the actor class's ``receive`` (a bare
    ``ActorRef`` is ``ActorRef[Any]``). The parameter exists only for type checkers.
    """

    __slots__ = ("_cell",)
    _cell: ActorContext

    def __init__(self) -> None:
        raise TypeError("ActorRef is made by the runtime: use system.spawn(...)")

    @classmethod
    def _from_cell(cls, cell: ActorContext) -> ActorRef[Any]:
        ref = object.__new__(cls)
        ref._cell = cell
        return ref

    @property
    def name(self) -> str | None:
        """The name it was registered under, if any."""
        return self._cell._name

    @property
    def id(self) -> int:
        """A number unique to this incarnation within its system."""
        return self._cell._id

    @property
    def address(self) -> Address:
        """``(node, id)``: where a transport sends to. The node is the system's name."""
        return self._cell._addr()

    @property
    def label(self) -> str:
        """The registered name, else ``ClassName#id``: how logs and errors name it."""
        return self._cell._label

    @property
    def is_alive(self) -> bool:
        """True while it accepts messages (started and not stopping)."""
        return self._cell._state <= RUNNING

    def tell(self, message: Any) -> None:
        """Send without waiting. To an actor that is not running it goes to dead letters.

        A full bounded mailbox with policy ``fail`` or ``backpressure`` raises
        :class:`~mabeam.MailboxFullError` here (``backpressure`` wants ``await send()``).
        """
        cell = self._cell
        sender = current_context.get()
        if cell._state > RUNNING:
            cell._system._dead_letter(cell._label, message, sender, "actor_not_running")
            return
        system = cell._system
        transport = system._transport
        if transport is None:
            cell._enqueue((message, sender, None))
        elif sender is None:
            transport.send(Envelope(TELL, system._address, cell._addr(), message, None, cell._name))
        else:
            transport.send(
                Envelope(TELL, sender._addr(), cell._addr(), message, sender._name, cell._name)
            )

    async def send(self, message: Any) -> None:
        """Like :meth:`tell`, but waits for room in a full ``backpressure`` mailbox."""
        cell = self._cell
        if cell._state > RUNNING:
            raise ActorDeadError(cell._label, "send")
        if cell._mailbox.overflow == "backpressure":
            await cell._wait_for_room()
        self.tell(message)

    async def ask(self, message: Any, *, timeout: float | None = DEFAULT_ASK_TIMEOUT) -> ReplyT:
        """Send and wait for what ``receive`` returns.

        Raises :class:`~mabeam.AskTimeoutError` (names the actor and message type) after
        ``timeout`` seconds (``None`` or ``math.inf``: wait forever; a negative or NaN
        timeout raises ``ConfigError``, a non-number ``TypeError``, before anything is
        sent), :class:`~mabeam.ActorDeadError` at once if the actor is not running (or
        when it dies first), and
        :class:`~mabeam.ActorCrashedError` (``__cause__`` = the original) if it crashed on it.
        """
        if timeout is not None and not (type(timeout) is float and 0.0 <= timeout < _INF):
            # Anything but a plain finite float (the usual case) is checked in full.
            timeout = check_seconds("timeout", timeout, allow_none=True, allow_infinite=True)
        cell = self._cell
        if cell._state > RUNNING:
            raise ActorDeadError(cell._label, "ask")
        sender = current_context.get()
        if sender is cell:
            raise ActorError(
                f"actor {cell._label!r} asked itself: it would wait for its own reply forever",
                actor=cell._label,
            )
        if cell._mailbox.overflow == "backpressure" and cell._mailbox.capacity is not None:
            await cell._wait_for_room()
        loop = cell._loop
        reply: asyncio.Future[ReplyT] = loop.create_future()
        system = cell._system
        if system._transport is None:
            cell._enqueue((message, sender, reply))
            if timeout is None:
                return await reply
            handle = loop.call_later(timeout, _expire, reply, cell._label, message, timeout)
            try:
                return await reply
            finally:
                handle.cancel()
        correlation = send_ask(system, sender, cell, message, reply)
        timer = (
            None
            if timeout is None
            else loop.call_later(timeout, _expire, reply, cell._label, message, timeout)
        )
        try:
            return await reply
        finally:
            if timer is not None:
                timer.cancel()
            system._pending.pop(correlation, None)

    async def stop(self) -> None:
        """Stop it after the messages already in its mailbox; wait until it has exited.

        Its ``on_stop`` runs with reason ``normal``. A supervisor restarts a permanent
        child stopped this way, as OTP does: use the supervisor to remove a child.
        Raises :class:`~mabeam.ActorDeadError` if it is not running.
        """
        cell = self._cell
        if cell._state == DEAD:
            raise ActorDeadError(cell._label, "stop")
        if cell._state <= RUNNING:
            cell._push_stop("normal", front=False)
        await asyncio.shield(cell._stopped_future())

    async def join(self) -> None:
        """Wait until it has exited, for whatever reason (returns at once if it has)."""
        cell = self._cell
        if cell._state != DEAD:
            await asyncio.shield(cell._stopped_future())

    def __repr__(self) -> str:
        return f"<ActorRef {self._cell._label}>"


class Departed:
    """Stands for an actor that sent a message and exited before it arrived.

    What ``context.sender`` is then: its ref behaves as a dead actor's (a tell is a dead
    letter, an ask raises ``ActorDeadError``, a monitor gets ``Down(noproc)``), with the
    name and id the envelope carried.
    """

    __slots__ = ("_id", "_name", "_node", "_ref", "_system")

    _state = DEAD
    _children = None
    _links = None
    _monitors = None

    def __init__(self, system: ActorSystem, address: Address, name: str | None) -> None:
        self._system = system
        self._node = address.node
        self._id = address.id
        self._name = name
        self._ref = ActorRef._from_cell(self)  # type: ignore[arg-type]

    @property
    def _label(self) -> str:
        return self._name if self._name is not None else f"{self._node}#{self._id}"

    def _addr(self) -> Address:
        return Address(self._node, self._id)


class Remote:
    """Stands for a live actor on another node: its ref's messages go through the transport.

    What a ref decoded from an address of another node points at (and ``context.sender``
    of a message from there), when the system's transport reaches other nodes (NATS).
    ``tell`` and ``ask`` become envelopes to its address; ``stop``, links and monitors
    become control messages the transport carries (see :mod:`mabeam.transport`). The
    transport keeps one per address while refs to it live, so links and monitors on it
    are found again; it marks it dead when the actor is known to have exited.
    """

    __slots__ = (
        "__weakref__",
        "_id",
        "_links",
        "_monitors",
        "_name",
        "_node",
        "_ref",
        "_state",
        "_stopped",
        "_system",
    )

    _children = None
    _trap_exit = False
    _mailbox = Mailbox(overflow="fail")  # unbounded: a tell or send never waits here
    _watching = None

    def __init__(self, system: ActorSystem, address: Address, name: str | None) -> None:
        self._system = system
        self._node = address.node
        self._id = address.id
        self._name = name
        self._state = RUNNING
        self._links: dict[ActorContext, None] | None = None
        self._monitors: dict[int, ActorContext] | None = None
        self._stopped: asyncio.Future[None] | None = None
        self._ref = ActorRef._from_cell(self)  # type: ignore[arg-type]

    @property
    def _label(self) -> str:
        return self._name if self._name is not None else f"{self._node}#{self._id}"

    @property
    def _loop(self) -> asyncio.AbstractEventLoop:
        return self._system._loop

    def _addr(self) -> Address:
        return Address(self._node, self._id)

    def _push_stop(self, reason: Any, *, front: bool) -> None:
        """``ref.stop()``: a stop request to its node (the actor finishes its mailbox)."""
        self._system._transport.remote_stop(self, reason)  # type: ignore[union-attr]

    def _stopped_future(self) -> asyncio.Future[None]:
        """Resolved when the actor is known to have exited (or its node went down)."""
        if self._stopped is None:
            self._stopped = self._system._loop.create_future()
            if self._state == DEAD:
                self._stopped.set_result(None)
            else:
                self._system._transport.remote_watch_exit(self)  # type: ignore[union-attr]
        return self._stopped

    def _mark_dead(self) -> None:
        """The actor exited (a Down came, or its node restarted): refs to it are dead now."""
        self._state = DEAD
        stopped = self._stopped
        if stopped is not None and not stopped.done():
            stopped.set_result(None)

    def __repr__(self) -> str:
        return f"<Remote {self._label} on {self._node}>"

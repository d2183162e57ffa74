"""``ActorContext``: one actor's mailbox, drain loop and lifecycle (start, exit, kill).

``ActorContext`` is both the runtime's record of an actor and the actor's own handle
on the runtime (``self.context``): one object per actor keeps an idle actor small. The
runtime's code calls that object ``cell`` when it is some other actor's context (Erlang's
process control block); there is no second kind of object. Timers live in
:mod:`._timers`, links and monitors in :mod:`._links`, deferred replies in
:mod:`._reply`; the context's public methods for them delegate there.

Scheduling: an idle actor has no task. The first message into an empty mailbox starts
a task that drains the mailbox one message at a time and ends when it is empty, so a
hundred thousand idle actors cost memory, not tasks. (A message a transport delivers in
a batch of eager wakes starts no task: the drain runs at the batch's end, in a task lent
to it; see :mod:`._eager`.) The drain loop yields to the event loop every ``_BUDGET``
messages so one busy actor cannot starve the others (Erlang's reductions, roughly).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final, ParamSpec, overload

from .._errors import (
    ActorCrashedError,
    ActorDeadError,
    ActorError,
    MailboxFullError,
)
from .._log import Logger, get_logger
from . import _lifecycle, _links, _timers
from ._actor import Actor
from ._eager import PENDING
from ._envelope import FAILURE, REPLY, Address, Envelope
from ._mailbox import Mailbox
from ._multi import FanoutReply, ask_all
from ._ref import DEFAULT_ASK_TIMEOUT, ActorRef, Receives, ReplyT
from ._reply import DeferredReply
from ._signals import (
    KILLED,
    NORMAL,
    ExitReason,
)
from ._state import RUNNING, STARTING, STOP, STOPPING, current_context
from ._timers import Timer

_P = ParamSpec("_P")  # the actor class's __init__ parameters, for spawn

if TYPE_CHECKING:
    from ._system import ActorSystem

_log = get_logger("mabeam.runtime")
_actor_log = get_logger("mabeam.actor")

_BUDGET: Final = 128
"""Messages an actor handles before it yields to the event loop."""


Item = tuple[Any, "ActorContext | None", "asyncio.Future[Any] | Envelope | None"]
"""A mailbox entry: (message, sender, reply: the asker's future in-process, the ask's
envelope off a transport, or None for a tell)."""


class ActorContext:
    """An actor's handle on the runtime, available as ``self.context``."""

    __slots__ = (
        "__weakref__",
        "_actor",
        "_address",
        "_children",
        "_current",
        "_deferred",
        "_id",
        "_idle",
        "_kill_reason",
        "_links",
        "_loop",
        "_mailbox",
        "_monitors",
        "_name",
        "_parent",
        "_queue",
        "_ref",
        "_sender",
        "_shutdown_timeout",
        "_space_waiters",
        "_state",
        "_stop_reason",
        "_stopped",
        "_system",
        "_task",
        "_timers",
        "_trap_exit",
        "_watching",
    )

    def __init__(
        self,
        system: ActorSystem,
        actor: Actor,
        actor_id: int,
        name: str | None,
        parent: ActorContext | None,
        mailbox: Mailbox,
        shutdown_timeout: float | None,
    ) -> None:
        self._system = system
        self._loop = system._loop
        self._actor = actor
        self._id = actor_id
        self._name = name
        self._parent = parent
        self._mailbox = mailbox
        self._shutdown_timeout = shutdown_timeout
        self._ref = ActorRef._from_cell(self)
        self._address: Address | None = None
        self._state = STARTING
        self._idle = False
        self._queue: deque[Item] | None = None
        self._task: asyncio.Task[None] | None = None
        self._sender: ActorContext | None = None
        self._current: Item | DeferredReply | None = None
        self._deferred: dict[DeferredReply, None] | None = None
        self._kill_reason: ExitReason | None = None
        self._trap_exit = type(actor).trap_exit
        self._children: dict[int, ActorContext] | None = None
        self._links: dict[ActorContext, None] | None = None
        self._monitors: dict[int, ActorContext] | None = None
        self._watching: dict[int, ActorContext] | None = None
        self._timers: dict[Timer, None] | None = None
        self._space_waiters: deque[asyncio.Future[None]] | None = None
        self._stopped: asyncio.Future[None] | None = None
        self._stop_reason: ExitReason | None = None

    # ------------------------------------------------------------------ public API

    @property
    def self(self) -> ActorRef:
        """This actor's own ref."""
        return self._ref

    @property
    def sender(self) -> ActorRef | None:
        """The actor that sent the message being handled (None: application code or a timer)."""
        sender = self._sender
        return None if sender is None else sender._ref

    @property
    def system(self) -> ActorSystem:
        """The system this actor runs in."""
        return self._system

    @property
    def name(self) -> str | None:
        """The registered name, if it was spawned with one."""
        return self._name

    @property
    def id(self) -> int:
        """A number unique to this incarnation within its system."""
        return self._id

    @property
    def parent(self) -> ActorRef | None:
        """The actor that spawned (owns) this one; None only for the root supervisor."""
        return None if self._parent is None else self._parent._ref

    @property
    def children(self) -> list[ActorRef]:
        """The running actors this one spawned, in spawn order."""
        return [c._ref for c in (self._children or {}).values()]

    @property
    def trap_exit(self) -> bool:
        """Whether exit signals from links arrive as :class:`Exit` messages instead of killing."""
        return self._trap_exit

    @trap_exit.setter
    def trap_exit(self, value: bool) -> None:
        self._trap_exit = bool(value)

    @property
    def log(self) -> Logger:
        """A logger (``mabeam.actor``) bound with this actor's name and id.

        ``self.context.log.info("decided", value=v)``: silent below WARNING unless the
        application turns it on, as every mabeam event (see :mod:`mabeam._log`).
        """
        return _actor_log.bind(actor=self._label, actor_id=self._id)

    def time(self) -> float:
        """The system clock in seconds (virtual time in simulation)."""
        return self._loop.time()

    @overload
    async def spawn(
        self, actor_class: Callable[_P, Receives[ReplyT]], /, *args: _P.args, **kwargs: _P.kwargs
    ) -> ActorRef[ReplyT]: ...
    # With name= or mailbox= the constructor's arguments go unchecked: PEP 612 allows no
    # keyword options beside a ParamSpec. mypy deems these two unreachable (signature 1 is
    # broader in the abstract), yet calls passing name= or mailbox= are matched by them.
    @overload
    async def spawn(  # type: ignore[overload-cannot-match]
        self,
        actor_class: Callable[..., Receives[ReplyT]],
        /,
        *args: Any,
        name: str | None,
        mailbox: Mailbox | None = None,
        **kwargs: Any,
    ) -> ActorRef[ReplyT]: ...
    @overload
    async def spawn(  # type: ignore[overload-cannot-match]
        self,
        actor_class: Callable[..., Receives[ReplyT]],
        /,
        *args: Any,
        name: str | None = None,
        mailbox: Mailbox,
        **kwargs: Any,
    ) -> ActorRef[ReplyT]: ...
    async def spawn(  # type: ignore[misc]  # the overloads above are its typed face
        self,
        actor_class: type[Actor],
        /,
        *args: Any,
        name: str | None = None,
        mailbox: Mailbox | None = None,
        **kwargs: Any,
    ) -> ActorRef[Any]:
        """Start a child actor owned by this one: it is shut down when this actor exits."""
        cell = await _lifecycle.spawn_child(
            self, actor_class, args, kwargs, name=name, mailbox=mailbox
        )
        return cell._ref

    @overload
    async def spawn_link(
        self, actor_class: Callable[_P, Receives[ReplyT]], /, *args: _P.args, **kwargs: _P.kwargs
    ) -> ActorRef[ReplyT]: ...
    # With name= or mailbox= the constructor's arguments go unchecked: PEP 612 allows no
    # keyword options beside a ParamSpec. mypy deems these two unreachable (signature 1 is
    # broader in the abstract), yet calls passing name= or mailbox= are matched by them.
    @overload
    async def spawn_link(  # type: ignore[overload-cannot-match]
        self,
        actor_class: Callable[..., Receives[ReplyT]],
        /,
        *args: Any,
        name: str | None,
        mailbox: Mailbox | None = None,
        **kwargs: Any,
    ) -> ActorRef[ReplyT]: ...
    @overload
    async def spawn_link(  # type: ignore[overload-cannot-match]
        self,
        actor_class: Callable[..., Receives[ReplyT]],
        /,
        *args: Any,
        name: str | None = None,
        mailbox: Mailbox,
        **kwargs: Any,
    ) -> ActorRef[ReplyT]: ...
    async def spawn_link(  # type: ignore[misc]  # the overloads above are its typed face
        self,
        actor_class: type[Actor],
        /,
        *args: Any,
        name: str | None = None,
        mailbox: Mailbox | None = None,
        **kwargs: Any,
    ) -> ActorRef[Any]:
        """Like :meth:`spawn`, and linked: an abnormal exit of either one reaches the other."""
        cell = await _lifecycle.spawn_child(
            self, actor_class, args, kwargs, name=name, mailbox=mailbox, link=True
        )
        return cell._ref

    def link(self, ref: ActorRef) -> None:
        """Link both ways; linking to an actor that is not running is an exit ``noproc`` now."""
        _links.link(self, ref)

    def unlink(self, ref: ActorRef) -> None:
        """Remove a link (both ways); a no-op when there is none."""
        _links.unlink(self, ref)

    def monitor(self, ref: ActorRef) -> int:
        """Watch ``ref``: when it exits this actor gets ``Down(ref, reason, monitor_id)``."""
        return _links.monitor(self, ref)

    def demonitor(self, monitor_id: int) -> None:
        """Stop watching; a ``Down`` already in the mailbox stays there."""
        _links.demonitor(self, monitor_id)

    def send_after(self, delay: float, message: Any) -> Timer:
        """Send ``message`` to this actor after ``delay`` seconds (cancelled if it exits)."""
        return _timers.send_after(self, delay, message)

    def send_interval(self, interval: float, message: Any) -> Timer:
        """Send ``message`` to this actor every ``interval`` seconds until cancelled or exit."""
        return _timers.send_interval(self, interval, message)

    def stop(self, reason: ExitReason = NORMAL) -> None:
        """Exit with ``reason`` once the current message is handled (pending ones are dropped)."""
        if self._state >= STOPPING:
            return
        self._push_stop(reason, front=True)

    def reply_later(self) -> DeferredReply:
        """Answer the message being handled later, from another message (``gen_server:reply``).

        Call it while handling an ask whose answer is not known yet (a command that commits
        later, a request that waits for a quorum): keep the returned
        :class:`DeferredReply` and call its ``reply(value)`` or ``fail(error)`` when the
        answer is there. The handler's return value is then ignored, and the actor goes on
        with its next message meanwhile. An actor that exits with replies outstanding fails
        them (the askers get ``ActorDeadError``). For a told message the handle wants no
        answer (``wanted`` is False). Called outside a handler it raises ``ActorError``.
        """
        current = self._current
        if isinstance(current, DeferredReply):
            return current
        if current is None or current_context.get() is not self:
            raise ActorError(
                "reply_later() is for the actor itself, while it handles a message",
                actor=self._label,
            )
        message, sender, reply = current
        handle = DeferredReply(self, reply, sender, type(message).__name__)
        self._current = handle
        if reply is not None:
            if self._deferred is None:
                self._deferred = {}
            self._deferred[handle] = None
        return handle

    def whereis(self, name: str) -> ActorRef | None:
        """The ref registered under ``name`` in this actor's system, or None."""
        return self._system.whereis(name)

    @overload
    async def ask_all(
        self,
        targets: Iterable[ActorRef[ReplyT]],
        message: Any,
        *,
        timeout: float | None = DEFAULT_ASK_TIMEOUT,
    ) -> list[ReplyT | ActorError]: ...

    @overload
    async def ask_all(
        self,
        targets: Iterable[ActorRef[Any] | str],
        message: Any,
        *,
        timeout: float | None = DEFAULT_ASK_TIMEOUT,
    ) -> list[Any]: ...

    async def ask_all(
        self,
        targets: Iterable[ActorRef[Any] | str],
        message: Any,
        *,
        timeout: float | None = DEFAULT_ASK_TIMEOUT,
    ) -> list[Any]:
        """Ask ``message`` of every target at once; this actor is the asker.

        See :meth:`ActorSystem.ask_all`: a list in the order of ``targets``, each item
        the answer or the exception that ask got.
        """
        return await ask_all(self._system, self, targets, message, timeout)

    def tell(self, name: str, message: Any) -> None:
        """Send ``message`` to whatever actor is registered as ``name``; this actor is the sender.

        Name addressing, as Erlang's ``Name ! Message`` and Akka's ``ActorSelection``: for
        peers that may be down or restarted, where a ref would pin one incarnation. See
        :meth:`ActorSystem.tell`: without a transport the name is resolved now (nobody
        registered: a dead letter ``no_such_name``; a stopping actor: ``actor_not_running``);
        on the simulated network a message to a node travels and the name is resolved on
        arrival (a restarted actor gets it; none running: dropped, a dead letter).
        ``ctx.whereis(name).tell(message)`` differs: it needs the actor up now, and a
        message in flight stays addressed to that one incarnation.
        """
        self._system._tell_named(name, message, self)

    # ------------------------------------------------------------------ internals

    def _addr(self) -> Address:
        """This actor's address, made on first use (most actors never cross a transport)."""
        address = self._address
        if address is None:
            address = self._address = Address(self._system.name, self._id)
        return address

    @property
    def _label(self) -> str:
        return self._name if self._name is not None else f"{type(self._actor).__name__}#{self._id}"

    def _abort_start(self, reason: ExitReason) -> None:
        """on_start failed: the actor never ran, so nobody is signalled; pending asks fail."""
        _lifecycle.abort_start(self, reason)

    # -- delivery

    def _enqueue(self, item: Item) -> None:
        """Put an item in the mailbox (the caller checked the actor is not dead)."""
        queue = self._queue
        if queue is None:
            self._queue = queue = deque()
        elif self._mailbox.capacity is not None and len(queue) >= self._mailbox.capacity:
            self._overflow(item)
            return
        queue.append(item)
        if self._idle:
            self._wake()

    def _enqueue_signal(self, item: Item) -> None:
        """Put an ``Exit`` or ``Down`` in the mailbox: signals pass a bounded mailbox's capacity.

        A full mailbox must neither lose the news that a link or monitored actor died nor
        raise inside the exiting actor's bookkeeping.
        """
        if self._queue is None:
            self._queue = deque()
        self._queue.append(item)
        self._wake()

    def _wake(self) -> None:
        """Start the drain task of an idle actor (something was put in its mailbox); in a
        transport's batch of eager wakes, record it to run at the batch's end instead."""
        if self._idle:
            self._idle = False
            woken = self._system._woken
            if woken is None:
                self._task = self._loop.create_task(self._run())
            else:
                self._task = PENDING
                woken.append((self, len(self._loop._ready)))  # type: ignore[attr-defined]

    def _overflow(self, item: Item) -> None:
        message, sender, reply = item
        policy = self._mailbox.overflow
        capacity = self._mailbox.capacity or 0
        if policy == "drop":
            self._system._dead_letter(self._label, message, sender, "mailbox_full")
            if reply is not None:
                self._fail(reply, MailboxFullError(self._label, capacity, type(message).__name__))
            return
        raise MailboxFullError(self._label, capacity, type(message).__name__)

    def _accept(self, message: Any, sender: ActorContext | None, reply: Any) -> None:
        """Deliver a message arriving from a transport: dead or full means a dead letter."""
        if self._state >= STOPPING:
            self._system._dead_letter(self._label, message, sender, "actor_not_running")
            if reply is not None:
                self._fail(reply, ActorDeadError(self._label, "ask"))
            return
        try:
            self._enqueue((message, sender, reply))
        except MailboxFullError as exc:
            self._system._dead_letter(self._label, message, sender, "mailbox_full")
            if reply is not None:
                self._fail(reply, exc)

    async def _wait_for_room(self) -> None:
        """Backpressure: wait until the bounded mailbox has room (or the actor dies)."""
        capacity = self._mailbox.capacity
        while (
            capacity is not None
            and self._state <= RUNNING
            and self._queue is not None
            and len(self._queue) >= capacity
        ):
            if self._space_waiters is None:
                self._space_waiters = deque()
            waiter: asyncio.Future[None] = self._loop.create_future()
            self._space_waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if not waiter.done():
                    waiter.cancel()
                elif self._space_waiters:
                    # We were woken but leave: pass the room on to the next sender.
                    self._wake_sender()
                raise
        if self._state >= STOPPING:
            raise ActorDeadError(self._label, "send")

    def _wake_sender(self) -> None:
        waiters = self._space_waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _push_stop(self, reason: ExitReason, *, front: bool) -> None:
        """Queue a stop: at the front (after the current message) or behind pending messages."""
        if self._queue is None:
            self._queue = deque()
        if front:
            self._queue.appendleft((STOP, None, None))
            self._stop_reason = reason
        else:
            self._queue.append((STOP, None, None))
            if self._stop_reason is None:
                self._stop_reason = reason
        self._wake()

    # -- the drain loop

    async def _run(self) -> None:
        """The drain loop: one message at a time until the mailbox is empty (then the
        actor is idle again, with no task) or the actor exits. One coroutine per wake:
        the loop is inline, not awaited from a second coroutine."""
        current_context.set(self)
        queue = self._queue
        assert queue is not None
        receive = self._actor.receive
        bounded = self._mailbox.capacity is not None
        budget = _BUDGET
        linger = False
        reason: ExitReason | None = None
        try:
            while True:
                if not queue:
                    if not linger:
                        break
                    # After answering an ask in-process, linger for one turn of the event
                    # loop before giving the task up: the reply usually brings the next
                    # request in that turn (ping-pong asks), and reusing the task is far
                    # cheaper than starting a new one. Over a transport the reply takes
                    # its latency, so lingering would only cost a turn.
                    linger = False
                    await asyncio.sleep(0)
                    if not queue:
                        break
                item = queue.popleft()
                message, sender, reply = item
                if bounded and self._space_waiters:
                    self._wake_sender()
                if message is STOP:
                    reason = self._stop_reason if self._stop_reason is not None else NORMAL
                    break
                self._sender = sender
                self._current = item
                try:
                    result = await receive(message)
                except Exception as exc:
                    if reply is not None:
                        error = ActorCrashedError(self._label, type(message).__name__, exc)
                        error.__cause__ = exc
                        self._answer_current(item, reply, sender, error)
                    reason = exc
                    break
                except asyncio.CancelledError:
                    # Killed mid-message (a link, a shutdown timeout): its ask gets no
                    # answer.
                    if reply is not None:
                        self._answer_current(
                            item, reply, sender, ActorDeadError(self._label, "ask")
                        )
                    raise
                if reply is not None and self._current is item:
                    self._answer(reply, sender, result, None)
                    # One of ask_all's asks: its caller sends nothing more until every
                    # answer is in, so lingering for a next request would only cost a turn.
                    linger = self._system._transport is None and type(reply) is not FanoutReply
                self._current = None
                budget -= 1
                if not budget:
                    budget = _BUDGET
                    await asyncio.sleep(0)
        except asyncio.CancelledError:
            if self._kill_reason is None:
                # Cancelled from outside the runtime (asyncio.run ending, or code that
                # cancels every task): the actor cannot go on, so it exits as killed
                # (links, monitors and its supervisor are told) instead of lingering.
                self._finalize(KILLED)
                raise
            task = self._task
            if task is not None:
                task.uncancel()
            reason = self._kill_reason
        if reason is None:
            self._sender = None
            self._queue = None
            self._task = None
            self._idle = True
            return
        await self._exit(reason)

    def _answer_current(
        self, item: Item, reply: Any, sender: ActorContext | None, error: BaseException
    ) -> None:
        """Fail the ask being handled, whether it was still the handler's or deferred."""
        current, self._current = self._current, None
        if current is item:
            self._answer(reply, sender, None, error)
        elif isinstance(current, DeferredReply):
            current._abandon(error)

    def _answer(
        self,
        reply: asyncio.Future[Any] | Envelope,
        asker: ActorContext | None,
        result: Any,
        error: BaseException | None,
    ) -> None:
        """Answer an ask: its future in-process, else an answer envelope on the transport."""
        if type(reply) is Envelope:
            # The answer is a message: it travels back to the asker's address.
            self._system._send(
                Envelope(
                    REPLY if error is None else FAILURE,
                    self._addr(),
                    reply.reply_to or reply.src,
                    result if error is None else error,
                    self._name,
                    reply.src_name,
                    reply.correlation,
                )
            )
            return
        assert isinstance(reply, asyncio.Future)
        if not reply.done():
            if error is None:
                reply.set_result(result)
            else:
                reply.set_exception(error)

    def _fail(self, reply: asyncio.Future[Any] | Envelope, error: BaseException) -> None:
        """Fail an ask that will not be handled (dead, full): at once, not as a message."""
        if type(reply) is Envelope:
            self._system._fail_ask(reply, error)
        else:
            assert isinstance(reply, asyncio.Future)
            if not reply.done():
                reply.set_exception(error)

    # -- exits

    def _kill(self, reason: ExitReason) -> None:
        """Exit now with ``reason``: cancel the handler that runs, then run on_stop."""
        _lifecycle.kill(self, reason)

    async def _exit(self, reason: ExitReason) -> None:
        await _lifecycle.exit(self, reason)

    async def _stop_children(self) -> None:
        """Shut owned children down in reverse spawn order, each within its shutdown timeout."""
        await _lifecycle.stop_children(self)

    async def _shutdown(self, reason: ExitReason) -> None:
        """Ask this actor to exit after its current message; kill it past its timeout."""
        await _lifecycle.shutdown(self, reason)

    def _can_finish_now(self) -> bool:
        """Idle, nothing to run on exit: finish without a task (fast shutdown of many actors)."""
        return _lifecycle.can_finish_now(self)

    def _stopped_future(self) -> asyncio.Future[None]:
        if self._stopped is None:
            self._stopped = self._loop.create_future()
        return self._stopped

    def _finalize(self, reason: ExitReason, *, signal: bool = True) -> None:
        """The actor is gone: fail what waits on it, tell links, monitors, then resolve stop()."""
        _lifecycle.finalize(self, reason, signal=signal)

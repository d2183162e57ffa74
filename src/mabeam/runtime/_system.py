"""``ActorSystem``: the root supervisor, the name registry, dead letters and the transport."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, deque
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, ParamSpec, Protocol, cast, overload

import msgspec

from .._errors import (
    ActorDeadError,
    ActorError,
    ConfigError,
    NameTakenError,
    SystemClosedError,
    UnsupportedEventLoopError,
)
from .._log import get_logger
from . import _lifecycle
from ._actor import Actor
from ._cleanup import finish
from ._context import ActorContext
from ._eager import Woken
from ._envelope import ASK, FAILURE, REPLY, TELL, Address, Envelope
from ._mailbox import Mailbox
from ._multi import ask_all
from ._ref import DEFAULT_ASK_TIMEOUT, ActorRef, Departed, Receives, ReplyT
from ._signals import SHUTDOWN, ExitReason, describe_reason
from ._state import RUNNING, STOPPING, current_context

_P = ParamSpec("_P")  # the actor class's __init__ parameters, for spawn

if TYPE_CHECKING:
    from ..codec import Codec
    from .supervision import Supervisor

_log = get_logger("mabeam.runtime")


class Transport(Protocol):
    """Where messages between actors go when the system has one (a network, real or simulated).

    Without a transport a message goes straight into the target's mailbox. With one,
    every tell, ask and answer becomes an :class:`~mabeam.runtime.Envelope` handed to
    ``send``; the transport carries it (or loses it) and hands it to the destination
    system's :meth:`ActorSystem.deliver`, the one entry point. ``attach`` is called once
    when a system starts with the transport. The sender in an envelope is stamped by the
    runtime, never by the caller.

    A transport that needs to set itself up (connect to a server) may also have
    ``async start()`` and ``async close()``: the system awaits ``start`` when it is
    entered (after ``attach``) and ``close`` when it has shut its actors down (``close``
    runs to the end even when the caller is being cancelled). One that reaches actors
    of other nodes also has ``remote(address, name)`` (the cell a ref to such an actor
    stands on), ``lookup(name)`` (a name registered on another node),
    ``names_changed()`` and ``spawn_remote(...)``: see
    :class:`mabeam.transport.NatsTransport`.
    """

    def attach(self, system: ActorSystem) -> None: ...

    def send(self, envelope: Envelope) -> None: ...


class _Names(dict[str, ActorContext]):
    """The name registry of a system whose transport announces names to other nodes.

    A dict that calls ``changed()`` whenever a name is added or removed; reads are the
    dict's own. Only systems with such a transport use it (the others keep a plain dict).
    """

    __slots__ = ("changed",)

    def __init__(self, changed: Callable[[], None]) -> None:
        super().__init__()
        self.changed = changed

    def __setitem__(self, name: str, cell: ActorContext) -> None:
        super().__setitem__(name, cell)
        self.changed()

    def __delitem__(self, name: str) -> None:
        super().__delitem__(name)
        self.changed()

    def pop(self, name: str, *default: Any) -> Any:
        had = name in self
        value = super().pop(name, *default)
        if had:
            self.changed()
        return value


NO_SUCH_NAME: Final = "no_such_name"
"""Dead-letter reason: a message sent to a name no actor is registered under."""

ACTOR_NOT_RUNNING: Final = "actor_not_running"
"""Dead-letter reason: a message sent to an actor that is stopping or has exited."""


class DeadLetter(msgspec.Struct, frozen=True):
    """A message that reached no actor."""

    recipient: str
    sender: str | None
    message: Any
    reason: str


class DeadLetters:
    """Messages that reached no actor: counted, logged, and the latest kept for inspection."""

    def __init__(self, history: int) -> None:
        self._recent: deque[DeadLetter] = deque(maxlen=history)
        self._by_reason: Counter[str] = Counter()
        self.count = 0

    @property
    def recent(self) -> list[DeadLetter]:
        """The latest dead letters, oldest first (at most the system's ``dead_letter_history``)."""
        return list(self._recent)

    @property
    def by_reason(self) -> dict[str, int]:
        """How many dead letters each reason produced, reasons sorted."""
        return dict(sorted(self._by_reason.items()))

    def _add(self, letter: DeadLetter) -> None:
        self.count += 1
        self._by_reason[letter.reason] += 1
        self._recent.append(letter)


ExitObserver = Callable[[ActorContext, ExitReason], None]


class ActorSystem:
    """A set of actors under one root supervisor; use it as an async context manager.

    ``async with ActorSystem() as system:`` starts the root supervisor; leaving the block
    shuts every actor down in reverse start order (each within its shutdown timeout) and
    leaves no task behind. ``intensity`` / ``period`` are the root supervisor's restart
    intensity; if the root gives up, the system closes.

    ``name`` is also the system's node name: actors' addresses are ``(name, id)``.
    ``transport`` carries every message between actors as an
    :class:`~mabeam.runtime.Envelope` (see :class:`Transport`); ``codec`` is the
    :class:`~mabeam.codec.Codec` that encodes envelopes (the default knows every mabeam
    message type); ``strict=True`` has an in-process transport encode and decode every
    envelope it carries between nodes (see :attr:`strict`), so a run in one process
    proves its messages could cross a process boundary (an unregistered message type
    raises :class:`~mabeam.UnregisteredTypeError`).
    """

    def __init__(
        self,
        name: str = "mabeam",
        *,
        transport: Transport | None = None,
        codec: Codec | None = None,
        strict: bool = False,
        intensity: int = 3,
        period: float = 5.0,
        dead_letter_history: int = 1000,
    ) -> None:
        if dead_letter_history < 0:
            raise ConfigError("dead_letter_history", f"must be >= 0, got {dead_letter_history!r}")
        self.name = name
        self._transport = transport
        self._intensity = intensity
        self._period = period
        changed = getattr(transport, "names_changed", None)
        self._names: dict[str, ActorContext] = {} if changed is None else _Names(changed)
        # A transport that reaches other nodes makes live refs to their actors.
        self._remote: Callable[[Address, str | None], Any] | None = getattr(
            transport, "remote", None
        )
        self._cells: dict[int, ActorContext] = {}  # every actor that has not exited, by id
        self._pending: dict[int, asyncio.Future[Any]] = {}  # asks sent through the transport
        self._correlations = itertools.count(1)
        self._address = Address(name, 0)
        self._codec: Codec | None = codec
        self._strict = bool(strict)
        self._ids = itertools.count(1)
        self._monitor_ids = itertools.count(1)
        self._live = 0
        self._dead_letters = DeadLetters(dead_letter_history)
        self._exit_observers: list[ExitObserver] = []
        self._root: ActorContext | None = None
        self._woken: Woken | None = None  # a transport's batch of eager wakes is open
        self._closed = True
        self._entered = False
        self._shutting_down = False
        self.failure: ExitReason | None = None
        """Why the root supervisor gave up, if it did (the system is then closed)."""
        self._loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]

    async def __aenter__(self) -> ActorSystem:
        from .supervision import Supervisor

        if self._entered:
            raise SystemClosedError(f"actor system {self.name!r} was already started")
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise UnsupportedEventLoopError(
                "mabeam runs on asyncio: enter ActorSystem from code running on an asyncio "
                "event loop (asyncio.run, or anyio with its default asyncio backend), not trio"
            ) from None
        self._entered = True
        self._loop = loop
        self._closed = False
        root_actor = Supervisor(intensity=self._intensity, period=self._period)
        root = ActorContext(self, root_actor, self._next_id(), "root", None, Mailbox(), None)
        root_actor.context = root
        self._root = root
        self._live += 1
        self._cells[root._id] = root
        root._state = RUNNING
        root._idle = True
        if self._strict and self._codec is None:
            from ..codec import Codec

            self._codec = Codec.default()
        if self._transport is not None:
            self._transport.attach(self)
            start = getattr(self._transport, "start", None)
            if start is not None:
                try:
                    await start()
                except BaseException:
                    await self.shutdown()
                    raise
        _log.debug("system_started", system=self.name)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.shutdown()

    async def shutdown(self) -> None:
        """Stop every actor, children before parents, in reverse start order; then close.

        It runs to the end even when the caller is being cancelled (anyio's cancel scopes,
        ``asyncio.timeout``, ``task.cancel()``), and lets the cancellation go on after: when
        it returns or raises, no actor of the system runs and :attr:`closed` is true.
        """
        await finish(self._shutdown())

    async def _shutdown(self) -> None:
        root = self._root
        if root is None:
            return
        self._shutting_down = True
        if root._state < STOPPING:
            await root._shutdown(SHUTDOWN)
        else:
            await asyncio.shield(root._stopped_future())
        self._closed = True
        close = getattr(self._transport, "close", None)
        if close is not None:
            await close()
        # Let tasks that just finished their actor's exit return before we do.
        await asyncio.sleep(0)
        _log.debug("system_stopped", system=self.name)

    # ------------------------------------------------------------------ public API

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
    @overload
    async def spawn(  # type: ignore[overload-cannot-match]
        self,
        actor_class: Callable[..., Receives[ReplyT]],
        /,
        *args: Any,
        name: str | None = None,
        node: str,
        **kwargs: Any,
    ) -> ActorRef[ReplyT]: ...
    async def spawn(  # type: ignore[misc]  # the overloads above are its typed face
        self,
        actor_class: type[Actor],
        /,
        *args: Any,
        name: str | None = None,
        mailbox: Mailbox | None = None,
        node: str | None = None,
        **kwargs: Any,
    ) -> ActorRef[Any]:
        """Start a top-level actor under the root supervisor and return its ref.

        ``args`` / ``kwargs`` go to the actor's ``__init__``; ``name`` registers it (see
        :meth:`whereis`); ``mailbox`` overrides the class's mailbox. ``on_start`` has run
        when this returns; if it raised, this raises :class:`~mabeam.ActorStartError`.
        Top-level actors are not restarted (OTP ``temporary``): put actors that must come
        back under a :class:`~mabeam.Supervisor`.

        ``node`` starts it on another node of the cluster (a transport that reaches other
        nodes, :class:`~mabeam.transport.NatsTransport`): that node must allow the class,
        and the arguments must be encodable by the codec; the ref is a remote one.
        """
        root = self._require_root()
        if node is not None and node != self.name:
            spawn_remote = getattr(self._transport, "spawn_remote", None)
            if spawn_remote is None:
                raise ConfigError(
                    "node", f"{node!r} is another node, and this system's transport reaches none"
                )
            if mailbox is not None:
                raise ConfigError("mailbox", "cannot be given for an actor on another node")
            ref: ActorRef[Any] = await spawn_remote(node, actor_class, args, kwargs, name)
            return ref
        from .supervision import Supervisor

        # As OTP's default shutdown for a supervisor child: wait for its whole subtree.
        is_supervisor = isinstance(actor_class, type) and issubclass(actor_class, Supervisor)
        shutdown = None if is_supervisor else 5.0
        cell = await _lifecycle.spawn_child(
            root, actor_class, args, kwargs, name=name, mailbox=mailbox, shutdown=shutdown
        )
        return cell._ref

    @property
    def root(self) -> ActorRef:
        """The root supervisor: ``start_child(system.root, spec)`` adds supervised children."""
        return self._require_root()._ref

    @property
    def root_supervisor(self) -> Supervisor:
        """The root supervisor actor itself (for inspection)."""
        from .supervision import Supervisor

        actor = self._require_root()._actor
        assert isinstance(actor, Supervisor)
        return actor

    def whereis(self, name: str) -> ActorRef | None:
        """The ref registered under ``name``, or None (a restarted actor is found again)."""
        cell = self._names.get(name)
        if cell is not None:
            return cell._ref
        if self._remote is not None:
            # Another node's name, as far as this node has heard (see mabeam.transport).
            found: Address | None = self._transport.lookup(name)  # type: ignore[union-attr]
            if found is not None:
                return self._ref_for(found, name)
        return None

    def tell(self, name: str, message: Any) -> None:
        """Send ``message`` to whatever actor is registered as ``name``, without waiting.

        Erlang's ``Name ! Message`` (``{Name, Node} ! Message``), Akka's
        ``ActorSelection.tell``: the sender need not know whether the actor is up, nor
        which incarnation runs. The sender is stamped as for :meth:`ActorRef.tell` (the
        actor whose code runs, else None); inside an actor use
        :meth:`ActorContext.tell`.

        Without a transport the name is resolved now: the registered actor gets it in its
        mailbox; no actor under ``name`` makes a dead letter with reason ``no_such_name``,
        one that is stopping a dead letter ``actor_not_running`` (as ``ActorRef.tell``).
        A full bounded mailbox raises as :meth:`ActorRef.tell` does.

        With a transport that models the network (:class:`~mabeam.sim.SimNetwork`), a
        message to a network node travels like any other (counted, traced, delayed, lost,
        partitioned) and the name is resolved when it arrives: an actor restarted
        meanwhile gets it, and a node with no running actor drops it (a dead letter).
        """
        self._tell_named(name, message, current_context.get())

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
        """Ask ``message`` of every target at once and wait for all the answers.

        OTP's ``gen_server:multi_call``. ``targets`` are refs or registered names (a
        name is resolved now, as :meth:`whereis` does). Every ask is sent, in the order
        of ``targets``, before this waits; ``timeout`` (seconds, ``None`` or
        ``math.inf``: no limit) counts for all of them together, from when they are
        sent (after any wait for room in a full ``backpressure`` mailbox). Returns a
        list in the order of ``targets``: each item is what that actor's ``receive`` returned,
        or the exception :meth:`ActorRef.ask` would have raised for it
        (:class:`~mabeam.AskTimeoutError`, :class:`~mabeam.ActorDeadError` for an actor
        not running or a name nobody holds, :class:`~mabeam.ActorCrashedError`,
        :class:`~mabeam.MailboxFullError`), as ``asyncio.gather(...,
        return_exceptions=True)`` gives them. One failed ask never fails the others.

        Cheaper than ``gather`` over ``ask``: no task per target and one timer in all.
        Raises, before anything is sent, ``ConfigError`` for a negative or NaN timeout,
        ``TypeError`` for a target that is neither a ref nor a string, and
        :class:`~mabeam.ActorError` if the calling actor is among the targets. Called
        from an actor's handler, that actor is the asker (as for ``ref.ask``); inside an
        actor :meth:`ActorContext.ask_all` says so explicitly.
        """
        return await ask_all(self, current_context.get(), targets, message, timeout)

    def registered(self) -> list[str]:
        """Every registered name, sorted."""
        return sorted(self._names)

    def register(self, name: str, ref: ActorRef) -> None:
        """Register a running actor under ``name`` (one name per actor, one actor per name)."""
        cell = ref._cell
        if cell._system is not self:
            raise ConfigError("ref", "belongs to another actor system")
        if cell._state > RUNNING:
            raise ActorDeadError(cell._label, f"register it as {name!r}")
        if cell._name is not None:
            raise ConfigError("name", f"{cell._label} is already registered as {cell._name!r}")
        self._check_name_free(name)
        self._names[name] = cell
        cell._name = name

    def unregister(self, name: str) -> None:
        """Remove a name; the actor keeps running."""
        cell = self._names.pop(name, None)
        if cell is not None:
            cell._name = None

    @property
    def dead_letters(self) -> DeadLetters:
        """Counted, logged and inspectable messages that reached no actor."""
        return self._dead_letters

    @property
    def actor_count(self) -> int:
        """Actors that have not exited yet, the root supervisor included."""
        return self._live

    @property
    def closed(self) -> bool:
        """True before ``async with`` and after shutdown (or after the root gave up)."""
        return self._closed

    def time(self) -> float:
        """The system clock in seconds: the event loop's, so virtual in simulation."""
        return self._loop.time()

    def add_exit_observer(self, observer: ExitObserver) -> None:
        """Call ``observer(cell, reason)`` whenever an actor exits (used by the simulator)."""
        self._exit_observers.append(observer)

    @property
    def address(self) -> Address:
        """``(name, 0)``: this node, as the source of messages sent by application code."""
        return self._address

    @property
    def codec(self) -> Codec:
        """The codec that encodes this system's envelopes (made on first use)."""
        if self._codec is None:
            from ..codec import Codec

            self._codec = Codec.default()
        return self._codec

    @property
    def strict(self) -> bool:
        """Whether envelopes between nodes are encoded even when they stay in this process.

        A transport that carries envelopes between nodes of one process (the simulated
        network) then encodes and decodes each with :attr:`codec`; one that leaves the
        process encodes them anyway.
        """
        return self._strict

    def roundtrip(self, envelope: Envelope) -> Envelope:
        """``envelope`` encoded with :attr:`codec` and decoded again, as a peer would get it.

        Raises :class:`~mabeam.UnregisteredTypeError` naming a type the codec does not
        know. What a strict in-process transport calls for each envelope it carries.
        """
        codec = self.codec
        return codec.decode(codec.encode(envelope), self)

    def deliver(self, envelope: Envelope) -> str | None:
        """Hand an envelope from the transport to its destination: the transports' entry point.

        A message goes into the mailbox of the actor at ``envelope.dst`` (id 0: the actor
        registered as ``dst_name`` now). None there, or one that is stopping, or a full
        mailbox, makes a dead letter (reasons ``no_such_name``, ``actor_not_running``,
        ``mailbox_full``) and fails an ask at once. An answer resolves the pending ask
        with its correlation id; one that comes after its ask gave up is dropped.

        Returns why the message reached no running actor, as :meth:`undeliverable` says
        it (``"no_actor"``, ``"not_running"``), or None (in a mailbox, or an answer).
        No handler runs before this returns: a woken actor runs in a later step.
        """
        if envelope.kind >= REPLY:
            reply = self._pending.pop(envelope.correlation, None)
            if reply is not None and not reply.done():
                if envelope.kind == REPLY:
                    reply.set_result(envelope.payload)
                else:
                    reply.set_exception(envelope.payload)
            return None
        dst = envelope.dst
        if dst.id:
            cell = self._cells.get(dst.id)
            if cell is None:
                label = envelope.dst_name or f"{dst.node}#{dst.id}"
                self._undelivered(envelope, label, ACTOR_NOT_RUNNING, ActorDeadError(label, "ask"))
                return "not_running"
        else:
            name = envelope.dst_name
            cell = None if name is None else self._names.get(name)
            if cell is None:
                label = str(name)
                self._undelivered(envelope, label, NO_SUCH_NAME, ActorDeadError(label, "ask"))
                return "no_actor"
        sender = self._sender_of(envelope.src, envelope.src_name)
        stopping = cell._state > RUNNING
        cell._accept(envelope.payload, sender, envelope if envelope.kind == ASK else None)
        return "not_running" if stopping else None

    def undeliverable(self, envelope: Envelope) -> str | None:
        """Why ``envelope`` would reach no running actor if delivered now, else None.

        ``"no_actor"``: nothing is registered under its destination name;
        ``"not_running"``: its actor has exited or is stopping. Answers are always
        deliverable (None). A transport that records deliveries asks this first.
        """
        if envelope.kind >= REPLY:
            return None
        dst = envelope.dst
        if dst.id:
            cell = self._cells.get(dst.id)
            if cell is None:
                return "not_running"
        else:
            name = envelope.dst_name
            cell = None if name is None else self._names.get(name)
            if cell is None:
                return "no_actor"
        return "not_running" if cell._state > RUNNING else None

    # ------------------------------------------------------------------ internals

    def _send(self, envelope: Envelope) -> None:
        """Put an envelope on the transport."""
        transport = self._transport
        assert transport is not None
        transport.send(envelope)

    def _sender_of(self, src: Address, name: str | None) -> ActorContext | None:
        """The actor an envelope came from (None: application code)."""
        if not src.id:
            return None
        if src.node == self.name:
            cell = self._cells.get(src.id)
            if cell is not None:
                return cell
        elif self._remote is not None:
            return cast("ActorContext", self._remote(src, name))
        return cast("ActorContext", Departed(self, src, name))

    def _ref_for(self, address: Address, name: str | None) -> ActorRef:
        """A ref for an address that came in a message: the actor here, a live one on another
        node (a transport that reaches other nodes), else a departed one."""
        if address.node == self.name:
            cell = self._cells.get(address.id)
            if cell is not None:
                return cell._ref
        elif self._remote is not None:
            return cast("ActorRef", self._remote(address, name)._ref)
        return Departed(self, address, name)._ref

    def _undelivered(
        self, envelope: Envelope, recipient: str, reason: str, error: BaseException
    ) -> None:
        """A message that reached no actor: a dead letter; its ask fails at once."""
        sender = self._sender_of(envelope.src, envelope.src_name)
        self._dead_letter(recipient, envelope.payload, sender, reason)
        if envelope.kind == ASK:
            self._fail_ask(envelope, error)

    def _fail_ask(self, ask: Envelope, error: BaseException) -> None:
        """Fail an ask that never reached a handler: at once if the asker is here."""
        reply_to = ask.reply_to
        if reply_to is None or reply_to.node == self.name:
            reply = self._pending.pop(ask.correlation, None)
            if reply is not None and not reply.done():
                reply.set_exception(error)
        else:
            self._send(
                Envelope(
                    FAILURE,
                    self._address,
                    reply_to,
                    error,
                    None,
                    ask.src_name,
                    ask.correlation,
                )
            )

    def _require_root(self) -> ActorContext:
        if self._closed or self._root is None:
            raise SystemClosedError(
                f"actor system {self.name!r} is not running: use 'async with ActorSystem()'"
            )
        return self._root

    def _next_id(self) -> int:
        return next(self._ids)

    def _check_name_free(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigError("name", f"must be a non-empty string, got {name!r}")
        if name in self._names:
            raise NameTakenError(name)

    def _tell_named(self, name: str, message: Any, sender: ActorContext | None) -> None:
        if not isinstance(name, str):
            raise ConfigError(
                "name",
                f"must be a registered name (str), got {name!r}: a ref is told with ref.tell()",
            )
        if self._transport is not None:
            if sender is None:
                src, src_name = self._address, None
            else:
                src, src_name = sender._addr(), sender._name
            self._send(Envelope(TELL, src, self._address, message, src_name, name))
            return
        cell = self._names.get(name)
        if cell is None:
            self._dead_letter(name, message, sender, NO_SUCH_NAME)
        elif cell._state > RUNNING:
            self._dead_letter(cell._label, message, sender, ACTOR_NOT_RUNNING)
        else:
            cell._enqueue((message, sender, None))

    def _dead_letter(
        self, recipient: str, message: Any, sender: ActorContext | None, reason: str
    ) -> None:
        letter = DeadLetter(
            recipient=recipient,
            sender=None if sender is None else sender._label,
            message=message,
            reason=reason,
        )
        self._dead_letters._add(letter)
        _log.info(
            "dead_letter",
            recipient=recipient,
            sender=letter.sender,
            message_type=type(message).__name__,
            reason=reason,
        )

    def _actor_exited(self, cell: ActorContext, reason: ExitReason) -> None:
        for observer in self._exit_observers:
            observer(cell, reason)
        if cell is self._root:
            self._closed = True
            if not self._shutting_down:
                self.failure = reason
                _log.error("system_failed", system=self.name, reason=describe_reason(reason))

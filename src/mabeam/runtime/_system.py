"""``ActorSystem``: the root supervisor, the name registry, dead letters and the transport."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, deque
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, ParamSpec, Protocol, cast, overload

import msgspec

from .._errors import (
    ActorDeadError,
    ConfigError,
    NameTakenError,
    SystemClosedError,
    UnsupportedEventLoopError,
)
from .._log import get_logger
from ._actor import Actor
from ._cleanup import finish
from ._context import ActorContext
from ._mailbox import Mailbox
from ._ref import ActorRef, Receives, ReplyT
from ._signals import SHUTDOWN, ExitReason, describe_reason
from ._state import RUNNING, STOPPING, current_context

_P = ParamSpec("_P")  # the actor class's __init__ parameters, for spawn

if TYPE_CHECKING:
    from .supervision import Supervisor

_log = get_logger("mabeam.runtime")


class Transport(Protocol):
    """Where messages between actors go when the system has one (the simulated network).

    Without a transport a message goes straight into the target's mailbox. With one,
    ``send`` is called for every tell and ask, and ``reply`` for every answer; the
    transport hands each message on (or drops it) by calling ``target._accept(...)`` or
    resolving the reply future. The sender is stamped by the runtime, never the caller.

    Optional: a transport that also defines ``send_named(system, sender, name, message)``
    carries name-addressed tells (:meth:`ActorSystem.tell`, :meth:`ActorContext.tell`)
    itself, resolving ``name`` when the message arrives (deliver it with
    ``system._accept_named(name, message, sender)``). A transport without it gets them as
    ordinary ``send`` calls to the actor registered under the name at send time (none, or
    one that is stopping: a dead letter at once, as for a ref).
    """

    def send(
        self,
        sender: ActorContext | None,
        target: ActorContext,
        message: Any,
        reply: asyncio.Future[Any] | None,
    ) -> None: ...

    def reply(
        self,
        responder: ActorContext,
        asker: ActorContext | None,
        reply: asyncio.Future[Any],
        result: Any,
        error: BaseException | None,
    ) -> None: ...


class NamedTransport(Transport, Protocol):
    """A :class:`Transport` that carries name-addressed messages itself (see there)."""

    def send_named(
        self, system: ActorSystem, sender: ActorContext | None, name: str, message: Any
    ) -> None: ...


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
    """

    def __init__(
        self,
        name: str = "mabeam",
        *,
        transport: Transport | None = None,
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
        self._names: dict[str, ActorContext] = {}
        self._ids = itertools.count(1)
        self._monitor_ids = itertools.count(1)
        self._live = 0
        self._dead_letters = DeadLetters(dead_letter_history)
        self._exit_observers: list[ExitObserver] = []
        self._root: ActorContext | None = None
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
        root._state = RUNNING
        root._idle = True
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
    async def spawn(  # type: ignore[misc]  # the overloads above are its typed face
        self,
        actor_class: type[Actor],
        /,
        *args: Any,
        name: str | None = None,
        mailbox: Mailbox | None = None,
        **kwargs: Any,
    ) -> ActorRef[Any]:
        """Start a top-level actor under the root supervisor and return its ref.

        ``args`` / ``kwargs`` go to the actor's ``__init__``; ``name`` registers it (see
        :meth:`whereis`); ``mailbox`` overrides the class's mailbox. ``on_start`` has run
        when this returns; if it raised, this raises :class:`~mabeam.ActorStartError`.
        Top-level actors are not restarted (OTP ``temporary``): put actors that must come
        back under a :class:`~mabeam.Supervisor`.
        """
        root = self._require_root()
        from .supervision import Supervisor

        # As OTP's default shutdown for a supervisor child: wait for its whole subtree.
        is_supervisor = isinstance(actor_class, type) and issubclass(actor_class, Supervisor)
        shutdown = None if is_supervisor else 5.0
        cell = await root._spawn_child(
            actor_class, args, kwargs, name=name, mailbox=mailbox, shutdown=shutdown
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
        return None if cell is None else cell._ref

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

    # ------------------------------------------------------------------ internals

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
        transport = self._transport
        if transport is not None:
            send_named = getattr(transport, "send_named", None)
            if send_named is not None:
                cast(NamedTransport, transport).send_named(self, sender, name, message)
                return
        cell = self._names.get(name)
        if cell is None:
            self._dead_letter(name, message, sender, NO_SUCH_NAME)
        elif cell._state > RUNNING:
            self._dead_letter(cell._label, message, sender, ACTOR_NOT_RUNNING)
        elif transport is None:
            cell._enqueue((message, sender, None))
        else:
            transport.send(sender, cell, message, None)

    def _accept_named(self, name: str, message: Any, sender: ActorContext | None) -> None:
        """Deliver a name-addressed message arriving from a transport, resolving ``name`` now.

        No actor under ``name`` is a dead letter ``no_such_name``; the registered actor
        takes it as any message off a transport (stopping or full: a dead letter).
        """
        cell = self._names.get(name)
        if cell is None:
            self._dead_letter(name, message, sender, NO_SUCH_NAME)
        else:
            cell._accept(message, sender, None)

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

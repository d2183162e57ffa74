"""One actor shell for the sans-IO consensus cores (Raft, PBFT, the PoA chain).

Each core (:class:`~.raft.node.RaftNode`, :class:`~.pbft.replica.PbftReplica`,
:class:`~.pbft.client.PbftClient`, :class:`~.chain.validator.Validator`) is driven the
same way, described by :class:`Core`: hand it a message with ``step(message, now)``, let
time pass with ``tick(now)`` at its ``deadline()``, and take what it produced with
``ready()``; what it wants sent is ``ready().outbox()``, (peer name, message) pairs.

:class:`CoreHost` is the actor that does this once for all of them: it keeps one
``send_after`` timer armed at the core's deadline (an earlier timer is kept, a deadline of
``inf`` cancels it), feeds every other message to a hook (:meth:`CoreHost.handle`; by
default the core's ``step``), sends the outbox after every input, lets the subclass use
the rest of ``ready()`` (:meth:`CoreHost.after_ready`), and publishes its status when it
changed (:meth:`CoreHost.marks`, :meth:`CoreHost.status`) to a subscriber actor
registered under ``status_to``. A subclass says how to make its core and what else it
does (Raft's client requests and state machine, PBFT's results, the chain's logs).

Status goes to a :class:`StatusCollector` as a message, never as a callback into the
application: the collector records it in a :class:`StatusView` kept by the cluster API,
which the application reads, and answers asks (:class:`WaitUntil`) once a condition on
the view holds. A collector started after its hosts asks each running one for its status
(:class:`ReportStatus`), so it misses none.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, Generic, Protocol, TypeVar

import msgspec

from ...runtime import Actor, ActorContext, ActorRef, ActorSystem, DeferredReply, Timer

EPSILON_MS = 1e-6
"""How far before its deadline a fired timer may read the clock (ms -> s -> ms rounding)."""


class Outbox(Protocol):
    """What a core's ``ready()`` returns: at least the messages it wants sent."""

    def outbox(self) -> Iterable[tuple[str, Any]]:
        """(peer name, message) pairs, in the order to send them."""
        ...


ReadyT = TypeVar("ReadyT", bound=Outbox)
ReadyT_co = TypeVar("ReadyT_co", bound=Outbox, covariant=True)


class Core(Protocol[ReadyT_co]):
    """A sans-IO protocol core as :class:`CoreHost` drives it (times in ms)."""

    def step(self, message: Any, now: float) -> None:
        """Handle one message from a peer or a client."""
        ...

    def tick(self, now: float) -> None:
        """Time passed: do what is due at ``now``."""
        ...

    def deadline(self) -> float:
        """When :meth:`tick` must next run (``inf``: nothing timed)."""
        ...

    def ready(self) -> ReadyT_co:
        """What was produced since the last call (taken once)."""
        ...


CoreT = TypeVar("CoreT", bound=Core[Any])


class Tick(msgspec.Struct, frozen=True, tag=True):
    """A host's timer fired."""


TICK = Tick()


class ReportStatus(msgspec.Struct, frozen=True, tag=True):
    """Collector -> host: send me your status now (a collector started after the host)."""


class CoreHost(Actor, Generic[CoreT, ReadyT]):
    """An actor hosting one sans-IO core (see the module docstring).

    A subclass sets ``status_to`` (the subscriber's name, or None) and implements
    :meth:`make_core`; it may override :meth:`handle` (messages that are not for the core),
    :meth:`after_ready`, :meth:`marks` / :meth:`status` / :meth:`status_changed`.
    """

    core: CoreT
    status_to: str | None = None
    _timer: Timer | None = None
    _armed_at: float = float("inf")
    _marks: Hashable = None
    _subscriber: ActorRef | None = None

    # ------------------------------------------------------------------ the subclass's part

    def make_core(self, now: float) -> CoreT:
        """A new core for this incarnation (``now``: the clock in ms)."""
        raise NotImplementedError

    def started(self) -> None:
        """Called once the core is made, before its first ``ready()`` (logs)."""

    def handle(self, message: Any) -> Any:
        """A message that is not the timer: by default the core's ``step``."""
        self.core.step(message, self.now())

    def after_ready(self, ready: ReadyT) -> None:
        """After the outbox is sent: use the rest of ``ready`` (apply, answer, log)."""

    def marks(self) -> Hashable:
        """What, when it changes, makes the status worth publishing (None: no status)."""
        return None

    def must_publish(self, ready: ReadyT) -> bool:
        """Publish even if :meth:`marks` did not change (the chain's newly final blocks)."""
        return False

    def status_changed(self, previous: Any, ready: ReadyT) -> None:
        """The marks changed from ``previous`` (None at the start): log it."""

    def status(self, ready: ReadyT | None = None) -> Any:
        """The status message for the subscriber (``ready``: the input just handled)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ the driver

    def now(self) -> float:
        """The clock in ms."""
        return float(self.context.time()) * 1000.0

    async def on_start(self) -> None:
        self.core = self.make_core(self.now())
        self.started()
        self._after_input()

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Tick):
            self.core.tick(self._fired())
        elif isinstance(message, ReportStatus):
            # The subscriber asked: answer it directly, and remember it for the reports
            # to come (on another node its name may not be known here yet).
            self._subscriber = self.context.sender
            self._publish(self.status())
            return None
        else:
            answer = self.handle(message)
            if answer is not None:
                return answer
        self._after_input()
        return None

    def _fired(self) -> float:
        """The clock for a tick; an armed timer that fired is now gone."""
        now = self.now()
        if self._timer is not None and not self._timer.active:
            # The armed timer fired: its time has come even if float rounding of
            # ms -> s -> ms puts "now" a hair before it.
            if self._armed_at - EPSILON_MS <= now < self._armed_at:
                now = self._armed_at
            self._timer = None
            self._armed_at = float("inf")
        return now

    def _after_input(self) -> None:
        core = self.core
        ready = core.ready()
        self.send_outbox(ready.outbox())
        self.after_ready(ready)
        self._arm(core.deadline())
        self._report(ready)

    def send_outbox(self, outbox: Iterable[tuple[str, Any]]) -> None:
        """Tell each (peer, message) by name: on a simulated network it travels (traced as
        sent) and the name is resolved on arrival, so a message to a peer that is down is
        dropped there (a dead letter, ``no_actor``) and a restarted peer gets it."""
        tell = self.context.tell
        for dst, message in outbox:
            tell(dst, message)

    def _arm(self, deadline: float) -> None:
        """Keep one timer at or before the core's deadline.

        A timer that would fire early is kept (the tick then finds nothing due and the
        timer is armed again), so a follower hearing a heartbeat every 50 ms does not
        cancel and re-arm a timer each time; ``inf`` (nothing timed) cancels it.
        """
        timer = self._timer
        if deadline == float("inf"):
            if timer is not None:
                timer.cancel()
                self._timer = None
                self._armed_at = deadline
            return
        if timer is not None:
            if self._armed_at <= deadline:
                return
            timer.cancel()
        self._armed_at = deadline
        delay = max(0.0, deadline - self.now()) / 1000.0
        self._timer = self.context.send_after(delay, TICK)

    def _report(self, ready: ReadyT) -> None:
        marks = self.marks()
        if marks is None:
            return
        previous = self._marks
        if marks == previous and not self.must_publish(ready):
            return
        self._marks = marks
        self.status_changed(previous, ready)
        if self.status_to is not None:
            self._publish(self.status(ready))

    def _publish(self, status: Any) -> None:
        """Tell the subscriber, if one is running (one started later asks for it).

        By its name when the name is known here; else the subscriber that last asked
        (a collector on another node whose name has not reached this node yet).
        """
        name = self.status_to
        if name is not None and self.context.whereis(name) is not None:
            self.context.tell(name, status)
            return
        subscriber = self._subscriber
        if subscriber is not None and subscriber.is_alive:
            subscriber.tell(status)


# ---------------------------------------------------------------------- status


StatusT = TypeVar("StatusT")


class WaitUntil(msgspec.Struct, frozen=True):
    """Ask a :class:`StatusCollector`: answered (True) once ``condition()`` holds."""

    token: int
    condition: Callable[[], bool]


class Forget(msgspec.Struct, frozen=True, tag=True):
    """Tell a :class:`StatusCollector`: the asker of this :class:`WaitUntil` gave up."""

    token: int


class StatusView(Generic[StatusT]):
    """The latest status of each node, as its :class:`StatusCollector` recorded it.

    Application-side: read it at any time; :meth:`wait` asks the collector to answer once
    a condition holds. ``listeners`` are called with every status, after it is recorded
    (tests check invariants there).
    """

    def __init__(self, node_ids: Sequence[str], system: ActorSystem | None, collector: str) -> None:
        self.node_ids = list(node_ids)
        self.statuses: dict[str, StatusT] = {}
        self.listeners: list[Callable[[StatusT], None]] = []
        self.collector = collector
        """The name its collector actor is registered under."""
        self._system = system
        self._tokens = itertools.count(1)

    def record(self, status: StatusT) -> None:
        """Keep one node's status (a subclass keeps more)."""
        self.statuses[status.id] = status  # type: ignore[attr-defined]

    def update(self, status: StatusT) -> None:
        """Record a status and call the listeners (the collector does this)."""
        self.record(status)
        for listener in self.listeners:
            listener(status)

    def running(self, node_id: str) -> bool:
        """Whether the node's actor runs now."""
        return self._system is not None and self._system.whereis(node_id) is not None

    async def wait(self, condition: Callable[[], bool], timeout: float | None = None) -> None:
        """Return once ``condition()`` holds (checked at every status); TimeoutError after
        ``timeout`` seconds. Needs the collector running (the cluster started)."""
        if condition():
            return
        system = self._system
        collector = None if system is None else system.whereis(self.collector)
        if collector is None:
            raise RuntimeError(f"no status collector {self.collector!r} runs (not started?)")
        token = next(self._tokens)
        try:
            await collector.ask(WaitUntil(token, condition), timeout=timeout)
        except TimeoutError:
            if collector.is_alive:
                collector.tell(Forget(token))
            raise TimeoutError(f"condition not met within {timeout}s") from None
        except asyncio.CancelledError:
            if collector.is_alive:
                collector.tell(Forget(token))
            raise


class StatusCollector(Actor):
    """Receives the hosts' status messages into a :class:`StatusView`; answers waits.

    Not a network node: statuses reach it at once, untraced (they are the application's
    view, not protocol traffic). On start it asks each running node for its status.
    """

    def __init__(self, view: StatusView[Any]) -> None:
        self.view = view
        self.waiting: dict[int, tuple[Callable[[], bool], DeferredReply]] = {}

    async def on_start(self) -> None:
        whereis = self.context.whereis
        for node_id in self.view.node_ids:
            ref = whereis(node_id)
            if ref is not None:
                ref.tell(ReportStatus())

    async def receive(self, message: Any) -> Any:
        if isinstance(message, WaitUntil):
            if message.condition():
                return True
            self.waiting[message.token] = (message.condition, self.context.reply_later())
            return None
        if isinstance(message, Forget):
            entry = self.waiting.pop(message.token, None)
            if entry is not None and not entry[1].done:
                entry[1].fail(TimeoutError("the asker gave up"))
            return None
        self.view.update(message)
        if self.waiting:
            for token, (condition, reply) in list(self.waiting.items()):
                if condition():
                    del self.waiting[token]
                    if not reply.done:
                        reply.reply(True)
        return None


async def start_collector(context: ActorContext, view: StatusView[Any]) -> None:
    """Start ``view``'s :class:`StatusCollector` as a child of the actor of ``context``
    (a cluster's client actor: the collector lives as long as it), registered as
    ``view.collector``."""
    await context.spawn(StatusCollector, view, name=view.collector)

"""Supervisors, in OTP's words: child specs, strategies, restart types and intensity.

A :class:`Supervisor` is an actor that traps exits. It starts its children in order
(each linked to it), and when one exits it applies its ``strategy``:

- ``one_for_one``: restart that child;
- ``one_for_all``: stop the others in reverse order, then restart all in order;
- ``rest_for_one``: stop the children started after it in reverse order, then restart
  it and them in order.

Whether an exited child is restarted is its ``restart`` type: ``permanent`` always,
``transient`` unless it exited ``normal`` or ``shutdown`` (or ``Shutdown(payload)``),
``temporary`` never. More than
``intensity`` restarts within ``period`` seconds and the supervisor gives up: it stops
its children in reverse order and exits with reason ``shutdown``, so its own supervisor
decides next (escalation). A supervisor stops its children in reverse start order,
each within its ``shutdown`` timeout, after which the child is cancelled (``killed``).

A restart that fails (the child's ``on_start`` or ``on_restart`` raises) counts toward
intensity too and is retried by a message the supervisor sends itself, as OTP's
``try_again_restart``: in between it answers requests (``which_children`` shows the
child ``restarting``), ``terminate_child`` ends the retries, and a shutdown is not held
up. In a one_for_all group the retry stops the children restarted before it first;
rest_for_one retries from the child that failed.

The functions at the bottom (``start_child``, ``terminate_child`` ...) are OTP's
``supervisor`` module API, as messages to the supervisor actor.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import msgspec

from .._errors import ActorDeadError, ActorStartError, ConfigError, MabeamError
from .._errors import ChildStartError as ChildStartError
from .._errors import SupervisorError as SupervisorError
from .._log import get_logger
from . import _lifecycle
from ._actor import Actor
from ._context import ActorContext
from ._mailbox import Mailbox
from ._ref import ActorRef
from ._signals import SHUTDOWN, Exit, ExitReason, describe_reason, is_orderly

_log = get_logger("mabeam.runtime")

Strategy: TypeAlias = Literal["one_for_one", "one_for_all", "rest_for_one"]
Restart: TypeAlias = Literal["permanent", "transient", "temporary"]
STRATEGIES: tuple[Strategy, ...] = ("one_for_one", "one_for_all", "rest_for_one")
RESTARTS: tuple[Restart, ...] = ("permanent", "transient", "temporary")


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """How to start, restart and stop one child (OTP's child specification).

    ``shutdown`` is seconds to wait for the child's orderly exit before cancelling it;
    ``0`` cancels at once (OTP ``brutal_kill``), ``None`` waits forever (OTP
    ``infinity``, the default for a child that is itself a supervisor).

    ``node`` starts the child on another node of the cluster (a transport that reaches
    other nodes, :class:`~mabeam.transport.NatsTransport`; that node must allow the class
    and the arguments must be encodable). The supervisor links to it across the nodes and
    restarts it there as any child; a node that goes down is an exit ``noconnection``.
    A remote child starts with ``on_start`` (``on_restart`` runs only for local children);
    stopping it waits ``shutdown`` seconds (None: 5) for it to exit, and cannot kill it.
    """

    id: str
    actor: type[Actor]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    restart: Restart = "permanent"
    shutdown: float | Literal["default"] | None = "default"
    name: str | None = None
    mailbox: Mailbox | None = None
    node: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ConfigError("child_spec.id", f"must be a non-empty string, got {self.id!r}")
        if not (isinstance(self.actor, type) and issubclass(self.actor, Actor)):
            raise ConfigError("child_spec.actor", f"must be an Actor subclass, got {self.actor!r}")
        if self.restart not in RESTARTS:
            raise ConfigError(
                "child_spec.restart",
                f"unknown restart type {self.restart!r}",
                allowed=", ".join(RESTARTS),
            )
        _check_shutdown(self.shutdown)
        if self.node is not None and (not isinstance(self.node, str) or not self.node):
            raise ConfigError("child_spec.node", f"must be a node name or None, got {self.node!r}")
        if self.node is not None and self.mailbox is not None:
            raise ConfigError("child_spec.mailbox", "cannot be given for a child on another node")

    @property
    def shutdown_timeout(self) -> float | None:
        """The shutdown timeout in force: 5 s for a worker, forever for a supervisor."""
        if self.shutdown == "default":
            return None if issubclass(self.actor, Supervisor) else 5.0
        return self.shutdown

    @property
    def kind(self) -> Literal["worker", "supervisor"]:
        """``supervisor`` when the child is a Supervisor, else ``worker`` (as OTP reports)."""
        return "supervisor" if issubclass(self.actor, Supervisor) else "worker"


class ChildInfo(msgspec.Struct, frozen=True):
    """One row of :func:`which_children`: ``ref`` is None while the child is not running.

    ``restarting`` is True while a restart of it failed and the next attempt is pending
    (OTP shows ``restarting`` in place of the pid); ``ref`` is None then.
    """

    id: str
    ref: ActorRef | None
    restart: Restart
    kind: Literal["worker", "supervisor"]
    restarting: bool = False


class ChildCounts(msgspec.Struct, frozen=True):
    """What :func:`count_children` reports (OTP's specs / active / supervisors / workers)."""

    specs: int
    active: int
    supervisors: int
    workers: int


class StartChild(msgspec.Struct, frozen=True):
    spec: Any


class TerminateChild(msgspec.Struct, frozen=True):
    child: Any


class RestartChild(msgspec.Struct, frozen=True):
    child_id: str


class DeleteChild(msgspec.Struct, frozen=True):
    child_id: str


class WhichChildren(msgspec.Struct, frozen=True):
    pass


class CountChildren(msgspec.Struct, frozen=True):
    pass


class _Refused(msgspec.Struct, frozen=True):
    error: Any


class _Child:
    """One child of a supervisor: its spec, its running cell, and its pending retry.

    ``retry`` is the number of the pending :class:`_TryAgain` while a restart that
    failed waits for its next attempt (OTP's ``restarting``), else None.
    """

    __slots__ = ("cell", "failure", "retry", "retry_reason", "spec")

    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        self.cell: ActorContext | None = None
        self.retry: int | None = None
        self.retry_reason: ExitReason = SHUTDOWN
        self.failure: ExitReason = SHUTDOWN


class _TryAgain(msgspec.Struct, frozen=True):
    """A supervisor's message to itself: try the failed restart of ``child`` again."""

    child: Any
    attempt: int


def _should_restart(restart: Restart, reason: ExitReason) -> bool:
    if restart == "permanent":
        return True
    if restart == "transient":
        return not is_orderly(reason)
    return False


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _ConfigTypeError(ConfigError, TypeError):
    """A setting of the wrong type: a ConfigError (names the field) and a TypeError."""


_SHUTDOWN_ALLOWED = "seconds >= 0 (0 = brutal kill), None = infinity, or 'default'"


def _check_shutdown(shutdown: object) -> None:
    """``ChildSpec.shutdown``: finite seconds >= 0, None or "default" (no bool, nan, inf)."""
    if shutdown is None or (isinstance(shutdown, str) and shutdown == "default"):
        return
    if not _is_number(shutdown):
        raise _ConfigTypeError(
            "child_spec.shutdown",
            f"must be a number of seconds, got {type(shutdown).__name__} {shutdown!r}",
            allowed=_SHUTDOWN_ALLOWED,
        )
    assert isinstance(shutdown, int | float)
    try:
        seconds = float(shutdown)
    except OverflowError:
        seconds = math.inf
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ConfigError(
            "child_spec.shutdown",
            f"must be finite seconds >= 0, got {shutdown!r}",
            allowed=_SHUTDOWN_ALLOWED,
        )


def _check_intensity(intensity: int, period: float) -> None:
    if isinstance(intensity, bool) or not isinstance(intensity, int) or intensity < 0:
        raise ConfigError("intensity", f"must be a whole number >= 0, got {intensity!r}")
    if not _is_number(period) or not period > 0:
        raise ConfigError("period", f"must be seconds > 0, got {period!r}")


class Supervisor(Actor):
    """An OTP supervisor: starts ``children`` in order and restarts them per ``strategy``."""

    trap_exit = True
    dynamic = False

    def __init__(
        self,
        children: Sequence[ChildSpec] = (),
        *,
        strategy: Strategy = "one_for_one",
        intensity: int = 3,
        period: float = 5.0,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ConfigError(
                "strategy", f"unknown strategy {strategy!r}", allowed=", ".join(STRATEGIES)
            )
        _check_intensity(intensity, period)
        seen: set[str] = set()
        for spec in children:
            if not isinstance(spec, ChildSpec):
                raise ConfigError("children", f"expected ChildSpec, got {spec!r}")
            if spec.id in seen:
                raise ConfigError("children", f"duplicate child id {spec.id!r}")
            seen.add(spec.id)
        self.strategy: Strategy = strategy
        self.intensity = intensity
        self.period = period
        # The children in start order (a dict: O(1) removal, order kept across restarts),
        # the running ones by cell (an exit is found in O(1)) and, for a static
        # supervisor, all by spec id (ids are unique there).
        self._children: dict[_Child, None] = {}
        self._by_cell: dict[ActorContext, _Child] = {}
        self._by_id: dict[str, _Child] = {}
        self._restarts: deque[float] = deque()
        self._retries = 0
        for spec in children:
            self._add(_Child(spec))

    # ---------------------------------------------------------------- lifecycle

    async def on_start(self) -> None:
        for child in list(self._children):
            try:
                await self._start(child, None)
            except BaseException:
                await self._terminate_all()
                raise

    async def on_stop(self, reason: ExitReason) -> None:
        await self._terminate_all()

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Exit):
            await self._on_exit(message)
            return None
        if isinstance(message, _TryAgain):
            await self._try_again(message)
            return None
        try:
            return await self._request(message)
        except MabeamError as exc:
            return _Refused(exc)

    # ---------------------------------------------------------------- the children table

    def _add(self, child: _Child) -> None:
        self._children[child] = None
        if not self.dynamic:
            self._by_id[child.spec.id] = child

    def _remove(self, child: _Child) -> None:
        """Forget a child that is not running."""
        child.retry = None
        self._children.pop(child, None)
        if not self.dynamic and self._by_id.get(child.spec.id) is child:
            del self._by_id[child.spec.id]

    def _find_child(self, key: Any) -> _Child:
        child: _Child | None = None
        if isinstance(key, ActorRef):
            child = self._by_cell.get(key._cell)
        elif isinstance(key, str):
            if self.dynamic:
                child = next((c for c in self._children if c.spec.id == key), None)
            else:
                child = self._by_id.get(key)
        if child is None:
            raise SupervisorError(f"no child {key!r} under {self.context._label}")
        return child

    # ---------------------------------------------------------------- requests

    async def _request(self, message: Any) -> Any:
        if isinstance(message, StartChild):
            return await self._start_new(message.spec)
        if isinstance(message, TerminateChild):
            child = self._find_child(message.child)
            await self._terminate(child)  # also ends a restart loop (OTP)
            if self.dynamic or child.spec.restart == "temporary":
                self._remove(child)
            return None
        if isinstance(message, RestartChild):
            child = self._check_stopped(self._find_child(message.child_id))
            return (await self._start(child, None))._ref
        if isinstance(message, DeleteChild):
            self._remove(self._check_stopped(self._find_child(message.child_id)))
            return None
        if isinstance(message, WhichChildren):
            return [
                ChildInfo(
                    id=c.spec.id,
                    ref=None if c.cell is None else c.cell._ref,
                    restart=c.spec.restart,
                    kind=c.spec.kind,
                    restarting=c.retry is not None,
                )
                for c in self._children
            ]
        if isinstance(message, CountChildren):
            supervisors = sum(1 for c in self._children if c.spec.kind == "supervisor")
            return ChildCounts(
                specs=len(self._children),
                active=len(self._by_cell),
                supervisors=supervisors,
                workers=len(self._children) - supervisors,
            )
        _log.warning(
            "supervisor_unexpected_message",
            supervisor=self.context._label,
            message_type=type(message).__name__,
        )
        return None

    @staticmethod
    def _check_stopped(child: _Child) -> _Child:
        """OTP's {error, running} and {error, restarting}."""
        if child.cell is not None:
            raise SupervisorError(f"child {child.spec.id!r} is running")
        if child.retry is not None:
            raise SupervisorError(f"child {child.spec.id!r} is restarting")
        return child

    async def _start_new(self, spec: Any) -> ActorRef:
        if not isinstance(spec, ChildSpec):
            raise ConfigError("spec", f"expected ChildSpec, got {spec!r}")
        if not self.dynamic and spec.id in self._by_id:
            raise SupervisorError(f"a child with id {spec.id!r} already exists")
        child = _Child(spec)
        cell = await self._start(child, None)
        self._add(child)
        return cell._ref

    # ---------------------------------------------------------------- exits and restarts

    async def _on_exit(self, message: Exit) -> None:
        cell = message.actor._cell
        child = self._by_cell.pop(cell, None)
        if child is None:
            if cell is self.context._parent and message.reason != "normal":
                self.context.stop(message.reason)
            return
        reason = message.reason
        child.cell = None
        _log.info(
            "child_exited",
            supervisor=self.context._label,
            child=child.spec.id,
            reason=describe_reason(reason),
        )
        if not _should_restart(child.spec.restart, reason):
            if child.spec.restart == "temporary" or self.dynamic:
                self._remove(child)
            return
        await self._restart(child, reason, reason)

    async def _try_again(self, message: _TryAgain) -> None:
        """OTP's try_again_restart: one more attempt, unless the child was dealt with since."""
        child = message.child
        if child.retry != message.attempt or child not in self._children:
            return
        await self._restart(child, child.retry_reason, child.failure)

    async def _restart(self, child: _Child, reason: ExitReason, cause: ExitReason) -> None:
        """One restart attempt (it counts toward intensity) of ``child`` and its group.

        If a child of the group fails to start, the attempt ends there: that child is
        marked restarting and a :class:`_TryAgain` to ourselves retries it, so requests
        (and a shutdown) are handled between attempts. The retry restarts the group
        again: one_for_all stops the children this attempt started, rest_for_one starts
        from the child that failed. ``cause`` is the reason given if this escalates.
        """
        if not self._note_restart():
            await self._escalate(child, cause)
            return
        if self.strategy == "one_for_one":
            group = [child]
        elif self.strategy == "one_for_all":
            group = list(self._children)
        else:
            children = list(self._children)
            group = children[children.index(child) :]
        for other in reversed(group):
            await self._terminate(other)
        for other in group:
            if other is not child and other.spec.restart == "temporary":
                self._remove(other)
                continue
            other_reason = reason if other is child else SHUTDOWN
            try:
                await self._start(other, other_reason)
            except ActorStartError as exc:
                self._retry_later(other, other_reason, exc)
                return
            _log.info(
                "child_restarted",
                supervisor=self.context._label,
                child=other.spec.id,
                reason=describe_reason(other_reason),
                restarts=len(self._restarts),
            )

    def _retry_later(self, child: _Child, reason: ExitReason, error: ActorStartError) -> None:
        _log.error(
            "child_restart_failed",
            supervisor=self.context._label,
            child=child.spec.id,
            reason=describe_reason(error.reason),
        )
        self._retries += 1
        child.retry = self._retries
        child.retry_reason = reason
        child.failure = error.reason
        # As OTP's timer:apply_after(0, ...): behind what is already in the mailbox.
        self.context.send_after(0, _TryAgain(child, self._retries))

    def _note_restart(self) -> bool:
        """Record a restart; False when it is one more than ``intensity`` within ``period``."""
        now = self.context.time()
        restarts = self._restarts
        restarts.append(now)
        # OTP keeps a restart that is exactly ``period`` old (Then >= Now - Period).
        while restarts and restarts[0] < now - self.period:
            restarts.popleft()
        return len(restarts) <= self.intensity

    async def _escalate(self, child: _Child, reason: ExitReason) -> None:
        _log.error(
            "supervisor_escalated",
            supervisor=self.context._label,
            child=child.spec.id,
            reason=describe_reason(reason),
            cause="reached_max_restart_intensity",
            intensity=self.intensity,
            period=self.period,
        )
        await self._terminate_all()
        self.context.stop(SHUTDOWN)

    # ---------------------------------------------------------------- start / stop

    async def _start(self, child: _Child, restart_reason: ExitReason | None) -> ActorContext:
        spec = child.spec
        if spec.node is not None and spec.node != self.context.system.name:
            return await self._start_remote(child)
        try:
            cell = await _lifecycle.spawn_child(
                self.context,
                spec.actor,
                spec.args,
                dict(spec.kwargs),
                name=spec.name,
                mailbox=spec.mailbox,
                link=True,
                shutdown=spec.shutdown_timeout,
                restart_reason=restart_reason,
            )
        except ActorStartError as exc:
            raise ChildStartError(spec.id, exc.actor, exc.reason) from exc.reason
        child.cell = cell
        child.retry = None
        self._by_cell[cell] = child
        return cell

    async def _start_remote(self, child: _Child) -> ActorContext:
        """Start ``child`` on its node and link to it there (see :class:`ChildSpec`)."""
        spec = child.spec
        assert spec.node is not None
        try:
            ref = await self.context.system.spawn(
                spec.actor, *spec.args, name=spec.name, node=spec.node, **dict(spec.kwargs)
            )
        except ActorStartError as exc:
            raise ChildStartError(spec.id, exc.actor, exc.reason) from exc.reason
        except (MabeamError, TimeoutError) as exc:
            # The node is down or unknown, refuses the class, or did not answer in time.
            raise ChildStartError(spec.id, spec.name or spec.id, exc) from exc
        self.context.link(ref)
        cell = ref._cell
        child.cell = cell
        child.retry = None
        self._by_cell[cell] = child
        return cell

    async def _terminate(self, child: _Child) -> None:
        """Stop a running child (unlinked first: no Exit comes back); end its retries."""
        child.retry = None
        cell = child.cell
        if cell is None:
            return
        child.cell = None
        del self._by_cell[cell]
        self.context.unlink(cell._ref)
        if child.spec.node is not None and not isinstance(cell, ActorContext):
            # On another node: ask it to stop and wait for its exit, within the timeout.
            timeout = child.spec.shutdown_timeout
            try:
                async with asyncio.timeout(5.0 if timeout is None else max(timeout, 0.0)):
                    await cell._ref.stop()
            except ActorDeadError:
                pass
            except TimeoutError:
                _log.warning(
                    "remote_child_shutdown_timeout",
                    supervisor=self.context._label,
                    child=child.spec.id,
                )
            return
        await cell._shutdown(SHUTDOWN)

    async def _terminate_all(self) -> None:
        for child in reversed(list(self._children)):
            await self._terminate(child)


class DynamicSupervisor(Supervisor):
    """A supervisor for children added at run time (OTP ``simple_one_for_one``).

    Starts empty, restarts one_for_one, allows the same spec id many times; terminated
    or finished children are forgotten. ``max_children`` caps how many may run.
    """

    dynamic = True

    def __init__(
        self, *, intensity: int = 3, period: float = 5.0, max_children: int | None = None
    ) -> None:
        super().__init__((), strategy="one_for_one", intensity=intensity, period=period)
        if max_children is not None and (
            isinstance(max_children, bool) or not isinstance(max_children, int) or max_children < 0
        ):
            raise ConfigError("max_children", f"must be >= 0 or None, got {max_children!r}")
        self.max_children = max_children

    async def _start_new(self, spec: Any) -> ActorRef:
        if self.max_children is not None and len(self._children) >= self.max_children:
            raise SupervisorError(f"max_children ({self.max_children}) reached")
        return await super()._start_new(spec)


# -------------------------------------------------------------------- OTP's supervisor API


async def _call(supervisor: ActorRef, message: Any) -> Any:
    answer = await supervisor.ask(message, timeout=None)
    if isinstance(answer, _Refused):
        raise answer.error
    return answer


async def start_child(supervisor: ActorRef, spec: ChildSpec) -> ActorRef:
    """Start and supervise a new child; raises ActorStartError if its on_start fails."""
    ref: ActorRef = await _call(supervisor, StartChild(spec))
    return ref


async def terminate_child(supervisor: ActorRef, child: str | ActorRef) -> None:
    """Stop a child (by id, or by ref); a static supervisor keeps its spec for restart_child."""
    await _call(supervisor, TerminateChild(child))


async def restart_child(supervisor: ActorRef, child_id: str) -> ActorRef:
    """Start again a child that was terminated (its spec kept)."""
    ref: ActorRef = await _call(supervisor, RestartChild(child_id))
    return ref


async def delete_child(supervisor: ActorRef, child_id: str) -> None:
    """Forget the spec of a child that is not running."""
    await _call(supervisor, DeleteChild(child_id))


async def which_children(supervisor: ActorRef) -> list[ChildInfo]:
    """Every child in start order, with its current ref (None when not running)."""
    children: list[ChildInfo] = await _call(supervisor, WhichChildren())
    return children


async def count_children(supervisor: ActorRef) -> ChildCounts:
    """How many specs, running children, supervisors and workers."""
    counts: ChildCounts = await _call(supervisor, CountChildren())
    return counts

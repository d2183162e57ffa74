"""Running a scenario: build a system on the simulated network, spawn agents, inject faults.

:func:`run_scenario` runs one :class:`Scenario` on virtual time and returns a
:class:`RunReport` (the JSON document of ``mabeam run --json``). A protocol kind is a
:class:`~._kind.Kind` record; the built-in ones are :data:`._kinds.KINDS`, and a run
takes others (a replacement driver, say) through its ``kinds`` argument. The kind's
driver, ``async def drive(run: ScenarioRun) -> Outcome``, spawns its agents and
coordinator through the :class:`ScenarioRun` (so they are network nodes under the
agents' supervisor), calls :meth:`ScenarioRun.start_faults`, runs the protocol and
returns its outcome.

Randomness: one seed. The network and the protocol each draw from their own
``random.Random`` derived from it (``"{seed}:network"``, ``"{seed}:protocol"``), so a
protocol that draws one more number does not change the network's draws.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
import warnings
from collections.abc import Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

import msgspec

from .._errors import ConfigError, ScenarioError
from .._errors import RunStopped as RunStopped
from ..runtime import Actor, ActorRef, ActorSystem, ChildSpec, Supervisor
from ..runtime.supervision import restart_child, terminate_child, which_children
from ..sim import DROP, Interceptor, SimNetwork, run_virtual
from ._kind import COORDINATOR as COORDINATOR
from ._kind import GENERIC_BEHAVIORS as GENERIC_BEHAVIORS
from ._kind import AgentFactory as AgentFactory
from ._kind import ByzantineFactory as ByzantineFactory
from ._kind import Driver as Driver
from ._kind import Kind as Kind
from ._kind import Outcome as Outcome
from ._kind import Refusal as Refusal
from ._kind import RunFailure as RunFailure
from ._kind import kind_named, with_kinds
from ._kind import protocol_kind as protocol_kind
from ._kinds import KINDS
from ._schema import ByzantineBehavior, FaultSpec, Scenario

if TYPE_CHECKING:
    from ..sim import Trace

AGENTS_SUPERVISOR = "agents"

RunError = RunFailure
"""Deprecated: the old name of :class:`RunFailure` (a record, not an exception)."""


class RunStats(msgspec.Struct, frozen=True):
    messages_sent: int
    messages_delivered: int
    messages_dropped: int
    virtual_ms: float
    wall_ms: float


class RunReport(msgspec.Struct, frozen=True):
    """What ``mabeam run --json`` prints, field for field."""

    scenario: str
    protocol: str
    seed: int
    ok: bool
    result: Any
    error: RunFailure | None
    stats: RunStats

    @classmethod
    def of(cls, scenario: Scenario, seed: int, outcome: Outcome, stats: RunStats) -> RunReport:
        """The report of a run of ``scenario`` that ended in ``outcome`` (in process or
        over ``--processes``): the result as plain data, dict keys in a fixed order."""
        return cls(
            scenario=scenario.name,
            protocol=protocol_kind(scenario),
            seed=seed,
            ok=outcome.ok,
            result=msgspec.to_builtins(outcome.result, order="deterministic"),
            error=outcome.error,
            stats=stats,
        )

    def plot(self, trace: Trace | None, path: str | Path | None = None) -> Any:
        """The run's picture, drawn from ``trace`` (``network.trace``): a matplotlib Figure,
        also written to ``path`` (``.png`` / ``.svg``) when given. Needs ``mabeam[plot]``;
        see :func:`mabeam.viz.plot`."""
        from ..viz.plots import plot

        if trace is None:
            raise ConfigError("trace", "the run has no trace (the network recorded none)")
        return plot(self, trace, path)


class RunStatus(msgspec.Struct, frozen=True):
    """Where a run is: virtual time, message counts, live actors (read from any thread)."""

    virtual_ms: float
    messages_sent: int
    messages_delivered: int
    messages_dropped: int
    messages_duplicated: int
    actors_alive: int

    @property
    def in_flight(self) -> int:
        """Messages sent (or duplicated) that have neither arrived nor been dropped yet."""
        arrived = self.messages_delivered + self.messages_dropped
        return max(0, self.messages_sent + self.messages_duplicated - arrived)


class RunMonitor:
    """A window on a running scenario, for another thread: :meth:`status` says where it
    is, :meth:`stop` ends it (the run then raises :class:`RunStopped`).

    Pass one to :func:`run_scenario`; the command line's progress display and its
    ``--time-limit`` use it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self._system: ActorSystem | None = None
        self.network: SimNetwork | None = None
        self.stop_reason: str | None = None

    def _attach(self, network: SimNetwork) -> None:
        self.network = network

    def _started(self, system: ActorSystem) -> None:
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.current_task()
            self._system = system
            reason = self.stop_reason
        if reason is not None and self._task is not None:
            self._task.cancel()

    def status(self) -> RunStatus | None:
        """Where the run is now (None before it started)."""
        loop, network, system = self._loop, self.network, self._system
        if loop is None or network is None:
            return None
        return RunStatus(
            virtual_ms=round(loop.time() * 1000.0, 6),
            messages_sent=network.sent,
            messages_delivered=network.delivered,
            messages_dropped=network.dropped,
            messages_duplicated=network.duplicated,
            actors_alive=system._live if system is not None else 0,
        )

    def stop(self, reason: str) -> None:
        """End the run from any thread: its main task is cancelled, so the actors stop and
        their cleanups run; :func:`run_scenario` then raises :class:`RunStopped`."""
        with self._lock:
            if self.stop_reason is not None:
                return
            self.stop_reason = reason
            loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            # RuntimeError: the loop closed meanwhile, so the run is over anyway.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(task.cancel)

    @contextlib.contextmanager
    def time_limit(self, seconds: float | None) -> Iterator[None]:
        """Stop the run (reason ``"time_limit"``) once ``seconds`` of wall time pass inside
        the block; None: no limit. A run stuck in one long computation that never yields to
        its event loop ends only when that computation does."""
        if seconds is None:
            yield
            return
        timer = threading.Timer(seconds, self.stop, ("time_limit",))
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()


def register_protocol(
    kind: str,
    driver: Driver,
    *,
    byzantine: Callable[[str, str], Interceptor | None] | None = None,
    refuse: Refusal | None = None,
) -> Kind:
    """Deprecated: registers nothing any more. Returns the built-in ``kind`` with
    ``driver`` (and ``byzantine(agent, behavior)``, ``refuse``) in its place, for
    :func:`run_scenario`'s ``kinds`` argument: ``run_scenario(scenario, kinds=[kind])``."""
    warnings.warn(
        "register_protocol() no longer registers a kind for every run: pass the Kind it "
        "returns to run_scenario(..., kinds=[kind])",
        DeprecationWarning,
        stacklevel=2,
    )
    builtin = kind_named(KINDS, kind)
    if builtin is None:
        names = ", ".join(k.name for k in KINDS)
        raise ValueError(f"register_protocol: unknown kind {kind!r} (allowed: {names})")
    if byzantine is None:
        return Kind(options=builtin.options, drive=driver, refuse=refuse)
    tamper = byzantine
    behaviors = tuple(
        b for b in get_args(ByzantineBehavior) if b not in GENERIC_BEHAVIORS and tamper("", b)
    )
    return Kind(
        options=builtin.options,
        drive=driver,
        refuse=refuse,
        byzantine=lambda run, agent, behavior: tamper(agent, behavior),
        behaviors=behaviors,
    )


def protocol_kinds() -> list[str]:
    """The protocol kinds that can run, sorted."""
    return sorted(kind.name for kind in KINDS)


def kind_of(scenario: Scenario, kinds: Iterable[Kind] = ()) -> Kind:
    """The kind that runs ``scenario``: one of ``kinds`` by name, else the built-in one
    (every options Struct of the schema is a built-in kind's)."""
    kind = kind_named(with_kinds(KINDS, kinds), protocol_kind(scenario))
    if kind is None:
        raise ValueError(f"no protocol kind {protocol_kind(scenario)!r}")
    return kind


class ScenarioRun:
    """What a driver gets: the scenario, the system, the network, the seeded rng."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        system: ActorSystem,
        network: SimNetwork,
        kind: Kind | None = None,
    ) -> None:
        self.kind = kind if kind is not None else kind_of(scenario)
        """The record of the scenario's protocol kind: its agents, driver, tampering."""
        self.scenario = scenario
        self.seed = seed
        self.system = system
        self.network = network
        self.rng = random.Random(f"{seed}:protocol")
        self.agent_ids = [agent.id for agent in scenario.agents]
        self.agents_supervisor: ActorRef | None = None
        self.leader: Callable[[], str | None] = lambda: None
        """Who ``"@leader"`` means now (a Raft driver replaces this)."""
        self._fault_task: asyncio.Task[None] | None = None
        self._start = asyncio.get_running_loop().time()
        """Virtual time of the run's start: fault times count from here."""
        self.cluster: Any = None
        """What the driver built that its kind's byzantine factory reads (PBFT's cluster,
        the chain's), set by the driver before it starts the faults."""
        self._placement: tuple[tuple[str, ...], AgentFactory] | None = None
        self._remote_agents: list[ActorRef] = []

    def place_agents(self, nodes: Iterable[str], factory: AgentFactory) -> None:
        """Spawn the agents on other nodes of the system's transport (NATS), round-robin
        over ``nodes`` in agent order, each made by ``factory`` (whose arguments must
        cross the wire) instead of the driver's; ``mabeam run --processes`` does this.
        Such agents are not supervised here and are not network nodes."""
        placed = tuple(nodes)
        if not placed:
            raise ConfigError("nodes", "needs at least one node")
        self._placement = (placed, factory)

    @property
    def options(self) -> Any:
        """The ``[protocol]`` table, as its kind's options Struct."""
        return self.scenario.protocol

    async def spawn_agents(self, factory: AgentFactory | None = None) -> None:
        """Start one actor per agent, in agent order, under one supervisor, as network nodes.

        ``factory`` makes each agent's actor (None: the kind's ``agent``). Each is registered
        under its agent id, ``transient`` (a crash of its own is restarted) with brutal-kill
        shutdown (an injected crash loses volatile state).
        """
        if self._placement is not None:
            await self._spawn_placed(*self._placement)
            return
        if factory is None:
            factory = self.kind.agent
        if factory is None:
            raise TypeError(f"kind {self.kind.name!r} has no agent factory: pass one")
        specs = []
        for agent in self.scenario.agents:
            actor_class, args, kwargs = factory(agent)
            specs.append(
                ChildSpec(
                    id=agent.id,
                    actor=actor_class,
                    args=args,
                    kwargs=kwargs,
                    name=agent.id,
                    restart="transient",
                    shutdown=0,
                )
            )
            self.network.add_node(agent.id)
        self.agents_supervisor = await self.system.spawn(
            Supervisor, specs, intensity=1_000_000, period=1.0, name=AGENTS_SUPERVISOR
        )

    async def _spawn_placed(self, nodes: tuple[str, ...], factory: AgentFactory) -> None:
        system = self.system
        for index, agent in enumerate(self.scenario.agents):
            actor_class, args, kwargs = factory(agent)
            node = nodes[index % len(nodes)]
            ref = await system.spawn(actor_class, *args, node=node, name=agent.id, **kwargs)
            self._remote_agents.append(ref)
        # Coordinators find agents by name: wait until every name is heard of here.
        wait_for_name = getattr(system._transport, "wait_for_name", None)
        if wait_for_name is not None:
            for agent_id in self.agent_ids:
                await wait_for_name(agent_id)

    async def stop_remote_agents(self) -> None:
        """Stop the agents :meth:`place_agents` put on other nodes (those still alive)."""
        agents, self._remote_agents = self._remote_agents, []
        for ref in agents:
            if ref.is_alive:
                await ref.stop()

    async def spawn_coordinator(
        self, actor_class: type[Actor], *args: Any, **kwargs: Any
    ) -> ActorRef:
        """Start the coordinator as node ``coordinator``, exempt from partitions."""
        self.network.add_node(COORDINATOR, exempt=True)
        return await self.system.spawn(actor_class, *args, name=COORDINATOR, **kwargs)

    membership: Callable[[FaultSpec], Awaitable[None]] | None = None
    """The protocol's handler of ``add_node`` / ``remove_node`` faults (Raft sets it)."""

    async def start_faults(self) -> None:
        """Apply the ``at_ms = 0`` faults now, and schedule the rest in virtual time."""
        faults = sorted(self.scenario.faults, key=lambda f: f.at_ms)
        for fault in faults:
            if fault.at_ms == 0:
                await self.apply_fault(fault)
        later = [f for f in faults if f.at_ms > 0]
        if later:
            self._fault_task = asyncio.get_running_loop().create_task(self._inject(later))

    async def _inject(self, faults: list[FaultSpec]) -> None:
        loop = asyncio.get_running_loop()
        for fault in faults:
            delay = self._start + fault.at_ms / 1000.0 - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.apply_fault(fault)

    async def past_faults(self, start: float, within_ms: float) -> None:
        """Wait until 1 ms past the last fault due within ``within_ms`` of ``start``
        (loop time, seconds): a crash at that time has been applied by then."""
        loop = asyncio.get_running_loop()
        last_fault = max((f.at_ms for f in self.scenario.faults if f.at_ms <= within_ms), default=0)
        delay = start + (last_fault + 1.0) / 1000.0 - loop.time()
        if last_fault and delay > 0:
            await asyncio.sleep(delay)

    async def stop_faults(self) -> None:
        task, self._fault_task = self._fault_task, None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise

    async def apply_fault(self, fault: FaultSpec) -> None:
        """Apply one fault now (crash / restart through the agents' supervisor)."""
        network = self.network
        if fault.crash is not None:
            target = self.leader() if fault.crash == "@leader" else fault.crash
            if target is None:
                network.note_fault("crash", fault.crash, "no leader: no-op")
                return
            if await self._running(target):
                network.note_fault("crash", target)
                await terminate_child(self._supervisor(), target)
            else:
                network.note_fault("crash", target, "not running: no-op")
        elif fault.restart is not None:
            if await self._running(fault.restart):
                network.note_fault("restart", fault.restart, "running: no-op")
            else:
                network.note_fault("restart", fault.restart)
                await restart_child(self._supervisor(), fault.restart)
        elif fault.partition is not None:
            network.partition(fault.partition)
        elif fault.link is not None:
            src, dst = fault.link
            if fault.drop_rate is not None or fault.latency_ms is not None:
                network.set_link(src, dst, drop_rate=fault.drop_rate, latency_ms=fault.latency_ms)
            if fault.cut is not None:
                (network.cut if fault.cut else network.uncut)(src, dst)
        elif fault.partition_oneway is not None:
            network.cut_oneway(*fault.partition_oneway)
        elif fault.heal:
            network.heal()
        elif fault.byzantine is not None and fault.behavior is not None:
            network.intercept(fault.byzantine, self._interceptor(fault.byzantine, fault.behavior))
        elif self.membership is not None:  # add_node / remove_node: the protocol's hook
            await self.membership(fault)

    def _supervisor(self) -> ActorRef:
        if self.agents_supervisor is None:
            raise RuntimeError("spawn_agents() must run before faults are applied")
        return self.agents_supervisor

    async def _running(self, agent: str) -> bool:
        for child in await which_children(self._supervisor()):
            if child.id == agent:
                return child.ref is not None
        return False

    def _interceptor(self, agent: str, behavior: str) -> Interceptor:
        if self.kind.byzantine is not None:
            interceptor = self.kind.byzantine(self, agent, behavior)
            if interceptor is not None:
                return interceptor
        return generic_byzantine(behavior, self.rng)


def generic_byzantine(behavior: str, rng: random.Random) -> Interceptor:
    """Tampering any protocol understands: ``silent`` drops, ``random`` sends garbage."""
    if behavior == "silent":
        return lambda payload, receiver: DROP
    if behavior == "random":
        return lambda payload, receiver: rng.randbytes(8).hex()
    raise ConfigError(
        "behavior", f"{behavior!r} is not generic", allowed=", ".join(GENERIC_BEHAVIORS)
    )


def check_runnable(scenario: Scenario, path: str, *, kinds: Iterable[Kind] = ()) -> None:
    """Refuse (ScenarioError) what is valid in schema but cannot run: before any actor.
    ``kinds``: as :func:`run_scenario`'s."""
    protocol = kind_of(scenario, kinds)
    refused = protocol.refuse(scenario) if protocol.refuse is not None else None
    if refused is not None:
        raise ScenarioError(path, *refused)
    for index, fault in enumerate(scenario.faults):
        behavior = fault.behavior
        if behavior is None or behavior in GENERIC_BEHAVIORS:
            continue
        if protocol.byzantine is None or behavior not in protocol.behaviors:
            raise ScenarioError(
                path,
                f"faults[{index}].behavior",
                f"{behavior!r} is not supported by protocol {protocol.name!r}",
                allowed=", ".join(GENERIC_BEHAVIORS),
            )


def run_scenario(
    scenario: Scenario,
    *,
    seed: int | None = None,
    path: str = "<scenario>",
    monitor: RunMonitor | None = None,
    kinds: Iterable[Kind] = (),
    strict: bool = False,
) -> tuple[RunReport, SimNetwork]:
    """Run ``scenario`` on virtual time; returns the report and the network (its trace).

    ``strict=True`` encodes and decodes every message that crosses the network with the
    codec (:mod:`mabeam.codec`): the run must give the same result, and it proves every
    message of the run could cross a process boundary.

    ``monitor`` lets another thread watch and stop the run. A run stopped by it, or by
    Ctrl-C (``KeyboardInterrupt``), raises :class:`RunStopped` once its actors have
    stopped. ``kinds``: protocol kinds to use in place of the built-in ones of the same
    name (a test's or an experiment's own driver).
    """
    kinds = tuple(kinds)
    check_runnable(scenario, path, kinds=kinds)
    kind = kind_of(scenario, kinds)
    seed = scenario.seed if seed is None else seed
    spec = scenario.network
    network = SimNetwork(
        rng=random.Random(f"{seed}:network"),
        latency_ms=spec.latency_ms,
        drop_rate=spec.drop_rate,
        duplicate_rate=spec.duplicate_rate,
        reorder=spec.reorder,
        tick_ms=spec.tick_ms,
        partition_exempt=spec.partition_clients,
    )
    wall_start = time.perf_counter()
    watch = RunMonitor() if monitor is None else monitor
    watch._attach(network)

    async def main() -> tuple[Outcome, float]:
        loop = asyncio.get_running_loop()
        async with ActorSystem(scenario.name, transport=network, strict=strict) as system:
            watch._started(system)
            run = ScenarioRun(scenario, seed, system, network, kind)
            try:
                outcome = await kind.drive(run)
            finally:
                await run.stop_faults()
            virtual_ms = round(loop.time() * 1000.0, 6)
        return outcome, virtual_ms

    try:
        outcome, virtual_ms = run_virtual(main)
    except KeyboardInterrupt:
        raise RunStopped("interrupted", watch.status(), network) from None
    except asyncio.CancelledError:
        if watch.stop_reason is None:
            raise
        raise RunStopped(watch.stop_reason, watch.status(), network) from None
    stats = RunStats(
        messages_sent=network.sent,
        messages_delivered=network.delivered,
        messages_dropped=network.dropped,
        virtual_ms=virtual_ms,
        wall_ms=round((time.perf_counter() - wall_start) * 1000.0, 3),
    )
    return RunReport.of(scenario, seed, outcome, stats), network

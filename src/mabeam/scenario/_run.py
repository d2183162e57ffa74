"""Running a scenario: build a system on the simulated network, spawn agents, inject faults.

:func:`run_scenario` runs one :class:`Scenario` on virtual time and returns a
:class:`RunReport` (the JSON document of ``mabeam run --json``). A protocol kind plugs
in as a *driver*: ``async def driver(run: ScenarioRun) -> Outcome``, registered with
:func:`register_protocol`. The driver spawns its agents and coordinator through the
:class:`ScenarioRun` (so they are network nodes under the agents' supervisor), calls
:meth:`ScenarioRun.start_faults`, runs the protocol and returns its outcome.

Randomness: one seed. The network and the protocol each draw from their own
``random.Random`` derived from it (``"{seed}:network"``, ``"{seed}:protocol"``), so a
protocol that draws one more number does not change the network's draws.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import random
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from .._errors import ConfigError, ScenarioError
from .._errors import RunStopped as RunStopped
from ..runtime import Actor, ActorRef, ActorSystem, ChildSpec, Supervisor
from ..runtime.supervision import restart_child, terminate_child, which_children
from ..sim import DROP, Interceptor, SimNetwork, run_virtual
from ._schema import AgentSpec, FaultSpec, Scenario

if TYPE_CHECKING:
    from ..sim import Trace

COORDINATOR = "coordinator"
"""The coordinator's node name: exempt from partitions, as SCENARIOS.md says."""
AGENTS_SUPERVISOR = "agents"


class RunError(msgspec.Struct, frozen=True, omit_defaults=True):
    """Why a protocol ended without agreement (``code`` as in PROTOCOLS.md)."""

    code: str
    message: str
    details: dict[str, Any] | None = None


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
    error: RunError | None
    stats: RunStats

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


@dataclass(frozen=True)
class Outcome:
    """A driver's answer: ``result`` (builtins or msgspec Structs), or an ``error``."""

    ok: bool
    result: Any = None
    error: RunError | None = None


Driver = Callable[["ScenarioRun"], Awaitable[Outcome]]
AgentFactory = Callable[[AgentSpec], tuple[type[Actor], tuple[Any, ...], Mapping[str, Any]]]
ByzantineFactory = Callable[[str, str], Interceptor | None]
Refusal = Callable[[Scenario], tuple[str, str] | None]
"""``(scenario) -> (field, problem)`` when a registered kind cannot run this scenario yet."""


@dataclass(frozen=True)
class _Protocol:
    driver: Driver
    byzantine: ByzantineFactory | None = None
    refuse: Refusal | None = None


_PROTOCOLS: dict[str, _Protocol] = {}


def register_protocol(
    kind: str,
    driver: Driver,
    *,
    byzantine: ByzantineFactory | None = None,
    refuse: Refusal | None = None,
) -> None:
    """Make ``kind`` runnable; ``byzantine(agent, behavior)`` supplies protocol tampering,
    ``refuse(scenario)`` names what of this kind is not implemented yet."""
    _PROTOCOLS[kind] = _Protocol(driver, byzantine, refuse)


def protocol_kinds() -> list[str]:
    """The protocol kinds that can run, sorted."""
    _load_builtin_protocols()
    return sorted(_PROTOCOLS)


def protocol_kind(scenario: Scenario) -> str:
    """The ``kind`` of the scenario's ``[protocol]`` table (the tag of its options Struct)."""
    tag = type(scenario.protocol).__struct_config__.tag
    assert isinstance(tag, str)
    return tag


class ScenarioRun:
    """What a driver gets: the scenario, the system, the network, the seeded rng."""

    def __init__(
        self, scenario: Scenario, seed: int, system: ActorSystem, network: SimNetwork
    ) -> None:
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
        self._byzantine = _PROTOCOLS[protocol_kind(scenario)].byzantine

    @property
    def options(self) -> Any:
        """The ``[protocol]`` table, as its kind's options Struct."""
        return self.scenario.protocol

    async def spawn_agents(self, factory: AgentFactory) -> None:
        """Start one actor per agent, in agent order, under one supervisor, as network nodes.

        Each is registered under its agent id, ``transient`` (a crash of its own is
        restarted) with brutal-kill shutdown (an injected crash loses volatile state).
        """
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
        if self._byzantine is not None:
            interceptor = self._byzantine(agent, behavior)
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


GENERIC_BEHAVIORS = ("silent", "random")


def check_runnable(scenario: Scenario, path: str) -> None:
    """Refuse (ScenarioError) what is valid in schema but cannot run: before any actor."""
    kinds = protocol_kinds()
    kind = protocol_kind(scenario)
    if kind not in _PROTOCOLS:
        raise ScenarioError(
            path, "protocol.kind", f"protocol {kind!r} is not implemented yet", allowed=kinds
        )
    protocol = _PROTOCOLS[kind]
    refused = protocol.refuse(scenario) if protocol.refuse is not None else None
    if refused is not None:
        raise ScenarioError(path, *refused)
    for index, fault in enumerate(scenario.faults):
        behavior = fault.behavior
        if behavior is None or behavior in GENERIC_BEHAVIORS:
            continue
        if protocol.byzantine is None or protocol.byzantine("", behavior) is None:
            raise ScenarioError(
                path,
                f"faults[{index}].behavior",
                f"{behavior!r} is not supported by protocol {kind!r}",
                allowed=", ".join(GENERIC_BEHAVIORS),
            )


def run_scenario(
    scenario: Scenario,
    *,
    seed: int | None = None,
    path: str = "<scenario>",
    monitor: RunMonitor | None = None,
    strict: bool = False,
) -> tuple[RunReport, SimNetwork]:
    """Run ``scenario`` on virtual time; returns the report and the network (its trace).

    ``strict=True`` encodes and decodes every message that crosses the network with the
    codec (:mod:`mabeam.codec`): the run must give the same result, and it proves every
    message of the run could cross a process boundary.

    ``monitor`` lets another thread watch and stop the run. A run stopped by it, or by
    Ctrl-C (``KeyboardInterrupt``), raises :class:`RunStopped` once its actors have
    stopped.
    """
    check_runnable(scenario, path)
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
    driver = _PROTOCOLS[protocol_kind(scenario)].driver
    wall_start = time.perf_counter()
    watch = RunMonitor() if monitor is None else monitor
    watch._attach(network)

    async def main() -> tuple[Outcome, float]:
        loop = asyncio.get_running_loop()
        async with ActorSystem(scenario.name, transport=network, strict=strict) as system:
            watch._started(system)
            run = ScenarioRun(scenario, seed, system, network)
            try:
                outcome = await driver(run)
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
    report = RunReport(
        scenario=scenario.name,
        protocol=protocol_kind(scenario),
        seed=seed,
        ok=outcome.ok,
        result=msgspec.to_builtins(outcome.result, order="deterministic"),
        error=outcome.error,
        stats=stats,
    )
    return report, network


_BUILTIN: dict[str, str] = {
    "auction": "_auction",
    "bargaining": "_bargaining",
    "hierarchy": "_hierarchy",
    "market": "_market",
    "ping": "_ping",
    "conflict": "_conflict",
    "consensus": "_consensus",
}
"""Built-in kinds and the module (in this package) whose ``register()`` registers them."""


def _load_builtin_protocols() -> None:
    for kind, module in _BUILTIN.items():
        if kind not in _PROTOCOLS:
            importlib.import_module(f".{module}", __package__).register()

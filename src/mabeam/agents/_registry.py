"""The agent registry: agents by config, started and restarted under one supervisor.

:class:`AgentRegistry` is the client; the state lives in a :class:`RegistryActor`, which
owns a :class:`~mabeam.DynamicSupervisor` for the agents and monitors each running one.
When an agent exits, the registry asks the supervisor what it did (the supervisor
handles the exit before it answers) and records a restart, a crash or a stop. Every
change is a structlog event ``agent_<kind>`` and an :class:`AgentEvent` told to each
subscriber actor.

Do not call the registry from an agent's ``on_start``: the registry waits for the
agent's start, so the call would wait for itself.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import msgspec

from .._errors import (
    ActorCrashedError,
    ActorDeadError,
    ActorStartError,
    AskTimeoutError,
    ConfigError,
    MabeamError,
)
from .._log import get_logger
from ..runtime import Actor, ActorRef, ActorSystem, ChildSpec, Down, DynamicSupervisor, Exit
from ..runtime._cleanup import finish
from ..runtime._signals import describe_reason, is_orderly
from ..runtime.supervision import start_child, terminate_child, which_children
from ._config import (
    AgentConfig,
    AgentEvent,
    AgentInfo,
    EventKind,
    Health,
    HealthCheck,
    RegistryError,
    Status,
    check_capabilities,
    check_metadata,
    check_status,
    resolve_actor,
)

_log = get_logger("mabeam.agents")


# ---------------------------------------------------------------- requests (client → actor)


class _Register(msgspec.Struct, frozen=True):
    config: AgentConfig
    start: bool


class _Unregister(msgspec.Struct, frozen=True):
    agent: str


class _Start(msgspec.Struct, frozen=True):
    agent: str


class _Stop(msgspec.Struct, frozen=True):
    agent: str


class _Restart(msgspec.Struct, frozen=True):
    agent: str


class _Info(msgspec.Struct, frozen=True):
    agent: str | None  # None: every agent


class _Find(msgspec.Struct, frozen=True):
    capabilities: tuple[str, ...]
    status: str | None


class _Update(msgspec.Struct, frozen=True):
    agent: str
    metadata: dict[str, Any] | None
    capabilities: tuple[str, ...] | None


class _Health(msgspec.Struct, frozen=True):
    agent: str
    timeout: float


class _Subscribe(msgspec.Struct, frozen=True):
    subscriber: ActorRef
    on: bool


class _Refused(msgspec.Struct, frozen=True):
    error: Any


@dataclass(slots=True)
class _Record:
    config: AgentConfig
    status: Status = "registered"
    ref: ActorRef | None = None
    monitor: int | None = None
    restarts: int = 0
    last_exit: str | None = None

    def info(self) -> AgentInfo:
        config = self.config
        return AgentInfo(
            id=config.id,
            actor=config.actor_name,
            status=self.status,
            capabilities=config.capabilities,
            metadata=dict(config.metadata),
            restarts=self.restarts,
            last_exit=self.last_exit,
        )


class RegistryActor(Actor):
    """Holds the registry's state; its own :class:`DynamicSupervisor` runs the agents."""

    trap_exit = True

    def __init__(self, *, intensity: int = 3, period: float = 5.0) -> None:
        self.intensity = intensity
        self.period = period
        self._agents: dict[str, _Record] = {}
        self._by_monitor: dict[int, str] = {}
        self._subscribers: dict[int, ActorRef] = {}  # monitor id -> subscriber
        self._supervisor: ActorRef | None = None

    async def on_start(self) -> None:
        await self._spawn_supervisor()

    async def _spawn_supervisor(self) -> None:
        self._supervisor = await self.context.spawn_link(
            DynamicSupervisor, intensity=self.intensity, period=self.period
        )

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Down):
            await self._down(message)
            return None
        if isinstance(message, Exit):
            await self._exit(message)
            return None
        try:
            return await self._request(message)
        except MabeamError as exc:
            return _Refused(exc)

    # ---------------------------------------------------------------- requests

    async def _request(self, message: Any) -> Any:
        if isinstance(message, _Register):
            return await self._register(message)
        if isinstance(message, _Info):
            if message.agent is None:
                return [self._agents[a].info() for a in sorted(self._agents)]
            return self._record(message.agent).info()
        if isinstance(message, _Find):
            wanted = message.capabilities
            return [
                agent
                for agent in sorted(self._agents)
                if all(c in self._agents[agent].config.capabilities for c in wanted)
                and (message.status is None or self._agents[agent].status == message.status)
            ]
        if isinstance(message, _Start):
            return await self._start(self._record(message.agent), "started", "requested")
        if isinstance(message, _Stop):
            return await self._stop(self._record(message.agent), "requested")
        if isinstance(message, _Restart):
            record = self._record(message.agent)
            if record.ref is not None:
                await self._stop(record, "restart", notify=False)
            record.restarts += 1
            return await self._start(record, "restarted", "requested")
        if isinstance(message, _Unregister):
            record = self._record(message.agent)
            if record.ref is not None:
                await self._stop(record, "unregistered", notify=False)
            del self._agents[message.agent]
            self._event("unregistered", message.agent, None, "requested")
            return None
        if isinstance(message, _Update):
            return self._update(message)
        if isinstance(message, _Health):
            return await self._health(self._record(message.agent), message.timeout)
        if isinstance(message, _Subscribe):
            return self._subscribe(message)
        raise TypeError(f"unexpected message {type(message).__name__}")

    def _record(self, agent: str) -> _Record:
        record = self._agents.get(agent)
        if record is None:
            raise RegistryError(f"no agent {agent!r} is registered")
        return record

    async def _register(self, message: _Register) -> AgentInfo:
        config = message.config
        if config.id in self._agents:
            raise RegistryError(f"an agent {config.id!r} is already registered")
        resolve_actor(config.actor)
        record = _Record(config)
        self._agents[config.id] = record
        self._event("registered", config.id, "registered", None)
        if message.start:
            await self._start(record, "started", "requested")
        return record.info()

    async def _start(self, record: _Record, kind: EventKind, reason: str) -> AgentInfo:
        config = record.config
        if record.ref is not None:
            raise RegistryError(f"agent {config.id!r} is running")
        assert self._supervisor is not None
        spec = ChildSpec(
            id=config.id,
            actor=resolve_actor(config.actor),
            args=config.args,
            kwargs=config.kwargs,
            restart=config.restart,
            name=config.id,
        )
        try:
            ref = await start_child(self._supervisor, spec)
        except (ActorStartError, MabeamError) as exc:
            record.status = "failed"
            record.last_exit = describe_reason(getattr(exc, "reason", exc))
            self._event("start_failed", config.id, "failed", record.last_exit)
            raise
        self._watch(record, ref)
        self._event(kind, config.id, "running", reason)
        return record.info()

    def _watch(self, record: _Record, ref: ActorRef) -> None:
        record.ref = ref
        record.status = "running"
        record.monitor = self.context.monitor(ref)
        self._by_monitor[record.monitor] = record.config.id

    def _unwatch(self, record: _Record) -> None:
        if record.monitor is not None:
            self.context.demonitor(record.monitor)
            self._by_monitor.pop(record.monitor, None)
        record.monitor = None
        record.ref = None

    async def _stop(self, record: _Record, reason: str, *, notify: bool = True) -> AgentInfo:
        ref = record.ref
        if ref is None:
            raise RegistryError(f"agent {record.config.id!r} is not running")
        self._unwatch(record)
        assert self._supervisor is not None
        with contextlib.suppress(MabeamError):  # it exited meanwhile: already forgotten
            await terminate_child(self._supervisor, ref)
        record.status = "stopped"
        record.last_exit = "shutdown"
        if notify:
            self._event("stopped", record.config.id, "stopped", reason)
        return record.info()

    def _update(self, message: _Update) -> AgentInfo:
        record = self._record(message.agent)
        changes: dict[str, Any] = {}
        if message.metadata is not None:
            changes["metadata"] = {**record.config.metadata, **message.metadata}
        if message.capabilities is not None:
            changes["capabilities"] = message.capabilities
        if not changes:  # nothing to change: no event
            return record.info()
        record.config = msgspec.structs.replace(record.config, **changes)
        self._event("updated", message.agent, record.status, ",".join(sorted(changes)))
        return record.info()

    async def _health(self, record: _Record, timeout: float) -> Health:
        agent, ref = record.config.id, record.ref
        if ref is None or not ref.is_alive:
            return Health(id=agent, healthy=False, status=record.status, detail="not_running")
        if not record.config.health_check:
            return Health(id=agent, healthy=True, status=record.status)
        try:
            answer = await ref.ask(HealthCheck(), timeout=timeout)
        except AskTimeoutError:
            return Health(id=agent, healthy=False, status=record.status, detail="timeout")
        except ActorCrashedError as exc:
            detail = f"crashed: {describe_reason(exc.reason)}"
            return Health(id=agent, healthy=False, status=record.status, detail=detail)
        except ActorDeadError:
            return Health(id=agent, healthy=False, status=record.status, detail="not_running")
        return Health(id=agent, healthy=True, status=record.status, detail=answer)

    def _subscribe(self, message: _Subscribe) -> None:
        target = message.subscriber
        for monitor, subscriber in list(self._subscribers.items()):
            if subscriber is target or subscriber.id == target.id:
                self.context.demonitor(monitor)
                del self._subscribers[monitor]
        if message.on:
            self._subscribers[self.context.monitor(target)] = target

    # ---------------------------------------------------------------- exits

    async def _down(self, message: Down) -> None:
        if self._subscribers.pop(message.monitor, None) is not None:
            return
        agent = self._by_monitor.pop(message.monitor, None)
        record = None if agent is None else self._agents.get(agent)
        if record is None or record.ref is not message.actor:
            return
        record.ref = record.monitor = None
        record.last_exit = describe_reason(message.reason)
        # The supervisor got the exit before this Down was sent: asking it now (by looking
        # for the restarted child) sees whatever it decided.
        assert self._supervisor is not None
        restarted = await self._restarted(record.config.id)
        if restarted is not None:
            record.restarts += 1
            self._watch(record, restarted)
            self._event("restarted", record.config.id, "running", record.last_exit)
        elif is_orderly(message.reason) and self._supervisor.is_alive:
            record.status = "stopped"
            self._event("stopped", record.config.id, "stopped", record.last_exit)
        else:
            if is_orderly(message.reason):
                # Shut down by its supervisor giving up (the Exit follows): not a stop.
                record.last_exit = "supervisor_gave_up"
            record.status = "crashed"
            self._event("crashed", record.config.id, "crashed", record.last_exit)

    async def _restarted(self, agent: str) -> ActorRef | None:
        assert self._supervisor is not None
        if not self._supervisor.is_alive:
            return None
        try:
            children = await which_children(self._supervisor)
        except ActorDeadError:
            return None
        for child in children:
            if child.id == agent and child.ref is not None and child.ref.is_alive:
                return child.ref
        return None

    async def _exit(self, message: Exit) -> None:
        if self._supervisor is None or message.actor is not self._supervisor:
            return
        # The agents' supervisor gave up (restart intensity): its agents are gone.
        _log.error("agent_supervisor_gave_up", reason=describe_reason(message.reason))
        for agent in sorted(self._agents):
            record = self._agents[agent]
            if record.ref is not None:
                self._unwatch(record)
                record.status = "crashed"
                record.last_exit = "supervisor_gave_up"
                self._event("crashed", agent, "crashed", "supervisor_gave_up")
        await self._spawn_supervisor()

    # ---------------------------------------------------------------- events

    def _event(
        self, kind: EventKind, agent: str, status: Status | None, reason: str | None
    ) -> None:
        _log.info(f"agent_{kind}", agent=agent, status=status, reason=reason)
        event = AgentEvent(kind=kind, agent=agent, status=status, reason=reason)
        for subscriber in list(self._subscribers.values()):
            subscriber.tell(event)


class AgentRegistry:
    """The agent registry's client API (every call is an ask to the :class:`RegistryActor`)."""

    def __init__(self, system: ActorSystem, ref: ActorRef) -> None:
        self.system = system
        self.ref = ref

    @classmethod
    async def start(
        cls,
        system: ActorSystem,
        *,
        name: str | None = "agent_registry",
        intensity: int = 3,
        period: float = 5.0,
    ) -> AgentRegistry:
        """Spawn a registry actor (registered as ``name``) with its agents' supervisor.

        ``intensity`` / ``period``: the agents' supervisor's restart intensity.
        """
        ref = await system.spawn(RegistryActor, name=name, intensity=intensity, period=period)
        return cls(system, ref)

    async def _call(self, message: Any) -> Any:
        answer = await self.ref.ask(message, timeout=None)
        if isinstance(answer, _Refused):
            raise answer.error
        return answer

    async def register(self, config: AgentConfig, *, start: bool = False) -> AgentInfo:
        """Add an agent (and start it when ``start``); RegistryError if the id is taken."""
        info: AgentInfo = await self._call(_Register(config, start))
        return info

    async def unregister(self, agent: str) -> None:
        """Stop the agent if it runs, and forget it."""
        await self._call(_Unregister(agent))

    async def start_agent(self, agent: str) -> AgentInfo:
        """Start a registered agent under supervision (ActorStartError if it fails to)."""
        info: AgentInfo = await self._call(_Start(agent))
        return info

    async def stop_agent(self, agent: str) -> AgentInfo:
        """Stop a running agent (it stays registered, status ``stopped``)."""
        info: AgentInfo = await self._call(_Stop(agent))
        return info

    async def restart_agent(self, agent: str) -> AgentInfo:
        """Stop the agent if it runs and start it again (fresh state)."""
        info: AgentInfo = await self._call(_Restart(agent))
        return info

    async def status(self, agent: str) -> AgentInfo:
        """The agent's status, capabilities, metadata and restart count."""
        info: AgentInfo = await self._call(_Info(agent))
        return info

    async def list_agents(self) -> list[AgentInfo]:
        """Every registered agent, sorted by id."""
        infos: list[AgentInfo] = await self._call(_Info(None))
        return infos

    async def find(
        self, capabilities: list[str] | tuple[str, ...] = (), *, status: Status | None = None
    ) -> list[str]:
        """Ids (sorted) of agents having *every* listed capability (and ``status``)."""
        wanted = check_capabilities(capabilities)
        found: list[str] = await self._call(_Find(wanted, check_status(status)))
        return found

    async def update(
        self,
        agent: str,
        *,
        metadata: dict[str, Any] | None = None,
        capabilities: list[str] | tuple[str, ...] | None = None,
    ) -> AgentInfo:
        """Merge ``metadata`` into the agent's; replace its capabilities when given."""
        caps = None if capabilities is None else check_capabilities(capabilities)
        merge = None if metadata is None else dict(check_metadata(metadata))
        info: AgentInfo = await self._call(_Update(agent, merge, caps))
        return info

    async def health(self, agent: str, *, timeout: float = 1.0) -> Health:
        """Ping the agent by ask (:class:`HealthCheck`) within ``timeout`` seconds."""
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
            raise ConfigError("timeout", f"must be seconds > 0, got {timeout!r}")
        health: Health = await self._call(_Health(agent, timeout))
        return health

    async def subscribe(self, subscriber: ActorRef) -> None:
        """Tell ``subscriber`` an :class:`AgentEvent` on every change (until it exits)."""
        await self._call(_Subscribe(subscriber, True))

    async def unsubscribe(self, subscriber: ActorRef) -> None:
        """Stop telling ``subscriber``."""
        await self._call(_Subscribe(subscriber, False))

    def whereis(self, agent: str) -> ActorRef | None:
        """The running agent's ref (agents are registered under their ids)."""
        return self.system.whereis(agent)

    async def stop(self) -> None:
        """Stop the registry and every agent it runs, to the end even if cancelled."""
        ref = self.ref
        await finish(ref.stop() if ref.is_alive else ref.join())

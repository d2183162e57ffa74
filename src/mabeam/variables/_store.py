"""The variable store: named variables, their subscribers, and decisions by protocol.

:class:`Variables` is the client; the state lives in a :class:`VariableStore` actor, so
requests are handled one at a time: a coordination runs to its end before the next
request (a subscriber must not call the store while answering a protocol message, or
it waits for itself until its reply timeout).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from .._errors import ConfigError, MabeamError
from .._log import get_logger
from ..runtime import Actor, ActorRef, ActorSystem
from ..runtime._cleanup import finish
from ._protocols import DECIDERS, Verdict
from ._variable import Change, Decision, Protocol, Variable, VariableError, check_protocol
from .messages import VariableChanged

_log = get_logger("mabeam.variables")


class _Define(msgspec.Struct, frozen=True):
    name: str
    value: Any
    protocol: str | None


class _Get(msgspec.Struct, frozen=True):
    name: str | None


class _Set(msgspec.Struct, frozen=True):
    name: str
    value: Any


class _Subscribe(msgspec.Struct, frozen=True):
    name: str
    agents: tuple[str, ...]
    on: bool


class _Coordinate(msgspec.Struct, frozen=True):
    name: str
    protocol: str | None
    agents: tuple[str, ...] | None
    options: dict[str, Any]
    reply_timeout: float


class _Refused(msgspec.Struct, frozen=True):
    error: Any


@dataclass(slots=True)
class _State:
    name: str
    value: Any
    protocol: Protocol | None
    version: int = 0
    subscribers: list[str] = field(default_factory=list)
    history: list[Change] = field(default_factory=list)

    def view(self) -> Variable:
        return Variable(
            name=self.name,
            value=self.value,
            version=self.version,
            protocol=self.protocol,
            subscribers=tuple(self.subscribers),
            history=tuple(self.history),
        )


class VariableStore(Actor):
    """Holds the variables; runs each coordination and pushes every change."""

    def __init__(self, *, history: int = 100) -> None:
        if history < 1:
            raise ConfigError("history", f"must be >= 1, got {history!r}")
        self.history = history
        self._variables: dict[str, _State] = {}

    async def receive(self, message: Any) -> Any:
        try:
            return await self._request(message)
        except MabeamError as exc:
            return _Refused(exc)

    async def _request(self, message: Any) -> Any:
        if isinstance(message, _Define):
            return self._define(message)
        if isinstance(message, _Get):
            if message.name is None:
                return [self._variables[n].view() for n in sorted(self._variables)]
            return self._state(message.name).view()
        if isinstance(message, _Set):
            state = self._state(message.name)
            self._change(state, message.value, "set", ())
            return state.view()
        if isinstance(message, _Subscribe):
            return self._subscribe(message)
        if isinstance(message, _Coordinate):
            return await self._coordinate(message)
        raise TypeError(f"unexpected message {type(message).__name__}")

    def _state(self, name: str) -> _State:
        state = self._variables.get(name)
        if state is None:
            raise VariableError(f"no variable {name!r}")
        return state

    def _define(self, message: _Define) -> Variable:
        if not isinstance(message.name, str) or not message.name:
            raise ConfigError("name", f"must be a non-empty string, got {message.name!r}")
        if message.name in self._variables:
            raise VariableError(f"variable {message.name!r} is already defined")
        protocol = None if message.protocol is None else check_protocol(message.protocol)
        state = _State(message.name, message.value, protocol)
        state.history.append(
            Change(version=0, value=message.value, protocol="define", at=self.context.time())
        )
        self._variables[message.name] = state
        _log.info("variable_defined", variable=message.name, value=message.value, protocol=protocol)
        return state.view()

    def _subscribe(self, message: _Subscribe) -> Variable:
        state = self._state(message.name)
        for agent in message.agents:  # all checked before any is applied
            if not isinstance(agent, str) or not agent:
                raise ConfigError("agents", f"agent ids must be non-empty strings, got {agent!r}")
        for agent in message.agents:
            if message.on and agent not in state.subscribers:
                state.subscribers.append(agent)
                _log.info("variable_subscribed", variable=state.name, agent=agent)
            elif not message.on and agent in state.subscribers:
                state.subscribers.remove(agent)
                _log.info("variable_unsubscribed", variable=state.name, agent=agent)
        return state.view()

    async def _coordinate(self, message: _Coordinate) -> Decision:
        state = self._state(message.name)
        chosen = message.protocol if message.protocol is not None else state.protocol
        if chosen is None:
            raise ConfigError("protocol", f"variable {state.name!r} has no default protocol")
        protocol = check_protocol(chosen)
        agents = list(message.agents) if message.agents is not None else list(state.subscribers)
        if not agents:
            raise ConfigError("agents", f"no agents to decide {state.name!r}: subscribe some")
        for i, agent in enumerate(agents):
            if not isinstance(agent, str) or not agent:
                raise ConfigError(f"agents[{i}]", f"must be a non-empty string, got {agent!r}")
        if len(set(agents)) != len(agents):
            raise ConfigError("agents", "an agent is listed twice")
        timeout = message.reply_timeout
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
            raise ConfigError("reply_timeout", f"must be seconds > 0, got {timeout!r}")
        log = self.context.log.bind(protocol=protocol, variable=state.name)
        log.info("coordination_started", agents=len(agents), version=state.version)
        started, wall = self.context.time(), time.perf_counter()
        system = self.context.system
        verdict: Verdict = await DECIDERS[protocol](
            system, state.name, state.value, agents, message.options, message.reply_timeout
        )
        if verdict.ok:
            self._change(state, verdict.value, protocol, tuple(agents))
        decision = Decision(
            variable=state.name,
            protocol=protocol,
            ok=verdict.ok,
            value=verdict.value if verdict.ok else state.value,
            version=state.version,
            participants=tuple(agents),
            error=verdict.error,
            details=verdict.details,
        )
        log.info(
            "coordination_result",
            ok=decision.ok,
            value=decision.value,
            error=decision.error,
            version=decision.version,
        )
        log.info(
            "coordination_stopped",
            elapsed_ms=round((self.context.time() - started) * 1000.0, 6),
            wall_ms=round((time.perf_counter() - wall) * 1000.0, 3),
        )
        return decision

    def _change(
        self, state: _State, value: Any, protocol: str, participants: tuple[str, ...]
    ) -> None:
        previous = state.value
        state.value = value
        state.version += 1
        state.history.append(
            Change(
                version=state.version,
                value=value,
                protocol=protocol,
                at=self.context.time(),
                participants=participants,
            )
        )
        del state.history[: -self.history]
        _log.info(
            "variable_changed",
            variable=state.name,
            value=value,
            previous=previous,
            version=state.version,
            protocol=protocol,
        )
        change = VariableChanged(
            variable=state.name,
            value=value,
            previous=previous,
            version=state.version,
            protocol=protocol,
        )
        # By name: a subscriber that is down gets nothing (a dead letter), a restarted one
        # the change.
        tell = self.context.tell
        for agent in state.subscribers:
            tell(agent, change)


class Variables:
    """Orchestration variables' client API (every call is an ask to the :class:`VariableStore`)."""

    def __init__(self, ref: ActorRef) -> None:
        self.ref = ref

    @classmethod
    async def start(
        cls, system: ActorSystem, *, name: str | None = "variables", history: int = 100
    ) -> Variables:
        """Spawn a store (registered as ``name``) keeping the last ``history`` changes each."""
        return cls(await system.spawn(VariableStore, name=name, history=history))

    async def _call(self, message: Any) -> Any:
        answer = await self.ref.ask(message, timeout=None)
        if isinstance(answer, _Refused):
            raise answer.error
        return answer

    async def define(
        self, name: str, value: Any = None, *, protocol: str | None = None
    ) -> Variable:
        """Create variable ``name`` at version 0; ``protocol`` is its default for coordinate."""
        variable: Variable = await self._call(_Define(name, value, protocol))
        return variable

    async def get(self, name: str) -> Variable:
        """The variable's value, version, history and subscribers."""
        variable: Variable = await self._call(_Get(name))
        return variable

    async def list_variables(self) -> list[Variable]:
        """Every variable, sorted by name."""
        variables: list[Variable] = await self._call(_Get(None))
        return variables

    async def set(self, name: str, value: Any) -> Variable:
        """Change the value directly (no protocol); subscribers are told."""
        variable: Variable = await self._call(_Set(name, value))
        return variable

    async def subscribe(self, name: str, *agents: str) -> Variable:
        """Subscribe agents (actor names) to ``name``: they decide it and hear its changes."""
        variable: Variable = await self._call(_Subscribe(name, agents, True))
        return variable

    async def unsubscribe(self, name: str, *agents: str) -> Variable:
        """Remove subscribers."""
        variable: Variable = await self._call(_Subscribe(name, agents, False))
        return variable

    async def coordinate(
        self,
        name: str,
        *,
        protocol: str | None = None,
        agents: Sequence[str] | None = None,
        reply_timeout: float = 1.0,
        **options: Any,
    ) -> Decision:
        """Let ``agents`` (default: the subscribers) agree on ``name`` by ``protocol``.

        ``protocol``: ``auction``, ``voting``, ``raft``, ``compromise`` or ``bargaining``
        (default: the variable's). ``options`` go to the protocol (auction_type,
        payment_rule ...; proposals, algorithm, weights; compromise_method,
        fallback_strategy; bargaining_outcomes, fallback_strategy; value, timeout,
        seed). An agreement changes
        the variable (version + 1) and tells every subscriber :class:`VariableChanged`;
        no agreement leaves it as it was and comes back with ``error``.
        """
        if isinstance(agents, str):
            raise ConfigError("agents", f"must be a list of agent ids, got {agents!r}")
        chosen = tuple(agents) if agents is not None else None
        decision: Decision = await self._call(
            _Coordinate(name, protocol, chosen, dict(options), reply_timeout)
        )
        return decision

    async def stop(self) -> None:
        """Stop the store (after a coordination under way), to the end even if cancelled."""
        ref = self.ref
        await finish(ref.stop() if ref.is_alive else ref.join())

"""``resolve_conflicts``: conflict resolution from async application code.

The arguments are checked before any actor is spawned (a :class:`~mabeam.ConfigError`
names the bad one); then a :class:`ConflictCoordinator` resolves the conflicts and is
stopped again. Outcomes that are not agreements raise nothing: they come back as failed
resolutions in a result whose ``ok`` is false.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, get_args

import msgspec

from ..._errors import ConfigError
from ...runtime import ActorSystem
from ...runtime._cleanup import finish
from ..bargaining.strategies import EXPONENTS
from ._types import CompromiseMethod, ConflictType, Strategy
from .actor import ConflictCoordinator
from .messages import AgentTraits, Conflict, ConflictSettings, ResolveConflicts
from .resolutions import ConflictResult

STRATEGIES: tuple[str, ...] = get_args(Strategy)
CONFLICT_TYPES: tuple[str, ...] = get_args(ConflictType)
OPTIONS = (
    "compromise_method",
    "available_resources",
    "time_slot_duration",
    "negotiation_type",
    "payment_rule",
    "base_bid",
    "leader",
    "bargaining_outcomes",
    "notify_agents",
)
"""The strategy options ``resolve_conflicts`` takes as keyword arguments."""
_CHOICES: dict[str, tuple[str, ...]] = {
    "strategy": STRATEGIES,
    "fallback_strategy": STRATEGIES,
    "compromise_method": get_args(CompromiseMethod),
    "negotiation_type": ("auction", "bargaining"),
    "payment_rule": ("first_price", "second_price"),
}


async def resolve_conflicts(
    system: ActorSystem,
    conflicts: Sequence[Conflict],
    *,
    strategy: Strategy = "compromise",
    fallback_strategy: Strategy | None = None,
    agents: Mapping[str, AgentTraits] | None = None,
    reply_timeout: float = 1.0,
    name: str | None = None,
    seed: int | str = 0,
    **options: Any,
) -> ConflictResult:
    """Resolve ``conflicts`` in order with ``strategy``, then ``fallback_strategy``.

    ``agents`` maps agent ids to their :class:`AgentTraits` (weight, priority, urgency,
    importance, resources); agents not in it have the defaults. ``options`` are the
    PROTOCOLS.md strategy options (:data:`OPTIONS`; ``time_slot_duration`` in ms).
    ``negotiated_settlement`` runs an auction (or with ``negotiation_type="bargaining"``
    an alternating-offers session of 100 steps, each agent bargaining with its traits'
    ``strategy``) among the actors registered under the conflicting agents' ids (e.g.
    :class:`ConflictAgent`); each has ``reply_timeout`` seconds per answer. With
    ``notify_agents=True`` those actors are also told each outcome
    (:class:`ConflictResolved`). ``leader_decision`` without the ``leader`` option elects
    a leader by Raft among the same actors (``seed`` drives its random election
    timeouts). The coordinator is registered as ``name`` if given (so a
    simulated network can model it as a node) and stopped at the end.
    Raises :class:`~mabeam.ConfigError` for invalid arguments.
    """
    settings = check_settings(
        {
            "strategy": strategy,
            "fallback_strategy": fallback_strategy,
            "reply_timeout": reply_timeout,
            **_known(options),
        }
    )
    request = ResolveConflicts(
        conflicts=check_conflicts(conflicts), settings=settings, agents=check_agents(agents)
    )
    if isinstance(seed, bool) or not isinstance(seed, (int, str)):
        raise ConfigError("seed", f"must be an int or a string, got {seed!r}")
    coordinator = await system.spawn(ConflictCoordinator, seed=seed, name=name)
    try:
        result: ConflictResult = await coordinator.ask(request, timeout=None)
    finally:
        # To the end even if the caller is cancelled: no coordinator (nor the auction,
        # session or Raft cluster it runs) outlives the call.
        await finish(coordinator.stop())
    return result


def _known(options: Mapping[str, Any]) -> dict[str, Any]:
    for name in options:
        if name not in OPTIONS:
            raise ConfigError(name, "unknown option", allowed=", ".join(OPTIONS))
    return dict(options)


def check_settings(raw: Mapping[str, Any]) -> ConflictSettings:
    """Build the settings, refusing a wrong type, an unknown choice or an out-of-range number."""
    for name, choices in _CHOICES.items():
        value = raw.get(name)
        if value is not None and value not in choices:
            raise ConfigError(name, f"invalid value {value!r}", allowed=", ".join(choices))
    try:
        settings = msgspec.convert(dict(raw), ConflictSettings)
    except msgspec.ValidationError as exc:
        message, _, where = str(exc).partition(" - at `$.")
        raise ConfigError(where.rstrip("`") or "options", message) from exc
    _number("reply_timeout", settings.reply_timeout, low=0.0, above=True)
    _number("base_bid", settings.base_bid, low=0.0, above=True)
    if settings.available_resources is not None:
        _number("available_resources", settings.available_resources, low=0.0)
    if settings.time_slot_duration < 1:
        raise ConfigError("time_slot_duration", "must be an integer >= 1 (ms)")
    if settings.leader is not None and not settings.leader:
        raise ConfigError("leader", "must not be empty")
    if settings.bargaining_outcomes is not None:
        if not settings.bargaining_outcomes:
            raise ConfigError("bargaining_outcomes", "must not be empty")
        for i, outcome in enumerate(settings.bargaining_outcomes):
            _number(f"bargaining_outcomes[{i}]", outcome)
    for option in ("strategy", "fallback_strategy"):
        if raw.get(option) == "resource_partitioning" and settings.available_resources is None:
            problem = f"required when {option} is 'resource_partitioning'"
            raise ConfigError("available_resources", problem)
    return settings


def check_conflicts(conflicts: Sequence[Conflict]) -> list[Conflict]:
    """Refuse a conflict that is not a :class:`Conflict` or breaks its rules."""
    if isinstance(conflicts, (str, bytes)) or not isinstance(conflicts, Sequence):
        raise ConfigError("conflicts", f"must be a sequence of Conflict, got {conflicts!r}")
    checked = []
    for i, conflict in enumerate(conflicts):
        where = f"conflicts[{i}]"
        if not isinstance(conflict, Conflict):
            raise ConfigError(where, f"must be a Conflict, got {type(conflict).__name__}")
        if not isinstance(conflict.variable_id, str) or not conflict.variable_id:
            raise ConfigError(f"{where}.variable_id", "must be a non-empty string")
        agents = conflict.conflicting_agents
        if not agents:
            raise ConfigError(f"{where}.conflicting_agents", "must not be empty")
        for j, agent in enumerate(agents):
            if not isinstance(agent, str) or not agent:
                raise ConfigError(f"{where}.conflicting_agents[{j}]", "must be a non-empty string")
            if agent in agents[:j]:
                raise ConfigError(f"{where}.conflicting_agents[{j}]", f"{agent!r} is listed twice")
        values = conflict.requested_values
        if len(values) != len(agents):
            problem = f"has {len(values)} values for {len(agents)} agents (one per agent)"
            raise ConfigError(f"{where}.requested_values", problem)
        for j, value in enumerate(values):
            if isinstance(value, str):
                continue
            _number(f"{where}.requested_values[{j}]", value, noun="a finite number or a string")
        if conflict.conflict_type not in CONFLICT_TYPES:
            problem = f"invalid value {conflict.conflict_type!r}"
            raise ConfigError(f"{where}.conflict_type", problem, allowed=", ".join(CONFLICT_TYPES))
        checked.append(conflict)
    return checked


def check_agents(agents: Mapping[str, AgentTraits] | None) -> dict[str, AgentTraits]:
    """Refuse traits that are not :class:`AgentTraits` or hold a bad number."""
    if agents is None:
        return {}
    if not isinstance(agents, Mapping):
        raise ConfigError("agents", f"must be a mapping of agent id to AgentTraits, got {agents!r}")
    checked = {}
    for agent, traits in agents.items():
        where = f"agents[{agent!r}]"
        if not isinstance(agent, str) or not agent:
            raise ConfigError(where, "agent ids must be non-empty strings")
        if not isinstance(traits, AgentTraits):
            raise ConfigError(where, f"must be AgentTraits, got {type(traits).__name__}")
        _number(f"{where}.priority", traits.priority)
        for field in ("weight", "urgency", "importance", "resources"):
            _number(f"{where}.{field}", getattr(traits, field), low=0.0)
        if traits.strategy not in EXPONENTS:
            problem = f"invalid value {traits.strategy!r}"
            raise ConfigError(f"{where}.strategy", problem, allowed=", ".join(EXPONENTS))
        _number(f"{where}.reserved", traits.reserved, low=0.0)
        if traits.reserved > 1:
            raise ConfigError(f"{where}.reserved", f"must be <= 1, got {traits.reserved!r}")
        if traits.exponent is not None:
            _number(f"{where}.exponent", traits.exponent, low=0.0, above=True)
        checked[agent] = traits
    return checked


def _number(
    field: str,
    value: Any,
    *,
    low: float | None = None,
    above: bool = False,
    noun: str = "a finite number",
) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and _finite(value)
    if ok and low is not None:
        ok = value > low if above else value >= low
    if not ok:
        bound = "" if low is None else f" {'>' if above else '>='} {low:g}"
        raise ConfigError(field, f"must be {noun}{bound}, got {value!r}")


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False

"""The ``conflict`` scenario kind: resolve the ``[[conflicts]]`` with a strategy and a fallback.

Agents are :class:`ConflictAgent` actors (their traits from the agent tables); the
coordinator resolves the conflicts in order. ``result`` is ``{"resolutions": [...]}``
whether or not every conflict was resolved; if any failed, the outcome is
``unresolved_conflicts`` (exit 1). A negotiated settlement by ``bargaining`` is a
bargaining session among the agents' actors, each with its table's ``strategy``,
``reserved`` and ``exponent``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from ._kind import Kind, Outcome, RunFailure, shared_fields
from ._spec import (
    AgentSpec,
    ConflictStrategy,
    Count,
    NonEmpty,
    NonEmptyStr,
    NonNegative,
    Number,
    Positive,
    _Options,
)

if TYPE_CHECKING:
    from ..protocols.conflict import (
        AgentTraits,
        ConflictAgent,
        ConflictResult,
        ConflictSettings,
        ResolveConflicts,
    )
    from ._load import Rules
    from ._run import ScenarioRun
    from ._schema import Scenario


class ConflictOptions(_Options, frozen=True, kw_only=True, tag="conflict"):
    """``kind = "conflict"``: resolve the ``[[conflicts]]`` with a strategy and a fallback."""

    strategy: ConflictStrategy = "compromise"
    fallback_strategy: ConflictStrategy | None = None
    compromise_method: Literal["simple_average", "median", "weighted_average"] | None = None
    available_resources: NonNegative | None = None  # required by resource_partitioning
    time_slot_duration: Count = 600_000  # ms
    negotiation_type: Literal["auction", "bargaining"] = "auction"
    payment_rule: Literal["first_price", "second_price"] = "first_price"
    base_bid: Positive = 1.0
    leader: NonEmptyStr | None = None  # leader_decision; None: elected by Raft
    bargaining_outcomes: NonEmpty[Number] | None = None  # None: 11 values over the requests

    def _check(self) -> None:
        settings(self)  # the protocol's rules (resource_partitioning needs resources)


def settings(options: ConflictOptions) -> ConflictSettings:
    """The coordinator's settings from the ``[protocol]`` table, checked by the protocol."""
    from ..protocols.conflict import ConflictSettings
    from ..protocols.conflict._api import check_settings

    fields = shared_fields(options, ConflictSettings)
    reply_timeout = options.reply_timeout_ms / 1000.0
    return check_settings({**fields, "reply_timeout": reply_timeout, "notify_agents": True})


def check(rules: Rules, options: ConflictOptions) -> None:
    """At least one conflict; a known leader; bargaining strategies for agents."""
    if not rules.scenario.conflicts:
        rules.fail("conflicts", "kind 'conflict' needs at least one [[conflicts]] table")
    if options.leader is not None:
        rules.agent("protocol.leader", options.leader)
    rules.strategies()


def traits(agent: AgentSpec) -> AgentTraits:
    """An agent table's conflict fields."""
    from ..protocols.conflict import AgentTraits

    return AgentTraits(
        weight=agent.weight,
        priority=agent.priority,
        urgency=agent.urgency,
        importance=agent.importance,
        resources=agent.resources,
        strategy=agent.strategy or "linear",
        reserved=agent.reserved,
        exponent=agent.exponent,
    )


def request(scenario: Scenario) -> ResolveConflicts:
    """The scenario's conflicts, options and agents as one coordinator request."""
    from ..protocols.conflict import Conflict, ResolveConflicts

    options = scenario.protocol
    assert isinstance(options, ConflictOptions)
    conflicts = [
        Conflict(
            variable_id=c.variable_id,
            conflicting_agents=list(c.conflicting_agents),
            requested_values=list(c.requested_values),
            conflict_type=c.conflict_type,
        )
        for c in scenario.conflicts
    ]
    agents = {agent.id: traits(agent) for agent in scenario.agents}
    return ResolveConflicts(conflicts=conflicts, settings=settings(options), agents=agents)


def _agent(agent: AgentSpec) -> tuple[type[ConflictAgent], tuple[Any, ...], dict[str, Any]]:
    from ..protocols.conflict import ConflictAgent

    return ConflictAgent, (agent.id, traits(agent)), {}


async def drive(run: ScenarioRun) -> Outcome:
    """Spawn the agents and the coordinator, start the faults, resolve, report."""
    from ..protocols.conflict import ConflictCoordinator, FailedResolution

    await run.spawn_agents()

    def auction_node(name: str) -> None:
        run.network.add_node(name, exempt=True)

    def leader_view(leader: Callable[[], str | None]) -> None:
        run.leader = leader  # "@leader": the agent whose Raft node leads an election now

    coordinator = await run.spawn_coordinator(
        ConflictCoordinator,
        auction_node=auction_node,
        seed=run.rng.getrandbits(64),
        leader_view=leader_view,
    )
    await run.start_faults()
    result: ConflictResult = await coordinator.ask(request(run.scenario), timeout=None)
    outcome = {"resolutions": result.resolutions}
    if result.ok:
        return Outcome(ok=True, result=outcome)
    failed = [r for r in result.resolutions if isinstance(r, FailedResolution)]
    listing = ", ".join(f"{r.variable_id} ({r.error})" for r in failed)
    message = f"{len(failed)} of {len(result.resolutions)} conflicts unresolved: {listing}"
    error = RunFailure(code="unresolved_conflicts", message=message)
    return Outcome(ok=False, result=outcome, error=error)


KIND = Kind(options=ConflictOptions, drive=drive, agent=_agent, check=check)
"""``kind = "conflict"``."""

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
from typing import Any

from ..protocols.conflict import (
    AgentTraits,
    Conflict,
    ConflictAgent,
    ConflictCoordinator,
    ConflictResult,
    ConflictSettings,
    FailedResolution,
    ResolveConflicts,
)
from ._run import Outcome, RunError, ScenarioRun, register_protocol
from ._schema import AgentSpec, ConflictOptions, Scenario


def traits(agent: AgentSpec) -> AgentTraits:
    """An agent table's conflict fields."""
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
    options = scenario.protocol
    assert isinstance(options, ConflictOptions)
    settings = ConflictSettings(
        strategy=options.strategy,
        fallback_strategy=options.fallback_strategy,
        compromise_method=options.compromise_method,
        available_resources=options.available_resources,
        time_slot_duration=options.time_slot_duration,
        negotiation_type=options.negotiation_type,
        payment_rule=options.payment_rule,
        base_bid=options.base_bid,
        leader=options.leader,
        bargaining_outcomes=options.bargaining_outcomes,
        reply_timeout=options.reply_timeout_ms / 1000.0,
        notify_agents=True,
    )
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
    return ResolveConflicts(conflicts=conflicts, settings=settings, agents=agents)


def _agent(agent: AgentSpec) -> tuple[type[ConflictAgent], tuple[Any, ...], dict[str, Any]]:
    return ConflictAgent, (agent.id, traits(agent)), {}


async def drive(run: ScenarioRun) -> Outcome:
    """Spawn the agents and the coordinator, start the faults, resolve, report."""
    await run.spawn_agents(_agent)

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
    error = RunError(code="unresolved_conflicts", message=message)
    return Outcome(ok=False, result=outcome, error=error)


def register() -> None:
    """Make ``kind = "conflict"`` runnable."""
    register_protocol("conflict", drive)

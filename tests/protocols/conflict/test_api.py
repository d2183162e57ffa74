"""``resolve_conflicts`` from application code: results, fallbacks, failures, bad arguments."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from structlog.testing import capture_logs

from mabeam import ActorSystem, ConfigError
from mabeam.protocols.conflict import (
    AgentTraits,
    Conflict,
    FailedResolution,
    LeaderDecision,
    PriorityOverride,
    ResourcePartitioning,
    TimeSharing,
    ValueCompromise,
    resolve_conflicts,
)
from mabeam.protocols.conflict import strategies as core

pytestmark = pytest.mark.virtual_time

TEMPERATURE = Conflict(
    variable_id="temperature",
    conflicting_agents=["coder", "creative_writer"],
    requested_values=[0.1, 1.5],
)
STYLE = Conflict(
    variable_id="style",
    conflicting_agents=["coder", "creative_writer"],
    requested_values=["terse", "florid"],
)


async def test_compromise_resolves_the_documented_example() -> None:
    """[0.1, 1.5] → weighted_average 0.8, ok, as plain msgspec Structs."""
    async with ActorSystem() as system:
        result = await resolve_conflicts(system, [TEMPERATURE], strategy="compromise")
    assert result.ok
    assert result.error is None
    (resolution,) = result.resolutions
    assert isinstance(resolution, ValueCompromise)
    assert (resolution.resolved_value, resolution.compromise_method) == (0.8, "weighted_average")
    assert msgspec.to_builtins(result) == {
        "resolutions": [
            {
                "resolution_type": "compromise",
                "variable_id": "temperature",
                "affected_agents": ["coder", "creative_writer"],
                "strategy": "compromise",
                "resolved_value": 0.8,
                "compromise_method": "weighted_average",
            }
        ],
        "ok": True,
        "error": None,
    }


async def test_fallback_runs_when_the_strategy_fails() -> None:
    """compromise cannot average labels; priority_override, the fallback, resolves it."""
    agents = {"creative_writer": AgentTraits(priority=2)}
    async with ActorSystem() as system:
        result = await resolve_conflicts(
            system,
            [STYLE],
            strategy="compromise",
            fallback_strategy="priority_override",
            agents=agents,
        )
    assert result.ok
    (resolution,) = result.resolutions
    assert isinstance(resolution, PriorityOverride)
    assert (resolution.winning_agent, resolution.resolved_value) == ("creative_writer", "florid")
    assert resolution.strategy == "priority_override"
    assert [(f.strategy, f.error) for f in resolution.failures] == [
        ("compromise", "non_numeric_values")
    ]


async def test_a_failing_conflict_does_not_stop_the_others() -> None:
    """Strategy and fallback both fail on one conflict: it is failed, the others resolve."""
    async with ActorSystem() as system:
        result = await resolve_conflicts(
            system,
            [TEMPERATURE, STYLE, TEMPERATURE],
            strategy="compromise",
            fallback_strategy="leader_decision",
        )
    assert not result.ok
    assert result.error == "unresolved_conflicts"
    assert result.unresolved == ["style"]
    first, failed, third = result.resolutions
    assert isinstance(first, ValueCompromise)
    assert isinstance(third, ValueCompromise)
    assert isinstance(failed, FailedResolution)
    assert failed.error == "no_leader"
    assert failed.strategy == "leader_decision"
    assert [f.error for f in failed.failures] == ["non_numeric_values", "no_leader"]


async def test_an_exception_in_a_strategy_fails_only_its_conflict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A strategy that raises is that conflict's failure (strategy_crashed), logged."""
    real = core.resolve

    def flaky(strategy: Any, conflict: Conflict, *args: Any) -> Any:
        if conflict.variable_id == "style":
            raise ZeroDivisionError("boom")
        return real(strategy, conflict, *args)

    monkeypatch.setattr(core, "resolve", flaky)
    async with ActorSystem() as system:
        with capture_logs() as logs:
            result = await resolve_conflicts(system, [STYLE, TEMPERATURE], strategy="time_sharing")
    failed, resolved = result.resolutions
    assert isinstance(failed, FailedResolution)
    assert failed.error == "strategy_crashed"
    assert "ZeroDivisionError" in failed.message
    assert isinstance(resolved, TimeSharing)
    events = [e["event"] for e in logs]
    assert "conflict_strategy_crashed" in events
    assert "conflict_unresolved" in events
    assert "conflict_resolved" in events


async def test_leader_option_decides() -> None:
    """leader_decision with the leader option: the leader's value."""
    async with ActorSystem() as system:
        result = await resolve_conflicts(
            system, [STYLE], strategy="leader_decision", leader="coder"
        )
    (resolution,) = result.resolutions
    assert isinstance(resolution, LeaderDecision)
    assert (resolution.leader, resolution.resolved_value) == ("coder", "terse")


async def test_bargaining_without_agent_actors_fails_over() -> None:
    """negotiated_settlement by bargaining among agents with no actors: nobody answers, so
    no_agreement after the deadline; the fallback runs."""
    async with ActorSystem() as system:
        result = await resolve_conflicts(
            system,
            [TEMPERATURE],
            strategy="negotiated_settlement",
            fallback_strategy="compromise",
            negotiation_type="bargaining",
            bargaining_outcomes=[0, 0.5, 1.5],
        )
    (resolution,) = result.resolutions
    assert isinstance(resolution, ValueCompromise)
    assert resolution.failures[0].error == "no_agreement"


async def test_partitioning_with_available_resources() -> None:
    """Options pass through: available_resources reaches resource_partitioning."""
    cpu = Conflict(
        variable_id="cpu",
        conflicting_agents=["a", "b"],
        requested_values=[3, 1],
        conflict_type="resource_competition",
    )
    async with ActorSystem() as system:
        result = await resolve_conflicts(
            system, [cpu], strategy="resource_partitioning", available_resources=2
        )
    (resolution,) = result.resolutions
    assert isinstance(resolution, ResourcePartitioning)
    assert [(r.start, r.end) for r in resolution.allocations] == [(0.0, 1.5), (1.5, 2.0)]


async def test_no_conflicts_is_ok() -> None:
    """An empty batch resolves to an empty, ok result."""
    async with ActorSystem() as system:
        result = await resolve_conflicts(system, [])
    assert result.ok
    assert result.resolutions == []


def _conflict(**changes: Any) -> Conflict:
    return msgspec.structs.replace(TEMPERATURE, **changes)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param({"strategy": "vote"}, "strategy", id="strategy"),
        pytest.param({"fallback_strategy": "coin"}, "fallback_strategy", id="fallback"),
        pytest.param({"compromise_method": "mode"}, "compromise_method", id="method"),
        pytest.param({"negotiation_type": "war"}, "negotiation_type", id="negotiation"),
        pytest.param({"payment_rule": "vcg"}, "payment_rule", id="payment-rule"),
        pytest.param({"temperature": 1}, "temperature", id="unknown-option"),
        pytest.param({"available_resources": -1}, "available_resources", id="negative"),
        pytest.param({"available_resources": "lots"}, "available_resources", id="type"),
        pytest.param({"time_slot_duration": 0}, "time_slot_duration", id="slot"),
        pytest.param({"base_bid": 0}, "base_bid", id="base-bid"),
        pytest.param({"base_bid": float("inf")}, "base_bid", id="base-bid-inf"),
        pytest.param({"reply_timeout": -1.0}, "reply_timeout", id="timeout"),
        pytest.param({"leader": ""}, "leader", id="leader"),
        pytest.param({"bargaining_outcomes": []}, "bargaining_outcomes", id="outcomes"),
        pytest.param(
            {"bargaining_outcomes": [1, float("nan")]}, "bargaining_outcomes[1]", id="nan"
        ),
        pytest.param(
            {"strategy": "resource_partitioning"}, "available_resources", id="partitioning"
        ),
        pytest.param(
            {"fallback_strategy": "resource_partitioning"},
            "available_resources",
            id="partitioning-fallback",
        ),
        pytest.param({"conflicts": "abc"}, "conflicts", id="conflicts-str"),
        pytest.param({"conflicts": [{"variable_id": "v"}]}, "conflicts[0]", id="not-conflict"),
        pytest.param(
            {"conflicts": [_conflict(variable_id="")]}, "conflicts[0].variable_id", id="no-var"
        ),
        pytest.param(
            {"conflicts": [_conflict(conflicting_agents=[], requested_values=[])]},
            "conflicts[0].conflicting_agents",
            id="no-agents",
        ),
        pytest.param(
            {"conflicts": [_conflict(conflicting_agents=["a", "a"])]},
            "conflicts[0].conflicting_agents[1]",
            id="twice",
        ),
        pytest.param(
            {"conflicts": [_conflict(conflicting_agents=["a", ""])]},
            "conflicts[0].conflicting_agents[1]",
            id="empty-agent",
        ),
        pytest.param(
            {"conflicts": [_conflict(requested_values=[1.0])]},
            "conflicts[0].requested_values",
            id="count",
        ),
        pytest.param(
            {"conflicts": [_conflict(requested_values=[1.0, float("inf")])]},
            "conflicts[0].requested_values[1]",
            id="inf-value",
        ),
        pytest.param(
            {"conflicts": [_conflict(requested_values=[1.0, 10**400])]},
            "conflicts[0].requested_values[1]",
            id="huge-value",
        ),
        pytest.param(
            {"conflicts": [_conflict(requested_values=[1.0, None])]},
            "conflicts[0].requested_values[1]",
            id="none-value",
        ),
        pytest.param(
            {"conflicts": [_conflict(conflict_type="war")]},
            "conflicts[0].conflict_type",
            id="type",
        ),
        pytest.param({"agents": ["coder"]}, "agents", id="agents-list"),
        pytest.param({"agents": {"coder": {"weight": 2}}}, "agents['coder']", id="not-traits"),
        pytest.param({"agents": {"": AgentTraits()}}, "agents['']", id="empty-id"),
        pytest.param(
            {"agents": {"coder": AgentTraits(weight=-1)}}, "agents['coder'].weight", id="weight"
        ),
        pytest.param(
            {"agents": {"coder": AgentTraits(priority=float("nan"))}},
            "agents['coder'].priority",
            id="priority",
        ),
    ],
)
async def test_invalid_arguments_raise_config_error_naming_them(
    kwargs: dict[str, Any], field: str
) -> None:
    """Bad input is a ConfigError (a ValueError) naming the argument; no actor is spawned."""
    arguments: dict[str, Any] = {"conflicts": [TEMPERATURE], **kwargs}
    async with ActorSystem() as system:
        before = system.actor_count
        with pytest.raises(ConfigError) as error:
            await resolve_conflicts(system, **arguments)
        assert system.actor_count == before
    assert error.value.field == field
    assert isinstance(error.value, ValueError)

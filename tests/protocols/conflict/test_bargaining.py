"""negotiated_settlement by bargaining: the set-up rules, the agents' part, the outcomes."""

from __future__ import annotations

from typing import Any

import pytest

from mabeam import ActorSystem, ConfigError
from mabeam.protocols.bargaining import Appraisal, Appraise, BargainingResult, TakeTurn, TurnTaken
from mabeam.protocols.bargaining.strategies import Utility
from mabeam.protocols.conflict import (
    AgentTraits,
    Conflict,
    ConflictAgent,
    FailedResolution,
    NegotiatedBargain,
    resolve_conflicts,
)
from mabeam.protocols.conflict import strategies as core
from mabeam.protocols.conflict.messages import BargainingJoined, JoinBargaining
from mabeam.protocols.conflict.resolutions import Failure
from mabeam.scenario import parse_scenario, run_scenario

PRICE = Conflict(
    variable_id="price",
    conflicting_agents=["seller", "buyer"],
    requested_values=[10, 0],
)


def test_default_outcomes_are_eleven_evenly_spaced_values() -> None:
    """From the smallest to the largest request, 11 values; given outcomes are sorted."""
    assert core.bargaining_outcomes([10.0, 0.0], None) == [float(v) for v in range(11)]
    assert core.bargaining_outcomes([0.1, 1.2, 0.5], None)[:3] == [0.1, 0.21, 0.32]
    assert core.bargaining_outcomes([0.0, 1.0], [1, 0.5, 0]) == [0, 0.5, 1]
    assert core.bargaining_outcomes([2.0, 2.0], None) == [2.0]
    tiny = core.bargaining_outcomes([0.0, 1e-12], None)
    assert len(tiny) == 11  # not merged by rounding


def test_utilities_ideal_at_own_request_worst_at_the_farthest() -> None:
    """Ties between two farthest requests go to the smaller; labels cannot bargain."""
    conflict = Conflict(
        variable_id="t", conflicting_agents=["a", "b", "c"], requested_values=[0, 5, 10]
    )
    utilities = core.bargaining_utilities(conflict)
    assert utilities == {
        "a": Utility(ideal=0.0, worst=10.0),
        "b": Utility(ideal=5.0, worst=0.0),
        "c": Utility(ideal=10.0, worst=0.0),
    }
    labels = Conflict(variable_id="s", conflicting_agents=["a"], requested_values=["x"])
    failure = core.bargaining_utilities(labels)
    assert isinstance(failure, Failure)
    assert failure.code == "non_numeric_values"


def test_settle_bargain() -> None:
    """An agreement is the resolved value; none is a no_agreement failure."""
    agreed = BargainingResult(
        agreement=True,
        offers=11,
        steps=6,
        agreed_value=5.0,
        step=5,
        satisfaction_scores={"seller": 0.5, "buyer": 0.5},
        concessions={"seller": 0.5, "buyer": 0.5},
        nash_value=5.0,
        pareto_optimal=True,
    )
    resolution = core.settle_bargain(PRICE, agreed)
    assert isinstance(resolution, NegotiatedBargain)
    assert (resolution.resolved_value, resolution.step, resolution.offers) == (5.0, 5, 11)
    none = BargainingResult(agreement=False, offers=3, steps=100, error="no_agreement")
    failure = core.settle_bargain(PRICE, none)
    assert isinstance(failure, Failure)
    assert (failure.code, failure.message) == (
        "no_agreement",
        "no agreement after 100 steps (3 offers)",
    )


@pytest.mark.virtual_time
async def test_agents_bargain_with_their_own_strategies() -> None:
    """Seller boulware, buyer conceder (traits): the documented 8, agreed in step 7 — here
    over 100 steps, so the numbers are the session's own."""
    async with ActorSystem() as system:
        traits = {
            "seller": AgentTraits(strategy="boulware"),
            "buyer": AgentTraits(strategy="conceder"),
        }
        for agent, trait in traits.items():
            await system.spawn(ConflictAgent, agent, trait, name=agent)
        result = await resolve_conflicts(
            system,
            [PRICE],
            strategy="negotiated_settlement",
            negotiation_type="bargaining",
            agents=traits,
        )
        again = await resolve_conflicts(
            system, [PRICE], strategy="negotiated_settlement", negotiation_type="bargaining"
        )
    (resolution,) = result.resolutions
    assert isinstance(resolution, NegotiatedBargain)
    assert isinstance(resolution.resolved_value, float)
    assert resolution.resolved_value > 5  # the boulware seller concedes less
    assert resolution.satisfaction_scores["seller"] > resolution.satisfaction_scores["buyer"]
    (even,) = again.resolutions
    assert isinstance(even, NegotiatedBargain)
    # Traits are the agents' own (spawned with them): the same result as before.
    assert even.resolved_value == resolution.resolved_value


@pytest.mark.virtual_time
async def test_linear_agents_meet_in_the_middle() -> None:
    """Two linear agents over 0..10 agree on 5, the Nash point, Pareto optimal."""
    async with ActorSystem() as system:
        for agent in ("seller", "buyer"):
            await system.spawn(ConflictAgent, agent, name=agent)
        result = await resolve_conflicts(
            system, [PRICE], strategy="negotiated_settlement", negotiation_type="bargaining"
        )
    (resolution,) = result.resolutions
    assert isinstance(resolution, NegotiatedBargain)
    assert (resolution.resolved_value, resolution.nash_value) == (5.0, 5.0)
    assert resolution.pareto_optimal is True
    assert resolution.affected_agents == ["seller", "buyer"]


@pytest.mark.virtual_time
async def test_labels_fail_over_and_unknown_sessions_are_silent() -> None:
    """Non-numeric requests cannot bargain; an agent not told of a session stays silent."""
    async with ActorSystem() as system:
        agent = await system.spawn(ConflictAgent, "a", name="a")
        labels = Conflict(variable_id="s", conflicting_agents=["a"], requested_values=["x"])
        result = await resolve_conflicts(
            system, [labels], strategy="negotiated_settlement", negotiation_type="bargaining"
        )
        turn = await agent.ask(TakeTurn(session="nope", step=3, t=0.5, offer=1))
        appraisal = await agent.ask(Appraise(session="nope", outcomes=[1]))
        joined = await agent.ask(
            JoinBargaining(
                variable_id="v", session="s1", utility=Utility(ideal=1, worst=0), outcomes=[0, 1]
            )
        )
        told = await agent.ask(Appraise(session="s1", outcomes=[0, 1]))
    (failed,) = result.resolutions
    assert isinstance(failed, FailedResolution)
    assert failed.error == "non_numeric_values"
    assert turn == TurnTaken(step=3)
    assert appraisal == Appraisal(utilities=None)
    assert joined == BargainingJoined(agent="a", session="s1")
    assert told == Appraisal(utilities=[0.0, 1.0], reserved=0.0)


@pytest.mark.parametrize(
    ("traits", "field"),
    [
        pytest.param(AgentTraits(strategy="stubborn"), "agents['a'].strategy", id="strategy"),
        pytest.param(AgentTraits(reserved=1.5), "agents['a'].reserved", id="reserved-high"),
        pytest.param(AgentTraits(reserved=-0.1), "agents['a'].reserved", id="reserved-low"),
        pytest.param(AgentTraits(exponent=0.0), "agents['a'].exponent", id="exponent"),
    ],
)
async def test_bad_bargaining_traits_are_refused(traits: AgentTraits, field: str) -> None:
    """A ConfigError names the agent's field."""
    async with ActorSystem() as system:
        with pytest.raises(ConfigError) as error:
            await resolve_conflicts(system, [PRICE], agents={"a": traits})
    assert error.value.field == field


def _scenario(extra: str) -> Any:
    document = f"""
name = "bargained"
seed = 2
[protocol]
kind = "conflict"
strategy = "negotiated_settlement"
negotiation_type = "bargaining"
{extra}
[[agents]]
id = "seller"
strategy = "boulware"
[[agents]]
id = "buyer"
strategy = "conceder"
[[conflicts]]
variable_id = "price"
conflicting_agents = ["seller", "buyer"]
requested_values = [10, 0]
"""
    parsed = parse_scenario(document.encode(), path="t.toml", fmt="toml")
    return run_scenario(parsed, path="t.toml")


def test_scenario_agents_bargain_with_their_tables_strategies() -> None:
    """The agents' ``strategy`` fields reach their actors; same seed, same result."""
    report, network = _scenario("bargaining_outcomes = [0, 2, 4, 6, 8, 10]")
    again, _ = _scenario("bargaining_outcomes = [0, 2, 4, 6, 8, 10]")
    assert report.ok
    (resolution,) = report.result["resolutions"]
    assert resolution["resolution_type"] == "negotiated_bargaining"
    assert resolution["resolved_value"] in (6, 8)
    assert report.result == again.result
    mediators = {e.src for e in network.trace.events() if e.type == "TakeTurn"}
    assert mediators == {"coordinator.bargaining-1"}


def test_scenario_with_an_agent_down_fails_over() -> None:
    """A conflicting agent crashed from the start never accepts: no_agreement, then the
    fallback (here none: the conflict is unresolved, exit 1)."""
    report, _ = _scenario('[[faults]]\nat_ms = 0\ncrash = "buyer"')
    assert not report.ok
    (resolution,) = report.result["resolutions"]
    assert (resolution["resolution_type"], resolution["error"]) == ("failed", "no_agreement")

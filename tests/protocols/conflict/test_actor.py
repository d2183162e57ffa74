"""The actors from application code: agents bid, are told outcomes, forget when restarted."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from mabeam import ActorSystem, ConfigError
from mabeam.protocols.auction import Bid, CallForBids, Decline
from mabeam.protocols.conflict import (
    AgentTraits,
    Conflict,
    ConflictAgent,
    ConflictCoordinator,
    ConflictSettings,
    FailedResolution,
    LeaderDecision,
    NegotiatedAuction,
    OutcomeOf,
    ResolveConflicts,
    TimeSharing,
    ValueCompromise,
    resolve_conflicts,
)
from mabeam.protocols.conflict.messages import (
    ConflictResolved,
    ElectionJoined,
    JoinElection,
    JoinNegotiation,
    ResolutionNoted,
)
from mabeam.sim import DROP, SimNetwork

pytestmark = pytest.mark.virtual_time

TRAITS = {
    "coder": AgentTraits(urgency=2.0),
    "creative_writer": AgentTraits(importance=1.5),
    "reviewer": AgentTraits(resources=0.5),
}
TEMPERATURE = Conflict(
    variable_id="temperature",
    conflicting_agents=["coder", "creative_writer", "reviewer"],
    requested_values=[0.1, 1.2, 0.5],
)


async def spawn_agents(system: ActorSystem) -> None:
    for agent, traits in TRAITS.items():
        await system.spawn(ConflictAgent, agent, traits, name=agent)


async def test_negotiated_settlement_among_application_agents() -> None:
    """Agents spawned by the application bid base_bid · urgency · importance · resources."""
    async with ActorSystem() as system:
        await spawn_agents(system)
        result = await resolve_conflicts(
            system, [TEMPERATURE], strategy="negotiated_settlement", agents=TRAITS, base_bid=1.0
        )
    (resolution,) = result.resolutions
    assert isinstance(resolution, NegotiatedAuction)
    assert (resolution.winning_agent, resolution.resolved_value) == ("coder", 0.1)
    assert resolution.payment == 2.0
    assert resolution.bids_received == 3


async def test_without_agent_actors_the_auction_has_no_bids() -> None:
    """No actor under the agents' ids: no bids, the conflict fails with no_bids."""
    async with ActorSystem() as system:
        result = await resolve_conflicts(
            system, [TEMPERATURE], strategy="negotiated_settlement", reply_timeout=0.05
        )
    (resolution,) = result.resolutions
    assert isinstance(resolution, FailedResolution)
    assert resolution.error == "no_bids"
    assert not result.ok


async def test_agents_are_told_the_outcome_when_asked_to() -> None:
    """notify_agents: each affected agent notes the resolution for the variable."""
    async with ActorSystem() as system:
        await spawn_agents(system)
        result = await resolve_conflicts(system, [TEMPERATURE], notify_agents=True)
        for agent in TRAITS:
            ref = system.whereis(agent)
            assert ref is not None
            assert await ref.ask(OutcomeOf(variable_id="temperature")) == result.resolutions[0]
            assert await ref.ask(OutcomeOf(variable_id="top_p")) is None
            # An agent answers a call for bids with what it was last told to ask for: none.
            assert isinstance(
                await ref.ask(CallForBids(auction_id="x", variable="temperature")), Decline
            )
    (resolution,) = result.resolutions
    assert isinstance(resolution, ValueCompromise)


async def test_agent_bids_only_for_what_it_joined() -> None:
    """A call for bids on a variable it was not told about is declined; else it bids."""
    agent = ConflictAgent("coder", AgentTraits(urgency=2.0, resources=3.0))
    async with ActorSystem() as system:
        ref = await system.spawn(ConflictAgent, "coder", AgentTraits(urgency=2.0, resources=3.0))
        assert isinstance(await ref.ask(CallForBids(auction_id="a", variable="t")), Decline)
        assert isinstance(await ref.ask(CallForBids(auction_id="a", variable=None)), Decline)
        await ref.ask(JoinNegotiation(variable_id="t", value=0.3, base_bid=0.5))
        assert await ref.ask(CallForBids(auction_id="a", variable="t")) == Bid(
            amount=3.0, value=0.3
        )
        outcome = FailedResolution(
            variable_id="t", affected_agents=["coder"], strategy="x", error="e", message="m"
        )
        noted = await ref.ask(ConflictResolved(resolution=outcome))
        assert noted == ResolutionNoted(agent="coder", variable_id="t")
        assert await ref.ask(OutcomeOf(variable_id="t")) == outcome
        # A second negotiation over the variable replaces the first.
        await ref.ask(JoinNegotiation(variable_id="t", value="hot", base_bid=1.0))
        assert await ref.ask(CallForBids(auction_id="b", variable="t")) == Bid(
            amount=6.0, value="hot"
        )
    assert agent.bid_amount(2.0) == 12.0


async def test_agent_refuses_unknown_messages() -> None:
    """Anything else crashes the agent, as a bug should."""
    async with ActorSystem() as system:
        ref = await system.spawn(ConflictAgent, "a")
        with pytest.raises(Exception, match="unexpected message"):
            await ref.ask("hello")


async def test_a_lost_auction_result_fails_the_strategy_instead_of_hanging() -> None:
    """An auctioneer whose every message is lost: auction_lost after 3 reply timeouts."""
    network = SimNetwork(seed=1)
    async with ActorSystem(transport=network) as system:
        await spawn_agents(system)
        for agent in TRAITS:
            network.add_node(agent)
        network.add_node("coordinator")

        def silence(name: str) -> None:
            network.add_node(name, exempt=True)
            network.intercept(name, lambda payload, receiver: DROP)

        coordinator = await system.spawn(
            ConflictCoordinator, auction_node=silence, name="coordinator"
        )
        settings = ConflictSettings(
            strategy="negotiated_settlement", fallback_strategy="time_sharing", reply_timeout=0.1
        )
        start = system.time()
        result = await coordinator.ask(
            ResolveConflicts(conflicts=[TEMPERATURE], settings=settings), timeout=None
        )
        elapsed = system.time() - start
    (resolution,) = result.resolutions
    assert isinstance(resolution, TimeSharing)
    assert resolution.failures[0].error == "auction_lost"
    assert 0.3 <= elapsed < 0.4


async def test_coordinator_refuses_unknown_messages() -> None:
    """The coordinator only resolves conflicts."""
    async with ActorSystem() as system:
        ref = await system.spawn(ConflictCoordinator)
        with pytest.raises(Exception, match="unexpected message"):
            await ref.ask("hello")


async def test_leader_decision_elects_a_leader_among_application_agents() -> None:
    """Without the leader option, the agents' Raft nodes elect one; its request stands."""
    async with ActorSystem() as system:
        await spawn_agents(system)
        before = system.actor_count
        with capture_logs() as logs:
            result = await resolve_conflicts(
                system, [TEMPERATURE], strategy="leader_decision", seed="s"
            )
        assert [e for e in logs if e["event"] == "conflict_leader_elected"]
        # The coordinator, Raft nodes, their supervisor and the client are gone again.
        assert system.actor_count == before
    (resolution,) = result.resolutions
    assert isinstance(resolution, LeaderDecision)
    values = dict(zip(TEMPERATURE.conflicting_agents, TEMPERATURE.requested_values, strict=True))
    assert resolution.resolved_value == values[resolution.leader]


async def test_an_agent_answers_an_election_call() -> None:
    """JoinElection: the agent says it takes part."""
    async with ActorSystem() as system:
        ref = await system.spawn(ConflictAgent, "coder")
        assert await ref.ask(JoinElection(variable_id="t")) == ElectionJoined(
            agent="coder", variable_id="t"
        )


async def test_the_seed_must_be_an_int_or_a_string() -> None:
    """resolve_conflicts refuses another seed with a ConfigError naming it."""
    async with ActorSystem() as system:
        with pytest.raises(ConfigError) as error:
            await resolve_conflicts(system, [TEMPERATURE], seed=1.5)  # type: ignore[arg-type]
    assert error.value.field == "seed"


async def test_an_election_without_a_leader_in_time_is_no_leader() -> None:
    """Every agent takes part but the Raft nodes' messages are all lost: no leader within
    the bound (3 virtual seconds), no_leader, and the fallback resolves."""
    network = SimNetwork(seed=1)
    async with ActorSystem(transport=network) as system:
        await spawn_agents(system)
        for agent in TRAITS:
            network.add_node(agent)
        network.add_node("coordinator")

        def silence_raft(name: str) -> None:
            network.add_node(name, exempt=True)
            if ".raft-" in name:
                network.intercept(name, lambda payload, receiver: DROP)

        coordinator = await system.spawn(
            ConflictCoordinator, auction_node=silence_raft, name="coordinator"
        )
        settings = ConflictSettings(
            strategy="leader_decision", fallback_strategy="time_sharing", reply_timeout=0.1
        )
        start = system.time()
        result = await coordinator.ask(
            ResolveConflicts(conflicts=[TEMPERATURE], settings=settings), timeout=None
        )
        elapsed = system.time() - start
    (resolution,) = result.resolutions
    assert isinstance(resolution, TimeSharing)
    (failure,) = resolution.failures
    assert (failure.error, failure.message) == ("no_leader", "no Raft leader within 3s")
    assert 3.0 <= elapsed < 3.2

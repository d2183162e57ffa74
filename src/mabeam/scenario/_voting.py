"""``algorithm`` ``simple_majority``, ``weighted_voting``, ``unanimous`` of the consensus kind.

Each agent is a :class:`~mabeam.protocols.consensus.voting_actor.Voter`; the coordinator
asks each for its ballot within ``reply_timeout_ms`` and counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..protocols.consensus.voting import VotingOutcome
from ..protocols.consensus.voting_actor import RunVote, Voter, VotingCoordinator
from ._kind import Outcome, RunFailure
from ._spec import AgentSpec

if TYPE_CHECKING:
    from ._consensus import ConsensusOptions
    from ._run import ScenarioRun


def _voter(agent: AgentSpec) -> tuple[type[Voter], tuple[Any, ...], dict[str, Any]]:
    return Voter, (agent.id, agent.vote), {}


async def drive(run: ScenarioRun) -> Outcome:
    """Spawn the voters and the coordinator, start the faults, count the ballots."""
    options: ConsensusOptions = run.options
    await run.spawn_agents(_voter)
    weights = {agent.id: agent.weight for agent in run.scenario.agents}
    weights.update(options.weights or {})
    coordinator = await run.spawn_coordinator(
        VotingCoordinator,
        run.agent_ids,
        options.proposals,
        options.algorithm,
        options.reply_timeout_ms / 1000.0,
        weights,
    )
    await run.start_faults()
    outcome: VotingOutcome = await coordinator.ask(RunVote(), timeout=None)
    if outcome.error is not None:
        error = RunFailure(outcome.error.code, outcome.error.message, outcome.error.details)
        return Outcome(ok=False, error=error)
    return Outcome(ok=True, result=outcome.result)

"""Voting as messages: a coordinator asks each voter actor for its ballot, then counts.

The coordinator asks every voter concurrently, each ask bounded by ``reply_timeout``
(seconds). A voter that crashed, is partitioned, or answers too late does not vote but
stays eligible (n counts it). The counting is :func:`~.rules.count_votes`.

Library use::

    outcome = await run_vote(system, ["a", "b", "c"], [0.7, 0.9])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from ....runtime import Actor, ActorSystem
from ..._asking import ask_agents
from .rules import VotingOutcome, count_votes

__all__ = ["Ballot", "CallForVote", "RunVote", "Voter", "VotingCoordinator", "run_vote"]


class CallForVote(msgspec.Struct, frozen=True, tag=True):
    """Coordinator -> voter: vote on ``proposals`` (answer with a :class:`Ballot`)."""

    proposals: list[Any]


class Ballot(msgspec.Struct, frozen=True, tag=True):
    """Voter -> coordinator: ``vote`` is an index into the proposals, None abstains."""

    agent: str
    vote: int | None


class RunVote(msgspec.Struct, frozen=True, tag=True):
    """Application -> coordinator: hold the vote now; the answer is a VotingOutcome."""


class Voter(Actor):
    """An agent with a fixed ``vote`` (an index into the proposals, or None to abstain)."""

    def __init__(self, agent_id: str, vote: int | None) -> None:
        self.agent_id = agent_id
        self.vote = vote

    async def receive(self, message: Any) -> Any:
        if isinstance(message, CallForVote):
            return Ballot(agent=self.agent_id, vote=self.vote)
        raise TypeError(f"unexpected message {type(message).__name__}")


class VotingCoordinator(Actor):
    """Collects one ballot per voter (found by name) within the reply timeout and counts."""

    def __init__(
        self,
        voters: Sequence[str],
        proposals: Sequence[Any],
        algorithm: str,
        reply_timeout: float,
        weights: Mapping[str, float] | None = None,
    ) -> None:
        self.voters = list(voters)
        self.proposals = list(proposals)
        self.algorithm = algorithm
        self.reply_timeout = reply_timeout
        self.weights = dict(weights or {})

    async def receive(self, message: Any) -> Any:
        if not isinstance(message, RunVote):
            raise TypeError(f"unexpected message {type(message).__name__}")
        call = CallForVote(self.proposals)
        ballots = await ask_agents(self.context, self.voters, call, self.reply_timeout)
        votes = {v: self._vote(v, b) for v, b in zip(self.voters, ballots, strict=True)}
        outcome = count_votes(
            self.algorithm, self.proposals, self.voters, votes, weights=self.weights
        )
        log = self.context.log
        if outcome.result is not None:
            log.info(
                "vote_decided",
                algorithm=self.algorithm,
                proposal=outcome.result.proposal,
                vote_count=outcome.result.vote_count,
                total_voters=len(self.voters),
            )
        else:
            assert outcome.error is not None
            log.info("vote_failed", algorithm=self.algorithm, code=outcome.error.code)
        return outcome

    def _vote(self, voter: str, ballot: Any) -> int | None:
        if not isinstance(ballot, Ballot) or ballot.agent != voter:
            # No answer, or a tampered or foreign one, is no vote.
            return None
        return ballot.vote


async def run_vote(
    system: ActorSystem,
    voters: Sequence[str],
    proposals: Sequence[Any],
    *,
    algorithm: str = "simple_majority",
    weights: Mapping[str, float] | None = None,
    reply_timeout: float = 1.0,
) -> VotingOutcome:
    """Hold one vote among the running voter actors registered under ``voters``.

    Bad input (an unknown rule, no proposals, no voters, a bad weight) raises
    :class:`~mabeam.ConfigError` before anything is spawned.
    """
    count_votes(algorithm, proposals, voters, {}, weights=weights)
    coordinator = await system.spawn(
        VotingCoordinator, voters, proposals, algorithm, reply_timeout, weights
    )
    try:
        outcome: VotingOutcome = await coordinator.ask(RunVote(), timeout=None)
    finally:
        await coordinator.stop()
    return outcome

"""Voting: the pure counting rules (:mod:`.rules`) and the actors that hold a vote (:mod:`.actor`).

:func:`count_votes` counts ballots by ``simple_majority``, ``weighted_voting`` or
``unanimous`` into a :class:`VotingOutcome` (a :class:`VotingResult` or a
:class:`VotingFailure`); :func:`run_vote` asks running :class:`Voter` actors for their
ballots through a :class:`VotingCoordinator` and counts them.
"""

from .actor import Ballot as Ballot
from .actor import CallForVote as CallForVote
from .actor import RunVote as RunVote
from .actor import Voter as Voter
from .actor import VotingCoordinator as VotingCoordinator
from .actor import run_vote as run_vote
from .rules import DEFAULT_WEIGHT as DEFAULT_WEIGHT
from .rules import VOTING_ALGORITHMS as VOTING_ALGORITHMS
from .rules import VotingAlgorithm as VotingAlgorithm
from .rules import VotingError as VotingError
from .rules import VotingFailure as VotingFailure
from .rules import VotingOutcome as VotingOutcome
from .rules import VotingResult as VotingResult
from .rules import cast_votes as cast_votes
from .rules import count_votes as count_votes

__all__ = [
    "DEFAULT_WEIGHT",
    "VOTING_ALGORITHMS",
    "Ballot",
    "CallForVote",
    "RunVote",
    "Voter",
    "VotingAlgorithm",
    "VotingCoordinator",
    "VotingError",
    "VotingFailure",
    "VotingOutcome",
    "VotingResult",
    "cast_votes",
    "count_votes",
    "run_vote",
]

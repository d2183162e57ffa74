"""Kept for old imports: the voting actors live in :mod:`.voting.actor` now."""

from .voting.actor import Ballot as Ballot
from .voting.actor import CallForVote as CallForVote
from .voting.actor import RunVote as RunVote
from .voting.actor import Voter as Voter
from .voting.actor import VotingCoordinator as VotingCoordinator
from .voting.actor import run_vote as run_vote

__all__ = ["Ballot", "CallForVote", "RunVote", "Voter", "VotingCoordinator", "run_vote"]

"""Consensus protocols: voting, Raft and the replicated key-value store built on it.

Voting rules are pure functions (:func:`count_votes`); :func:`run_vote` holds a vote among
voter actors. Raft lives in :mod:`mabeam.protocols.consensus.raft` (the pure node) and
:class:`RaftCluster` (actors, a client and a key-value store, for application code).
"""

from ..._errors import CommandFailedError as CommandFailedError
from .kv import Add as Add
from .kv import ApplyError as ApplyError
from .kv import ClientCommand as ClientCommand
from .kv import Delete as Delete
from .kv import Get as Get
from .kv import KVStateMachine as KVStateMachine
from .kv import Put as Put
from .raft.api import Committed as Committed
from .raft.api import CommitTimeoutError as CommitTimeoutError
from .raft.api import RaftCluster as RaftCluster
from .voting import VOTING_ALGORITHMS as VOTING_ALGORITHMS
from .voting import VotingError as VotingError
from .voting import VotingOutcome as VotingOutcome
from .voting import VotingResult as VotingResult
from .voting import count_votes as count_votes
from .voting_actor import Voter as Voter
from .voting_actor import VotingCoordinator as VotingCoordinator
from .voting_actor import run_vote as run_vote

__all__ = [
    "VOTING_ALGORITHMS",
    "Add",
    "ApplyError",
    "ClientCommand",
    "CommandFailedError",
    "CommitTimeoutError",
    "Committed",
    "Delete",
    "Get",
    "KVStateMachine",
    "Put",
    "RaftCluster",
    "Voter",
    "VotingCoordinator",
    "VotingError",
    "VotingOutcome",
    "VotingResult",
    "count_votes",
    "run_vote",
]

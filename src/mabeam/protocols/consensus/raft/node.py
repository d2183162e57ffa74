"""The pure Raft node (sans-IO, in the style of etcd's raft): ``step``, ``tick``, ``ready``.

Work in progress: the interface is the agreed one; bodies follow.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from mabeam._errors import MabeamError

from .messages import Entry, RaftMessage
from .storage import RaftStorage

Role: TypeAlias = Literal["follower", "pre_candidate", "candidate", "leader"]


@dataclass(frozen=True)
class RaftConfig:
    """Timing and features of a node (times in ms)."""

    election_timeout_ms: tuple[float, float] = (150.0, 300.0)
    heartbeat_ms: float = 50.0
    pre_vote: bool = True
    check_quorum: bool = True
    max_entries_per_message: int = 64


class NotLeaderError(MabeamError):
    """A proposal reached a node that is not the leader; ``leader_hint`` names the one it knows."""

    def __init__(self, node_id: str, leader_hint: str | None) -> None:
        super().__init__(f"node {node_id!r} is not the leader (leader: {leader_hint!r})")
        self.node_id = node_id
        self.leader_hint = leader_hint


@dataclass
class Ready:
    """What the node produced since the last :meth:`RaftNode.ready`."""

    messages: list[RaftMessage] = field(default_factory=list)
    committed: list[Entry] = field(default_factory=list)


class RaftNode:
    """One Raft server; see the module docstring."""

    def __init__(
        self,
        node_id: str,
        peers: Sequence[str],
        storage: RaftStorage,
        config: RaftConfig,
        rng: random.Random,
        now: float = 0.0,
    ) -> None:
        hard, log = storage.load()
        self.node_id = node_id
        self.peers = tuple(peers)
        self.storage = storage
        self.config = config
        self.rng = rng
        self.role: Role = "follower"
        self.term = hard.term
        self.voted_for = hard.voted_for
        self.leader_id: str | None = None
        self.commit_index = 0
        self._log = log
        self._deadline = now + config.election_timeout_ms[1]

    @property
    def log(self) -> list[Entry]:
        """A copy of the log."""
        return list(self._log)

    @property
    def last_index(self) -> int:
        """The index of the last entry (0 when the log is empty)."""
        return len(self._log)

    @property
    def last_term(self) -> int:
        """The term of the last entry (0 when the log is empty)."""
        return self._log[-1].term if self._log else 0

    def step(self, message: RaftMessage, now: float) -> None:
        """Handle one incoming message."""
        raise NotImplementedError

    def tick(self, now: float) -> None:
        """Fire the timers whose time has come."""
        raise NotImplementedError

    def deadline(self) -> float:
        """The next ``now`` at which :meth:`tick` must run."""
        return self._deadline

    def propose(self, data: Any, now: float) -> int:
        """Append ``data`` to the leader's log and return its index."""
        raise NotLeaderError(self.node_id, self.leader_id)

    def campaign(self, now: float) -> None:
        """Start an election now."""
        raise NotImplementedError

    def ready(self) -> Ready:
        """Take and clear the messages to send and the entries newly committed."""
        return Ready()

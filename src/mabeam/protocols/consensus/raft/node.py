"""The pure Raft node (sans-IO, in the style of etcd's raft): ``step``, ``tick``, ``ready``.

A :class:`RaftNode` never sends, sleeps or reads a clock. The shell hands it each incoming
message with :meth:`RaftNode.step` and calls :meth:`RaftNode.tick` at :meth:`RaftNode.deadline`,
passing the time ``now`` in ms; then it takes what the node produced with
:meth:`RaftNode.ready`: messages to send and newly committed entries to apply. Durable state
(term, vote, log) is written to the :class:`~.storage.RaftStorage` inside those calls, so it is
on storage before any message that depends on it leaves (Figure 2).

The rules are etcd raft's (``raft.go``):

- A leader appends an empty entry (``data`` None) when elected and commits by counting
  replicas only for entries of its own term (§5.4.2, Figure 8).
- PreVote (thesis §9.6): a node that times out first asks for pre-votes at ``term + 1``
  without changing its term; only a majority of pre-votes lets it campaign for real. The
  pre-candidate forgets its leader (etcd #8334), and a node answers a pre-vote from a lower
  term with a rejection carrying its own term, so a node whose term fell behind can still
  complete an election (etcd #8243).
- CheckQuorum: a leader that has not heard from a majority within an election timeout steps
  down; a node that heard from its leader within the minimum election timeout ignores
  (pre-)votes from higher terms (etcd's lease check), and answers AppendEntries from a lower
  term with its own term so a stale leader learns it is stale.
- Log replication with the consistency check, truncation only at the first conflicting entry,
  and fast back-off by term using the follower's (reject_hint, reject_term).
- The election timer restarts, with a fresh random timeout, on an AppendEntries from the
  current leader, on granting a vote and on each change of role or term — never on other
  messages.

Deviations from etcd, each safe by the paper's argument: a heartbeat resends from ``match + 1``
what a follower has not acknowledged (etcd waits for a rejection); the commit index reaches
followers with the next AppendEntries or heartbeat rather than with an extra broadcast; and a
candidate whose timer sent it back to a pre-vote round still counts late votes for its term
(its voters cannot vote again in that term and its log has not changed), which keeps elections
live when replies arrive after the election timeout.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from mabeam._errors import ConfigError, MabeamError

from ._log import RaftLog
from ._progress import Progress
from .messages import (
    AppendEntries,
    AppendEntriesResponse,
    Entry,
    RaftMessage,
    RequestVote,
    RequestVoteResponse,
)
from .storage import HardState, RaftStorage

Role: TypeAlias = Literal["follower", "pre_candidate", "candidate", "leader"]


@dataclass(frozen=True)
class RaftConfig:
    """Timing and features of a node (times in ms).

    The election timeout is drawn uniformly from ``election_timeout_ms`` at every reset;
    its lower bound is also the CheckQuorum period and the leader lease.
    """

    election_timeout_ms: tuple[float, float] = (150.0, 300.0)
    heartbeat_ms: float = 50.0
    pre_vote: bool = True
    check_quorum: bool = True
    max_entries_per_message: int = 64

    def __post_init__(self) -> None:
        low, high = self.election_timeout_ms
        if not 0 < low <= high:
            raise ConfigError(
                "election_timeout_ms", f"[{low}, {high}] is not a range", allowed="0 < lo <= hi"
            )
        if not 0 < self.heartbeat_ms < low:
            raise ConfigError(
                "heartbeat_ms",
                f"{self.heartbeat_ms} must be positive and below the election timeout {low}",
            )
        if self.max_entries_per_message < 1:
            raise ConfigError("max_entries_per_message", "must be at least 1", allowed=">= 1")


class NotLeaderError(MabeamError):
    """A proposal reached a node that is not the leader; ``leader_hint`` names the one it knows."""

    def __init__(self, node_id: str, leader_hint: str | None) -> None:
        super().__init__(f"node {node_id!r} is not the leader (leader: {leader_hint!r})")
        self.node_id = node_id
        self.leader_hint = leader_hint


@dataclass
class Ready:
    """What the node produced since the last :meth:`RaftNode.ready`.

    ``messages`` go out in order (each names its ``dst``); ``committed`` are the entries to
    apply, in index order, each handed out once per incarnation of the node (no-op entries,
    ``data`` None, included: the applier skips them).
    """

    messages: list[RaftMessage] = field(default_factory=list)
    committed: list[Entry] = field(default_factory=list)


class RaftNode:
    """One Raft server: a pure state machine over messages and time (see the module docstring).

    ``peers`` lists every node of the cluster including ``node_id``; the node restores its
    term, vote and log from ``storage`` and starts as a follower with commit index 0.
    """

    def __init__(
        self,
        node_id: str,
        peers: Sequence[str],
        storage: RaftStorage,
        config: RaftConfig,
        rng: random.Random,
        now: float = 0.0,
    ) -> None:
        if node_id not in peers:
            raise ConfigError("peers", f"must include the node itself ({node_id!r})")
        if len(set(peers)) != len(peers):
            raise ConfigError("peers", "lists a node twice", allowed="distinct node ids")
        hard, entries = storage.load()
        self.node_id = node_id
        self.peers = tuple(peers)
        self.config = config
        self.role: Role = "follower"
        self.term = hard.term
        self.voted_for = hard.voted_for
        self.leader_id: str | None = None
        self._storage = storage
        self._persisted = hard
        self._rng = rng
        self._raft_log = RaftLog(storage, entries)
        self._others = tuple(p for p in peers if p != node_id)
        self._quorum = len(self.peers) // 2 + 1
        self._progress: dict[str, Progress] = {}
        self._votes: dict[str, bool] = {}
        self._term_votes: dict[str, bool] | None = None
        self._messages: list[RaftMessage] = []
        self._election_start = now
        self._election_due = now
        self._heartbeat_due = math.inf
        self._check_quorum_due = math.inf
        self._reset_election_timer(now)

    # -- read-only views ---------------------------------------------------------------

    @property
    def log(self) -> list[Entry]:
        """A copy of the log (entry i at position i - 1)."""
        return self._raft_log.entries()

    @property
    def last_index(self) -> int:
        """The index of the last entry (0 when the log is empty)."""
        return self._raft_log.last_index

    @property
    def last_term(self) -> int:
        """The term of the last entry (0 when the log is empty)."""
        return self._raft_log.last_term

    @property
    def commit_index(self) -> int:
        """The highest index known to be committed (volatile: 0 after a restart)."""
        return self._raft_log.committed

    @property
    def applied_index(self) -> int:
        """The highest index handed out by :meth:`ready` for applying."""
        return self._raft_log.applied

    def term_at(self, index: int) -> int:
        """The term of the entry at ``index``: 0 for index 0, -1 past the end of the log."""
        return self._raft_log.term_at(index)

    def entry(self, index: int) -> Entry:
        """The entry at ``index`` (1-based; IndexError past the end)."""
        if not 0 < index <= self._raft_log.last_index:
            raise IndexError(index)
        return self._raft_log.entry(index)

    def match_index(self, peer: str) -> int:
        """Leader only: the highest index known to be replicated on ``peer`` (0 otherwise)."""
        progress = self._progress.get(peer)
        return progress.match if progress is not None else 0

    # -- the driver's interface -------------------------------------------------------

    def deadline(self) -> float:
        """The next ``now`` at which :meth:`tick` must run."""
        if self.role == "leader":
            return min(self._heartbeat_due, self._check_quorum_due)
        return self._election_due

    def tick(self, now: float) -> None:
        """Fire the timers whose time has come."""
        if self.role != "leader":
            if now >= self._election_due:
                self.campaign(now)
            return
        if now >= self._check_quorum_due:
            self._check_quorum_due = now + self.config.election_timeout_ms[0]
            if self.config.check_quorum:
                if sum(1 for p in self._progress.values() if p.recent_active) + 1 < self._quorum:
                    self._become_follower(self.term, None, now)
                    return
                for progress in self._progress.values():
                    progress.recent_active = False
        if now >= self._heartbeat_due:
            self._heartbeat_due = now + self.config.heartbeat_ms
            for peer in self._others:
                progress = self._progress[peer]
                if progress.replicating and progress.match < self.last_index:
                    # Resend what is unacknowledged: a lost AppendEntries is repaired by the
                    # next heartbeat even when no new proposal follows it.
                    progress.next = progress.match + 1
                progress.probe_sent = False
                self._send_append(peer)

    def propose(self, data: Any, now: float) -> int:
        """Append ``data`` to the leader's log, start replicating it, and return its index.

        Raises :class:`NotLeaderError` (with the leader this node knows) on any other node.
        """
        return self.propose_many([data], now)[0]

    def propose_many(self, datas: Sequence[Any], now: float) -> list[int]:
        """Append every item of ``datas``, in order, and replicate them together.

        One append to storage and one round of AppendEntries for the whole batch (etcd's
        ``MsgProp`` with several entries), each message carrying up to
        ``max_entries_per_message`` entries. Returns the indices. Raises
        :class:`NotLeaderError` on any node but the leader.
        """
        if self.role != "leader":
            raise NotLeaderError(self.node_id, self.leader_id)
        first = self.last_index + 1
        entries = [
            Entry(term=self.term, index=first + offset, data=data)
            for offset, data in enumerate(datas)
        ]
        if not entries:
            return []
        self._raft_log.append(entries)
        self._broadcast_append()
        self._maybe_commit()
        return [entry.index for entry in entries]

    def campaign(self, now: float) -> None:
        """Start an election now: a pre-vote round with PreVote on, else a real one."""
        if self.role == "leader":
            return
        if self.config.pre_vote:
            self._become_pre_candidate(now)
        else:
            self._become_candidate(now)

    def ready(self) -> Ready:
        """Take and clear the messages to send and the entries newly committed."""
        messages, self._messages = self._messages, []
        return Ready(messages=messages, committed=self._raft_log.take_committed())

    def step(self, message: RaftMessage, now: float) -> None:
        """Handle one incoming message addressed to this node."""
        if message.term > self.term:
            if isinstance(message, RequestVote) and self._in_lease(now):
                return  # a leader is alive: do not let this node disrupt it
            pre_vote_traffic = isinstance(message, RequestVote) and message.pre_vote
            granted_pre_vote = (
                isinstance(message, RequestVoteResponse) and message.pre_vote and message.granted
            )
            if not (pre_vote_traffic or granted_pre_vote):
                leader = message.src if isinstance(message, AppendEntries) else None
                self._become_follower(message.term, leader, now)
        elif message.term < self.term:
            self._step_stale(message)
            return
        if isinstance(message, RequestVote):
            self._handle_vote_request(message, now)
        elif self.role == "leader":
            if isinstance(message, AppendEntriesResponse):
                self._handle_append_response(message)
        elif isinstance(message, AppendEntries):
            if self.role != "follower":
                self._become_follower(message.term, message.src, now)
            self.leader_id = message.src
            self._reset_election_timer(now)
            self._handle_append(message)
        elif isinstance(message, RequestVoteResponse) and self.role != "follower":
            self._handle_vote_response(message, now)

    # -- roles -------------------------------------------------------------------------

    def _become_follower(self, term: int, leader: str | None, now: float) -> None:
        if term != self.term:
            self.term = term
            self.voted_for = None
            self._persist_hard_state()
        self.role = "follower"
        self.leader_id = leader
        self._progress = {}
        self._term_votes = None
        self._reset_election_timer(now)

    def _become_pre_candidate(self, now: float) -> None:
        # No change of term or vote; forgetting the leader lets the other nodes, which may
        # have forgotten theirs too, grant this pre-vote (etcd #8334).
        self.role = "pre_candidate"
        self.leader_id = None
        self._reset_election_timer(now)
        self._start_poll(pre_vote=True, now=now)

    def _become_candidate(self, now: float) -> None:
        self.term += 1
        self.voted_for = self.node_id
        self._persist_hard_state()
        self.role = "candidate"
        self.leader_id = None
        self._reset_election_timer(now)
        self._start_poll(pre_vote=False, now=now)

    def _become_leader(self, now: float) -> None:
        self.role = "leader"
        self.leader_id = self.node_id
        self._term_votes = None
        next_index = self.last_index + 1
        self._progress = {peer: Progress(next=next_index) for peer in self._others}
        self._heartbeat_due = now + self.config.heartbeat_ms
        self._check_quorum_due = now + self.config.election_timeout_ms[0]
        # The no-op of the term: it commits the entries of earlier terms (Figure 8).
        self._raft_log.append([Entry(term=self.term, index=next_index, data=None)])
        self._broadcast_append()
        self._maybe_commit()

    def _start_poll(self, *, pre_vote: bool, now: float) -> None:
        if pre_vote:
            self._votes = {self.node_id: True}
        else:
            self._term_votes = {self.node_id: True}
        if self._quorum == 1:
            self._won_poll(pre_vote, now)
            return
        term = self.term + 1 if pre_vote else self.term
        for peer in self._others:
            self._messages.append(
                RequestVote(
                    src=self.node_id,
                    dst=peer,
                    term=term,
                    last_log_index=self.last_index,
                    last_log_term=self.last_term,
                    pre_vote=pre_vote,
                )
            )

    def _won_poll(self, pre_vote: bool, now: float) -> None:
        if pre_vote:
            self._become_candidate(now)
        else:
            self._become_leader(now)

    # -- timers and persistence --------------------------------------------------------

    def _reset_election_timer(self, now: float) -> None:
        low, high = self.config.election_timeout_ms
        self._election_start = now
        self._election_due = now + self._rng.uniform(low, high)

    def _in_lease(self, now: float) -> bool:
        """Whether this node has a live leader and so ignores higher-term (pre-)votes."""
        if not self.config.check_quorum or self.leader_id is None:
            return False
        if self.role == "leader":
            return True
        return now - self._election_start < self.config.election_timeout_ms[0]

    def _persist_hard_state(self) -> None:
        state = HardState(term=self.term, voted_for=self.voted_for)
        if state != self._persisted:
            self._storage.save_hard_state(state)
            self._persisted = state

    # -- elections ---------------------------------------------------------------------

    def _step_stale(self, message: RaftMessage) -> None:
        """A message from a lower term: ignored, except as etcd answers two kinds."""
        if isinstance(message, AppendEntries):
            if self.config.check_quorum or self.config.pre_vote:
                # Tell a stale leader our term: with CheckQuorum it may be the only way it
                # ever learns it, since this node's votes are ignored during its lease.
                self._messages.append(
                    AppendEntriesResponse(
                        src=self.node_id,
                        dst=message.src,
                        term=self.term,
                        success=False,
                        match_index=message.prev_log_index,
                    )
                )
        elif isinstance(message, RequestVote) and message.pre_vote:
            # A node whose term fell behind must learn ours to ever win (etcd #8243).
            self._messages.append(
                RequestVoteResponse(
                    src=self.node_id, dst=message.src, term=self.term, granted=False, pre_vote=True
                )
            )

    def _handle_vote_request(self, message: RequestVote, now: float) -> None:
        can_vote = (
            self.voted_for == message.src
            or (self.voted_for is None and self.leader_id is None)
            or (message.pre_vote and message.term > self.term)
        )
        if can_vote and self._raft_log.is_up_to_date(message.last_log_index, message.last_log_term):
            if not message.pre_vote:
                self.voted_for = message.src
                self._persist_hard_state()  # before the grant can leave (Figure 2)
                self._reset_election_timer(now)
            response_term = message.term
            granted = True
        else:
            response_term = self.term
            granted = False
        self._messages.append(
            RequestVoteResponse(
                src=self.node_id,
                dst=message.src,
                term=response_term,
                granted=granted,
                pre_vote=message.pre_vote,
            )
        )

    def _handle_vote_response(self, message: RequestVoteResponse, now: float) -> None:
        if message.pre_vote:
            if self.role != "pre_candidate":
                return  # an answer to a pre-vote round this node is no longer running
            if message.granted and message.term != self.term + 1:
                return  # a grant for an older pre-vote round
            tally = self._votes
        else:
            # A real vote counts toward this node's candidacy for its current term even after
            # its timer sent it back to a pre-vote round: the voters' votes for this term are
            # still its own, so the win is as safe as on time (etcd drops such late votes).
            if self._term_votes is None or message.term != self.term:
                return
            tally = self._term_votes
        tally.setdefault(message.src, message.granted)
        granted = sum(1 for vote in tally.values() if vote)
        if granted >= self._quorum:
            self._won_poll(tally is self._votes, now)
        elif len(tally) - granted >= self._quorum and (
            self.role == "candidate" or tally is self._votes
        ):
            self._become_follower(self.term, None, now)

    # -- replication -------------------------------------------------------------------

    def _handle_append(self, message: AppendEntries) -> None:
        raft_log = self._raft_log
        if message.prev_log_index < raft_log.committed:
            self._respond_append(message.src, success=True, match_index=raft_log.committed)
            return
        last_new = raft_log.maybe_append(
            message.prev_log_index, message.prev_log_term, message.leader_commit, message.entries
        )
        if last_new is not None:
            self._respond_append(message.src, success=True, match_index=last_new)
            return
        hint, hint_term = raft_log.find_conflict_by_term(
            min(message.prev_log_index, raft_log.last_index), message.prev_log_term
        )
        self._respond_append(
            message.src,
            success=False,
            match_index=message.prev_log_index,
            reject_hint=hint,
            reject_term=hint_term,
        )

    def _respond_append(
        self,
        dst: str,
        *,
        success: bool,
        match_index: int,
        reject_hint: int = 0,
        reject_term: int = 0,
    ) -> None:
        self._messages.append(
            AppendEntriesResponse(
                src=self.node_id,
                dst=dst,
                term=self.term,
                success=success,
                match_index=match_index,
                reject_hint=reject_hint,
                reject_term=reject_term,
            )
        )

    def _handle_append_response(self, message: AppendEntriesResponse) -> None:
        progress = self._progress.get(message.src)
        if progress is None:
            return
        progress.recent_active = True
        if message.success:
            probing = not progress.replicating
            if progress.maybe_update(message.match_index) or (
                probing and message.match_index == progress.match
            ):
                if probing:
                    progress.become_replicate()
                self._maybe_commit()
            if progress.next <= self.last_index:
                self._send_append(message.src)
            return
        hint = message.reject_hint
        if message.reject_term > 0:
            hint, _ = self._raft_log.find_conflict_by_term(hint, message.reject_term)
        if progress.maybe_decr_to(message.match_index, hint):
            if progress.replicating:
                progress.become_probe()
            self._send_append(message.src)

    def _broadcast_append(self) -> None:
        for peer in self._others:
            self._send_append(peer)

    def _send_append(self, peer: str) -> None:
        progress = self._progress[peer]
        if progress.paused:
            return
        entries = self._raft_log.slice(progress.next, self.config.max_entries_per_message)
        prev_index = progress.next - 1
        self._messages.append(
            AppendEntries(
                src=self.node_id,
                dst=peer,
                term=self.term,
                prev_log_index=prev_index,
                prev_log_term=self._raft_log.term_at(prev_index),
                entries=entries,
                leader_commit=self._raft_log.committed,
            )
        )
        if progress.replicating:
            progress.next += len(entries)
        else:
            progress.probe_sent = True

    def _maybe_commit(self) -> None:
        matches = sorted(
            [self.last_index, *(p.match for p in self._progress.values())], reverse=True
        )
        index = matches[self._quorum - 1]
        # Only an entry of the current term is committed by counting (§5.4.2, Figure 8).
        if index > self._raft_log.committed and self._raft_log.term_at(index) == self.term:
            self._raft_log.commit_to(index)

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
- The election timer restarts, with a fresh random timeout, on an AppendEntries (or an
  InstallSnapshot or ReadProbe) from the current leader, on granting a vote and on each
  change of role or term — never on other messages.
- Snapshots (§7): the shell calls :meth:`RaftNode.compact` with its state machine's bytes
  as of an applied index; the log up to there is dropped and storage keeps the snapshot. A
  follower whose next entry the leader no longer holds gets InstallSnapshot, in chunks of
  ``snapshot_chunk_bytes``, one outstanding at a time (resent on the heartbeat if lost),
  and installs it once complete, keeping its log after the snapshot only if it agrees
  there. A node restarting from storage starts at its snapshot: :attr:`Ready.snapshot`
  hands it to the shell first, to load into its state machine.
- ReadIndex (thesis §6.4): :meth:`RaftNode.read_index` records the commit index, confirms
  leadership with one round of ReadProbe messages answered by a majority (rounds are
  numbered, so one round confirms every read asked before it) and only once the leader
  has committed an entry of its own term; then :attr:`Ready.read_states` says the read may
  be served once that index is applied. With ``lease_reads`` (and CheckQuorum) a leader
  serves reads without a round while its lease holds: up to ``election_timeout_ms[0] /
  clock_drift_bound`` after it sent a round a majority answered — sound only if clocks
  run at rates within that bound of each other (no follower can elect a new leader
  before its minimum election timeout has passed since it answered).
- Membership changes, etcd's way: one at a time, each a :class:`~.messages.Membership`
  entry (the full new configuration) that takes effect on every node as soon as it is in
  its log (thesis §4.1: a truncated entry takes its configuration with it). A new node
  joins as a learner (it gets the log, does not vote or count) and is promoted to voter
  only once it has caught up to the commit index. The leader proposes a change only once
  an entry of its term is committed and no earlier change is pending (the fix of thesis
  §4.1's bug). Only voters campaign and count; a leader that removed itself leads until
  the change commits, not counting itself, then steps down.

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

import msgspec

from mabeam._errors import ConfigError
from mabeam._errors import MembershipChangeError as MembershipChangeError
from mabeam._errors import NotLeaderError as NotLeaderError

from ._log import RaftLog
from ._progress import Progress
from .messages import (
    AppendEntries,
    AppendEntriesResponse,
    Entry,
    InstallSnapshot,
    InstallSnapshotResponse,
    Membership,
    RaftMessage,
    ReadProbe,
    ReadProbeAck,
    RequestVote,
    RequestVoteResponse,
    Snapshot,
)
from .storage import HardState, RaftStorage

Role: TypeAlias = Literal["follower", "pre_candidate", "candidate", "leader"]


@dataclass(frozen=True)
class RaftConfig:
    """Timing and features of a node (times in ms).

    The election timeout is drawn uniformly from ``election_timeout_ms`` at every reset;
    its lower bound is also the CheckQuorum period and the leader lease.

    ``snapshot_threshold`` (0: never) is read by the shell: it snapshots its state machine
    every that many applied entries. ``snapshot_chunk_bytes`` is the size of one
    InstallSnapshot chunk. ``lease_reads`` (needs ``check_quorum``) lets a leader serve
    reads from its lease; ``clock_drift_bound`` (>= 1) is the factor by which clock rates
    may differ, which shortens the lease.
    """

    election_timeout_ms: tuple[float, float] = (150.0, 300.0)
    heartbeat_ms: float = 50.0
    pre_vote: bool = True
    check_quorum: bool = True
    max_entries_per_message: int = 64
    snapshot_threshold: int = 0
    snapshot_chunk_bytes: int = 64 * 1024
    lease_reads: bool = False
    clock_drift_bound: float = 1.1

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
        if self.snapshot_threshold < 0:
            raise ConfigError(
                "snapshot_threshold", f"{self.snapshot_threshold} is negative", allowed=">= 0"
            )
        if self.snapshot_chunk_bytes < 1:
            raise ConfigError("snapshot_chunk_bytes", "must be at least 1", allowed=">= 1")
        if self.lease_reads and not self.check_quorum:
            raise ConfigError(
                "lease_reads", "needs check_quorum (a leader must step down when cut off)"
            )
        if not self.clock_drift_bound >= 1.0:
            raise ConfigError(
                "clock_drift_bound", f"{self.clock_drift_bound} is below 1", allowed=">= 1"
            )


MembershipAction = Literal["add_learner", "promote", "remove"]


def as_membership(data: Any) -> Membership | None:
    """``data`` as a :class:`Membership` if it is one (a struct, or the dict a msgpack store
    gives back with its ``type`` tag), else None."""
    if isinstance(data, Membership):
        return data
    if type(data) is dict and data.get("type") == "Membership":
        try:
            return msgspec.convert(data, Membership)
        except msgspec.ValidationError:
            return None
    return None


@dataclass(frozen=True)
class ReadState:
    """A read confirmed by ReadIndex: serve it once the state machine applied ``index``."""

    ctx: Any
    index: int


@dataclass
class Ready:
    """What the node produced since the last :meth:`RaftNode.ready`.

    ``messages`` go out in order (each names its ``dst``). ``snapshot``, if set, is to be
    loaded into the state machine first (a restart from storage, or one installed from the
    leader); ``committed`` are the entries to apply after it, in index order, each handed
    out once per incarnation of the node (no-op entries, ``data`` None, included: the
    applier skips them). ``read_states`` are reads confirmed by ReadIndex.
    """

    messages: list[RaftMessage] = field(default_factory=list)
    committed: list[Entry] = field(default_factory=list)
    snapshot: Snapshot | None = None
    read_states: list[ReadState] = field(default_factory=list)

    def outbox(self) -> list[tuple[str, RaftMessage]]:
        """``messages`` as (peer, message) pairs: what an actor shell sends."""
        return [(message.dst, message) for message in self.messages]


class RaftNode:
    """One Raft server: a pure state machine over messages and time (see the module docstring).

    ``peers`` lists the voters the cluster started with (the configuration before any
    :class:`~.messages.Membership` entry), including ``node_id`` unless it is ``joining``
    (a node added later: it waits, as a non-member, for the log to make it a learner). The
    node restores its term, vote, snapshot and log from ``storage`` and starts as a
    follower at its snapshot's index.
    """

    def __init__(
        self,
        node_id: str,
        peers: Sequence[str],
        storage: RaftStorage,
        config: RaftConfig,
        rng: random.Random,
        now: float = 0.0,
        *,
        joining: bool = False,
    ) -> None:
        if (node_id in peers) is joining:
            raise ConfigError(
                "peers",
                f"must include the node itself ({node_id!r})"
                if not joining
                else f"lists the joining node {node_id!r} (it is not a member yet)",
            )
        if len(set(peers)) != len(peers):
            raise ConfigError("peers", "lists a node twice", allowed="distinct node ids")
        hard, entries = storage.load()
        snapshot = storage.load_snapshot()
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
        self._raft_log = RaftLog(storage, entries, snapshot)
        self._snapshot = snapshot
        self._pending_snapshot = snapshot
        self._snapshot_buffer: tuple[int, int, bytearray] | None = None
        self._read_seq = 0
        self._read_acks: dict[str, int] = {}
        self._read_sent: dict[int, float] = {}
        self._pending_reads: list[tuple[int, Any]] = []
        self._read_states: list[ReadState] = []
        self._lease_until = -math.inf
        self._progress: dict[str, Progress] = {}
        self._clock = now
        base = (
            Membership(tuple(peers))
            if snapshot is None
            else Membership(snapshot.peers, snapshot.learners)
        )
        self._base_config = base
        self._configs: list[tuple[int, int, Membership]] = []
        """(index, term, membership) of each configuration entry in the log held."""
        self._scan_configs(self._raft_log.entries())
        self._use_config()
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
        """A copy of the entries held: those after the snapshot (entry i at position
        i - first_index; without a snapshot, i - 1)."""
        return self._raft_log.entries()

    @property
    def first_index(self) -> int:
        """The index of the first entry held: the snapshot's index + 1."""
        return self._raft_log.first_index

    @property
    def membership(self) -> Membership:
        """The configuration in effect: the latest in the log (committed or not)."""
        return self._configs[-1][2] if self._configs else self._base_config

    @property
    def pending_membership(self) -> bool:
        """Whether a configuration entry is in the log but not yet committed."""
        return bool(self._configs) and self._configs[-1][0] > self._raft_log.committed

    @property
    def snapshot(self) -> Snapshot | None:
        """The latest snapshot (taken here or installed from a leader), if any."""
        return self._snapshot

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
        """The entry at ``index`` (IndexError past the end or below the snapshot)."""
        if not self._raft_log.offset < index <= self._raft_log.last_index:
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
        self._clock = now
        if self.role != "leader":
            if now >= self._election_due:
                if self._promotable():
                    self.campaign(now)
                else:
                    self._reset_election_timer(now)  # a learner or non-member never campaigns
            return
        if now >= self._check_quorum_due:
            self._check_quorum_due = now + self.config.election_timeout_ms[0]
            if self.config.check_quorum:
                active = sum(
                    1
                    for peer, p in self._progress.items()
                    if p.recent_active and peer in self._voters
                )
                if active + self._voter < self._quorum:
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
            if self.config.lease_reads:
                self._send_read_probes(now)

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
        self._clock = now
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
        """Start an election now: a pre-vote round with PreVote on, else a real one (only a
        voter campaigns)."""
        if self.role == "leader" or not self._promotable():
            return
        if self.config.pre_vote:
            self._become_pre_candidate(now)
        else:
            self._become_candidate(now)

    def ready(self) -> Ready:
        """Take and clear the messages to send, the snapshot to load, the entries newly
        committed and the reads confirmed."""
        messages, self._messages = self._messages, []
        snapshot, self._pending_snapshot = self._pending_snapshot, None
        reads, self._read_states = self._read_states, []
        return Ready(
            messages=messages,
            committed=self._raft_log.take_committed(),
            snapshot=snapshot,
            read_states=reads,
        )

    def compact(self, index: int, data: bytes) -> Snapshot | None:
        """Snapshot: the state machine's ``data`` as of applied entry ``index`` replaces the
        log up to ``index`` (durably). Returns the snapshot, or None if ``index`` is not past
        the current one. Raises ValueError for an index not yet applied."""
        raft_log = self._raft_log
        if index <= raft_log.offset:
            return None
        if index > raft_log.applied:
            raise ConfigError(
                "index", f"cannot snapshot at {index}: only {raft_log.applied} applied"
            )
        at = self._config_at(index)
        snapshot = Snapshot(
            index, raft_log.term_at(index), at.voters, bytes(data), learners=at.learners
        )
        raft_log.compact(snapshot)
        self._snapshot = snapshot
        self._base_config = at
        self._configs = [c for c in self._configs if c[0] > index]
        return snapshot

    def propose_membership(self, action: MembershipAction, node_id: str, now: float) -> int | None:
        """Propose one membership change; the index of its entry, or None if the
        configuration is that way already.

        ``add_learner`` adds a non-voting member, ``promote`` makes a caught-up learner a
        voter, ``remove`` takes a member (voter or learner, the leader itself included)
        out. Raises :class:`NotLeaderError` on any node but the leader and
        :class:`MembershipChangeError` (``retryable`` or not) when the change cannot be
        made now.
        """
        if self.role != "leader":
            raise NotLeaderError(self.node_id, self.leader_id)
        self._clock = now
        current = self.membership
        voters, learners = current.voters, current.learners
        if action == "add_learner":
            if node_id in voters or node_id in learners:
                return None
            new = Membership(voters, (*learners, node_id))
        elif action == "promote":
            if node_id in voters:
                return None
            if node_id not in learners:
                raise MembershipChangeError(f"{node_id!r} is not a learner", retryable=False)
            new = Membership((*voters, node_id), tuple(n for n in learners if n != node_id))
        elif action == "remove":
            if node_id not in voters and node_id not in learners:
                return None
            new = Membership(
                tuple(n for n in voters if n != node_id),
                tuple(n for n in learners if n != node_id),
            )
            if not new.voters:
                raise MembershipChangeError("cannot remove the last voter", retryable=False)
        else:
            raise ConfigError("action", f"{action!r} is not a membership change", allowed=_ACTIONS)
        raft_log = self._raft_log
        if raft_log.term_at(raft_log.committed) != self.term:
            raise MembershipChangeError(
                "the leader has not committed an entry of its term yet", retryable=True
            )
        if self.pending_membership:
            raise MembershipChangeError("another membership change is pending", retryable=True)
        if action == "promote":
            progress = self._progress.get(node_id)
            if progress is None or progress.match < raft_log.committed:
                raise MembershipChangeError(
                    f"learner {node_id!r} is still catching up", retryable=True
                )
        index = self.last_index + 1
        entry = Entry(term=self.term, index=index, data=new)
        raft_log.append([entry])
        self._scan_configs([entry])
        self._use_config()
        self._broadcast_append()
        self._maybe_commit()
        return index

    def read_index(self, ctx: Any, now: float) -> None:
        """Ask for a linearizable read (ReadIndex, see the module docstring); ``ctx`` comes
        back in a :class:`ReadState` of a later :meth:`ready`. Raises
        :class:`NotLeaderError` on any node but the leader. A read the leader cannot confirm
        (it lost leadership) never comes back: the caller retries elsewhere after a timeout.
        """
        if self.role != "leader":
            raise NotLeaderError(self.node_id, self.leader_id)
        self._clock = now
        if (
            self.config.lease_reads
            and now < self._lease_until
            and self._raft_log.term_at(self._raft_log.committed) == self.term
        ):
            self._read_states.append(ReadState(ctx, self._raft_log.committed))
            return
        self._pending_reads.append((self._read_seq + 1, ctx))
        self._send_read_probes(now)
        self._advance_reads(now)

    def step(self, message: RaftMessage, now: float) -> None:
        """Handle one incoming message addressed to this node."""
        self._clock = now
        if message.term > self.term:
            if isinstance(message, RequestVote) and self._in_lease(now):
                return  # a leader is alive: do not let this node disrupt it
            pre_vote_traffic = isinstance(message, RequestVote) and message.pre_vote
            granted_pre_vote = (
                isinstance(message, RequestVoteResponse) and message.pre_vote and message.granted
            )
            if not (pre_vote_traffic or granted_pre_vote):
                leader = message.src if isinstance(message, _FROM_LEADER) else None
                self._become_follower(message.term, leader, now)
        elif message.term < self.term:
            self._step_stale(message)
            return
        if isinstance(message, RequestVote):
            self._handle_vote_request(message, now)
        elif self.role == "leader":
            if isinstance(message, AppendEntriesResponse):
                self._handle_append_response(message)
            elif isinstance(message, InstallSnapshotResponse):
                self._handle_snapshot_response(message)
            elif isinstance(message, ReadProbeAck):
                self._handle_read_ack(message, now)
        elif isinstance(message, _FROM_LEADER):
            if self.role != "follower":
                self._become_follower(message.term, message.src, now)
            self.leader_id = message.src
            self._reset_election_timer(now)
            if isinstance(message, AppendEntries):
                self._handle_append(message)
                if self._configs or _has_config(message.entries):
                    self._refresh_configs(message.entries)
            elif isinstance(message, InstallSnapshot):
                self._handle_snapshot(message)
            else:
                self._messages.append(
                    ReadProbeAck(src=self.node_id, dst=message.src, term=self.term, seq=message.seq)
                )
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
        self._pending_reads = []
        self._read_acks = {}
        self._read_sent = {}
        self._lease_until = -math.inf
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
            self._votes = {self.node_id: self._voter}
        else:
            self._term_votes = {self.node_id: self._voter}
        if self._quorum == 1 and self._voter:
            self._won_poll(pre_vote, now)
            return
        term = self.term + 1 if pre_vote else self.term
        for peer in self.membership.voters:  # in order: runs are reproducible
            if peer == self.node_id:
                continue
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
        if isinstance(message, _FROM_LEADER):
            if self.config.check_quorum or self.config.pre_vote:
                # Tell a stale leader our term: with CheckQuorum it may be the only way it
                # ever learns it, since this node's votes are ignored during its lease.
                self._messages.append(
                    AppendEntriesResponse(
                        src=self.node_id,
                        dst=message.src,
                        term=self.term,
                        success=False,
                        match_index=getattr(message, "prev_log_index", 0),
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
        if message.src not in self._voters:
            return  # only voters' votes count
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
        voters = self._voters
        granted = sum(1 for src, vote in tally.items() if vote and src in voters)
        denied = sum(1 for src, vote in tally.items() if not vote and src in voters)
        if granted >= self._quorum:
            self._won_poll(tally is self._votes, now)
        elif denied >= self._quorum and (self.role == "candidate" or tally is self._votes):
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
        if (
            progress.replicating
            and message.match_index <= progress.match
            and (hint, message.reject_term) == (0, 0)
            and self._raft_log.offset > 0
        ):
            # A follower rejecting what it acknowledged, with nothing left to match: its
            # storage was wiped. Start it over (from the snapshot). Only a compacting leader
            # does this, so runs without snapshots behave exactly as before; lowering match
            # is conservative (the commit index never goes back).
            progress.match = 0
            progress.become_probe()
            self._send_append(message.src)
            return
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
        progress = self._progress.get(peer)
        if progress is None or progress.paused:  # not a member (any more), or waiting
            return
        if progress.next <= self._raft_log.offset:
            self._send_snapshot(peer, progress)
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
        progress = self._progress
        matches = sorted(
            (
                self.last_index if voter == self.node_id else progress[voter].match
                for voter in self._voters
                if voter == self.node_id or voter in progress
            ),
            reverse=True,
        )
        if len(matches) < self._quorum:
            return
        index = matches[self._quorum - 1]
        # Only an entry of the current term is committed by counting (§5.4.2, Figure 8).
        if index > self._raft_log.committed and self._raft_log.term_at(index) == self.term:
            self._raft_log.commit_to(index)
            if self._pending_reads:
                self._advance_reads(None)
            if not self._voter and not self.pending_membership:
                # Removed, and the change is committed: step down (thesis §4.2.2).
                self._become_follower(self.term, None, self._clock)

    # -- snapshots ---------------------------------------------------------------------

    def _send_snapshot(self, peer: str, progress: Progress) -> None:
        snapshot = self._snapshot
        assert snapshot is not None, "a log with an offset has a snapshot"
        if progress.snapshot_index != snapshot.index:
            progress.snapshot_index = snapshot.index
            progress.snapshot_offset = 0
        progress.replicating = False
        start = progress.snapshot_offset
        chunk = snapshot.data[start : start + self.config.snapshot_chunk_bytes]
        self._messages.append(
            InstallSnapshot(
                src=self.node_id,
                dst=peer,
                term=self.term,
                last_index=snapshot.index,
                last_term=snapshot.term,
                peers=snapshot.peers,
                offset=start,
                data=chunk,
                done=start + len(chunk) >= len(snapshot.data),
                learners=snapshot.learners,
            )
        )
        progress.probe_sent = True

    def _handle_snapshot(self, message: InstallSnapshot) -> None:
        raft_log = self._raft_log

        def respond(next_offset: int, done: bool = False, match: int = 0) -> None:
            self._messages.append(
                InstallSnapshotResponse(
                    src=self.node_id,
                    dst=message.src,
                    term=self.term,
                    last_index=message.last_index,
                    next_offset=next_offset,
                    done=done,
                    match_index=match,
                )
            )

        if message.last_index <= raft_log.committed:
            # Nothing to install: this node's committed prefix already reaches past it.
            self._snapshot_buffer = None
            respond(0, done=True, match=raft_log.committed)
            return
        buffer = self._snapshot_buffer
        same = (
            buffer is not None
            and buffer[0] == message.last_index
            and buffer[1] == message.last_term
        )
        if message.offset == 0:
            buffer = self._snapshot_buffer = (message.last_index, message.last_term, bytearray())
        elif buffer is None or not same or len(buffer[2]) != message.offset:
            respond(len(buffer[2]) if buffer is not None and same else 0)
            return
        data = buffer[2]
        data += message.data
        if not message.done:
            respond(len(data))
            return
        self._snapshot_buffer = None
        snapshot = Snapshot(
            message.last_index,
            message.last_term,
            message.peers,
            bytes(data),
            learners=message.learners,
        )
        raft_log.restore(snapshot)
        self._snapshot = snapshot
        self._base_config = Membership(snapshot.peers, snapshot.learners)
        self._configs = []
        self._scan_configs(raft_log.entries())
        self._use_config()
        self._pending_snapshot = snapshot
        respond(len(data), done=True, match=snapshot.index)

    def _handle_snapshot_response(self, message: InstallSnapshotResponse) -> None:
        progress = self._progress.get(message.src)
        if progress is None:
            return
        progress.recent_active = True
        if message.done:
            progress.maybe_update(message.match_index)
            if not progress.replicating:
                progress.snapshot_index = 0
                progress.become_replicate()
            self._maybe_commit()
            if progress.next <= self.last_index:
                self._send_append(message.src)
            return
        if message.last_index == progress.snapshot_index and not progress.replicating:
            progress.snapshot_offset = message.next_offset
            progress.probe_sent = False
            self._send_append(message.src)

    # -- reads -------------------------------------------------------------------------

    def _send_read_probes(self, now: float) -> None:
        """One numbered round of ReadProbes to every other node."""
        self._read_seq += 1
        seq = self._read_seq
        self._read_sent[seq] = now
        for peer in self._others:
            self._messages.append(ReadProbe(src=self.node_id, dst=peer, term=self.term, seq=seq))

    def _handle_read_ack(self, message: ReadProbeAck, now: float) -> None:
        progress = self._progress.get(message.src)
        if progress is not None:
            progress.recent_active = True
        if message.seq > self._read_acks.get(message.src, 0):
            self._read_acks[message.src] = message.seq
            self._advance_reads(now)

    def _advance_reads(self, now: float | None) -> None:
        """Serve the reads whose round a majority answered, once a leader's own-term entry
        is committed; extend the lease by the newest round a majority answered."""
        acks = sorted(
            [
                *([self._read_seq] if self._voter else []),
                *(seq for peer, seq in self._read_acks.items() if peer in self._voters),
            ],
            reverse=True,
        )
        while len(acks) < self._quorum:
            acks.append(0)
        confirmed = acks[self._quorum - 1]
        if confirmed <= 0:
            return
        sent = self._read_sent
        if self.config.lease_reads and confirmed in sent:
            bound = self.config.election_timeout_ms[0] / self.config.clock_drift_bound
            self._lease_until = max(self._lease_until, sent[confirmed] + bound)
        for seq in [s for s in sent if s <= confirmed]:
            del sent[seq]
        raft_log = self._raft_log
        if raft_log.term_at(raft_log.committed) != self.term:
            return  # the no-op of this term is not committed yet: the index may be stale
        pending = self._pending_reads
        ready = [ctx for seq, ctx in pending if seq <= confirmed]
        if ready:
            self._pending_reads = [(seq, ctx) for seq, ctx in pending if seq > confirmed]
            self._read_states.extend(ReadState(ctx, raft_log.committed) for ctx in ready)

    # -- membership ----------------------------------------------------------------------

    def _scan_configs(self, entries: Sequence[Entry]) -> None:
        """Record the configuration entries among ``entries`` (appended in order)."""
        for entry in entries:
            membership = as_membership(entry.data)
            if membership is not None:
                self._configs.append((entry.index, entry.term, membership))

    def _refresh_configs(self, appended: Sequence[Entry]) -> None:
        """After an AppendEntries: forget configurations whose entries were truncated away,
        record the new ones, and use the latest."""
        raft_log = self._raft_log
        before = self.membership
        kept = [c for c in self._configs if raft_log.term_at(c[0]) == c[1]]
        if _has_config(appended):
            known = {c[0] for c in kept}
            for entry in appended:
                if entry.index in known or raft_log.term_at(entry.index) != entry.term:
                    continue
                membership = as_membership(entry.data)
                if membership is not None:
                    kept.append((entry.index, entry.term, membership))
            kept.sort(key=lambda c: c[0])
        self._configs = kept
        if self.membership != before:
            self._use_config()

    def _promotable(self) -> bool:
        """Whether this node may campaign: a voter of its latest configuration, or of the
        one before it while the latest is not known to be committed (a leader that removed
        itself and crashed before the change committed may be the only node holding the
        change: it must be able to finish it). With one change at a time, every
        configuration but the latest is committed."""
        if self._voter:
            return True
        configs = self._configs
        if not configs or configs[-1][0] <= self._raft_log.committed:
            return False  # the latest configuration is committed: this node is out
        previous = configs[-2][2] if len(configs) >= 2 else self._base_config
        return self.node_id in previous.voters

    def _config_at(self, index: int) -> Membership:
        """The configuration in effect at ``index`` (the latest entry at or below it)."""
        found = self._base_config
        for at, _, membership in self._configs:
            if at > index:
                break
            found = membership
        return found

    def _use_config(self) -> None:
        """Derive voters, quorum and replication targets from the configuration in effect."""
        current = self.membership
        self._voters = frozenset(current.voters)
        self._voter = self.node_id in self._voters
        self.peers = current.voters
        self._others = tuple(p for p in (*current.voters, *current.learners) if p != self.node_id)
        self._quorum = max(1, len(current.voters) // 2 + 1)
        if self.role == "leader":
            progress = self._progress
            for peer in self._others:
                if peer not in progress:
                    progress[peer] = Progress(next=self.last_index)
            for peer in [p for p in progress if p not in self._others]:
                del progress[peer]


_ACTIONS = ("add_learner", "promote", "remove")
_CONFIG_TYPES = (Membership, dict)


def _has_config(entries: Sequence[Entry]) -> bool:
    """Whether any entry may be a configuration (a Membership, or a dict from storage)."""
    return any(type(entry.data) in _CONFIG_TYPES for entry in entries)


_FROM_LEADER = (AppendEntries, InstallSnapshot, ReadProbe)

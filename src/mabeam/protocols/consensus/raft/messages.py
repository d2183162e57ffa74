"""What Raft nodes exchange (the extended paper's Figure 2, with etcd's PreVote flag).

Every message names its sender ``src``, its receiver ``dst`` and the sender's ``term``, so a
shell can route it without looking inside. All are frozen, tagged msgspec Structs: they cross
actor boundaries as values, never as shared objects.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import msgspec


class Entry(msgspec.Struct, frozen=True, tag=True):
    """One log entry; ``data`` None is the no-op a leader appends at the start of its term."""

    term: int
    index: int
    data: Any = None


class RequestVote(msgspec.Struct, frozen=True, tag=True):
    """A (pre-)candidate asks for a vote; a pre-vote carries the term it would campaign in."""

    src: str
    dst: str
    term: int
    last_log_index: int
    last_log_term: int
    pre_vote: bool = False


class RequestVoteResponse(msgspec.Struct, frozen=True, tag=True):
    """The answer to a (pre-)vote request; a granted pre-vote echoes the request's term."""

    src: str
    dst: str
    term: int
    granted: bool
    pre_vote: bool = False


class AppendEntries(msgspec.Struct, frozen=True, tag=True):
    """Entries following (prev_log_index, prev_log_term), or none: a heartbeat."""

    src: str
    dst: str
    term: int
    prev_log_index: int
    prev_log_term: int
    entries: tuple[Entry, ...]
    leader_commit: int


class AppendEntriesResponse(msgspec.Struct, frozen=True, tag=True):
    """Success with the index matched, or a rejection with a hint for fast back-off.

    On success ``match_index`` = prev_log_index + len(entries) of the request answered (or
    the follower's commit index when the request was older than that). On rejection
    ``match_index`` echoes the request's prev_log_index, and (``reject_hint``,
    ``reject_term``) is the last entry of the follower's log that could still match, as
    etcd's ``RejectHint`` / ``LogTerm``: the largest index <= prev_log_index whose term is
    <= prev_log_term. The leader skips a whole conflicting term per round trip.
    """

    src: str
    dst: str
    term: int
    success: bool
    match_index: int
    reject_hint: int = 0
    reject_term: int = 0


class Membership(msgspec.Struct, frozen=True, tag=True):
    """A configuration entry's data: the voters and the learners (non-voting members that
    receive the log) from this entry on. Each node uses the latest one in its log, committed
    or not (thesis §4.1); one change at a time, by one node (etcd's rule)."""

    voters: tuple[str, ...]
    learners: tuple[str, ...] = ()


class Snapshot(msgspec.Struct, frozen=True):
    """The state machine as of entry ``index`` (of ``term``): it replaces the log up to there.

    ``data`` is the state machine's own encoding (opaque to Raft); ``peers`` the voters and
    ``learners`` the learners as of ``index``.
    """

    index: int
    term: int
    peers: tuple[str, ...]
    data: bytes
    learners: tuple[str, ...] = ()


class InstallSnapshot(msgspec.Struct, frozen=True, tag=True):
    """Leader -> follower: one chunk of the leader's snapshot (Figure 13, with ``offset``).

    Chunks go one at a time, each answered; ``done`` marks the last. The follower installs
    the snapshot only once it holds every byte.
    """

    src: str
    dst: str
    term: int
    last_index: int
    last_term: int
    peers: tuple[str, ...]
    offset: int
    data: bytes
    done: bool
    learners: tuple[str, ...] = ()


class InstallSnapshotResponse(msgspec.Struct, frozen=True, tag=True):
    """The answer to a chunk: the byte offset the follower wants next, or ``done`` with the
    index its log now matches up to (``match_index``)."""

    src: str
    dst: str
    term: int
    last_index: int
    next_offset: int
    done: bool = False
    match_index: int = 0


class ReadProbe(msgspec.Struct, frozen=True, tag=True):
    """Leader -> follower: "am I still your leader?" (ReadIndex's heartbeat round, §6.4)."""

    src: str
    dst: str
    term: int
    seq: int


class ReadProbeAck(msgspec.Struct, frozen=True, tag=True):
    """Follower -> leader: yes, as of probe ``seq``."""

    src: str
    dst: str
    term: int
    seq: int


RaftMessage: TypeAlias = (
    RequestVote
    | RequestVoteResponse
    | AppendEntries
    | AppendEntriesResponse
    | InstallSnapshot
    | InstallSnapshotResponse
    | ReadProbe
    | ReadProbeAck
)
"""Any message a Raft node sends or receives."""

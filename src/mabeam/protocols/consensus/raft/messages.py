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


RaftMessage: TypeAlias = RequestVote | RequestVoteResponse | AppendEntries | AppendEntriesResponse
"""Any message a Raft node sends or receives."""

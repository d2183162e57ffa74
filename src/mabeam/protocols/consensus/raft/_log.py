"""The replicated log of one node: entries, commit and apply positions, written through storage.

Indices start at 1. The log may begin after a snapshot: ``offset`` is the snapshot's last
index (0 without one) and ``offset_term`` its term, and the entries held are those from
``offset + 1`` on; the entry at ``offset`` plays the role of index 0 (its term is known, its
data is in the snapshot). Every change to the entries goes to the storage before the method
returns, so whatever a node says afterwards is backed by a durable log (Figure 2).
``committed`` and ``applied`` are volatile: a restarted node starts from its snapshot's index
and learns the commit index again from the leader.
"""

from __future__ import annotations

from collections.abc import Sequence

from .messages import Entry, Snapshot
from .storage import RaftStorage


class RaftLog:
    """Entries plus the commit and apply positions, after etcd's ``raftLog``."""

    def __init__(
        self, storage: RaftStorage, entries: list[Entry], snapshot: Snapshot | None = None
    ) -> None:
        self._storage = storage
        self.offset = 0 if snapshot is None else snapshot.index
        self.offset_term = 0 if snapshot is None else snapshot.term
        # Entries a crash left behind the snapshot are covered by it.
        self._entries = [entry for entry in entries if entry.index > self.offset]
        self.committed = self.offset
        self.applied = self.offset

    @property
    def first_index(self) -> int:
        """The index of the first entry held (``offset + 1``)."""
        return self.offset + 1

    @property
    def last_index(self) -> int:
        """The index of the last entry (the snapshot's when no entry follows it)."""
        return self.offset + len(self._entries)

    @property
    def last_term(self) -> int:
        """The term of the last entry (the snapshot's when no entry follows it)."""
        return self._entries[-1].term if self._entries else self.offset_term

    def term_at(self, index: int) -> int:
        """The term of the entry at ``index``: -1 past the end or below the snapshot."""
        offset = self.offset
        if index == offset:
            return self.offset_term
        if offset < index <= offset + len(self._entries):
            return self._entries[index - offset - 1].term
        return -1

    def entry(self, index: int) -> Entry:
        """The entry at ``index`` (it must be held: above the snapshot, at most last)."""
        if index <= self.offset:
            raise IndexError(index)
        return self._entries[index - self.offset - 1]

    def entries(self) -> list[Entry]:
        """A copy of every entry held (those after the snapshot)."""
        return list(self._entries)

    def slice(self, first: int, limit: int) -> tuple[Entry, ...]:
        """At most ``limit`` entries from index ``first`` (> offset) on."""
        start = first - self.offset - 1
        return tuple(self._entries[start : start + limit])

    def match_term(self, index: int, term: int) -> bool:
        """Whether the entry at ``index`` has ``term`` (the AppendEntries consistency check)."""
        return self.term_at(index) == term

    def is_up_to_date(self, last_index: int, last_term: int) -> bool:
        """Whether a log ending at (last_term, last_index) is at least as up to date (§5.4.1)."""
        mine = self.last_term
        return last_term > mine or (last_term == mine and last_index >= self.last_index)

    def find_conflict_by_term(self, index: int, term: int) -> tuple[int, int]:
        """The largest index <= ``index`` whose term is <= ``term``, with that term.

        etcd's ``findConflictByTerm``: every entry above the returned index has a term above
        ``term``, so it cannot match an entry of term ``term`` in the other log. Below the
        snapshot nothing is known: (0, 0) then.
        """
        index = min(index, self.last_index)
        offset = self.offset
        while index > offset:
            found = self._entries[index - offset - 1].term
            if found <= term:
                return index, found
            index -= 1
        if index == offset and offset and self.offset_term <= term:
            return offset, self.offset_term
        return 0, 0

    def append(self, entries: Sequence[Entry]) -> None:
        """Append entries that follow the last index, durably."""
        self._storage.append(entries)
        self._entries.extend(entries)

    def maybe_append(
        self, prev_index: int, prev_term: int, leader_commit: int, entries: Sequence[Entry]
    ) -> int | None:
        """Apply an AppendEntries; the last index it vouches for, or None if prev does not match.

        Entries that are already present are kept: the log is truncated only at the first
        entry whose term conflicts (Figure 2, receiver rule 3), so a duplicate, reordered or
        empty AppendEntries never removes a matching entry. The commit index moves to
        min(leader_commit, the last index this message vouches for), never past it.
        """
        if not self.match_term(prev_index, prev_term):
            return None
        last_new = prev_index + len(entries)
        for position, entry in enumerate(entries):
            if self.term_at(entry.index) != entry.term:
                if entry.index <= self.last_index:
                    self._storage.truncate_after(entry.index - 1)
                    del self._entries[entry.index - self.offset - 1 :]
                self.append(entries[position:])
                break
        self.commit_to(min(leader_commit, last_new))
        return last_new

    def commit_to(self, index: int) -> bool:
        """Raise the commit index to ``index`` (never lowers it); whether it moved."""
        if index > self.committed:
            self.committed = index
            return True
        return False

    def take_committed(self) -> list[Entry]:
        """The entries committed but not yet handed out for applying, each once, in order."""
        if self.applied >= self.committed:
            return []
        offset = self.offset
        out = self._entries[self.applied - offset : self.committed - offset]
        self.applied = self.committed
        return out

    def compact(self, snapshot: Snapshot) -> None:
        """Drop the entries up to ``snapshot.index`` (applied, so committed), durably."""
        self._storage.apply_snapshot(snapshot, keep_log=True)
        del self._entries[: snapshot.index - self.offset]
        self.offset, self.offset_term = snapshot.index, snapshot.term

    def restore(self, snapshot: Snapshot) -> None:
        """Install a leader's snapshot: keep the entries after it only if the log agrees at
        its last entry (the extended paper's InstallSnapshot rule 6), durably. The snapshot
        is committed and, once the state machine loads it, applied."""
        keep = self.match_term(snapshot.index, snapshot.term) and snapshot.index <= self.last_index
        self._storage.apply_snapshot(snapshot, keep_log=keep)
        if keep:
            del self._entries[: snapshot.index - self.offset]
        else:
            self._entries = []
        self.offset, self.offset_term = snapshot.index, snapshot.term
        self.committed = max(self.committed, snapshot.index)
        self.applied = snapshot.index

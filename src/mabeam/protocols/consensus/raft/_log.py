"""The replicated log of one node: entries, commit and apply positions, written through storage.

Indices start at 1; index 0 is the empty prefix with term 0. Every change to the entries goes
to the storage before the method returns, so whatever a node says afterwards is backed by a
durable log (Figure 2). ``committed`` and ``applied`` are volatile: a restarted node starts
from 0 and learns the commit index again from the leader.
"""

from __future__ import annotations

from collections.abc import Sequence

from .messages import Entry
from .storage import RaftStorage


class RaftLog:
    """Entries plus the commit and apply positions, after etcd's ``raftLog``."""

    def __init__(self, storage: RaftStorage, entries: list[Entry]) -> None:
        self._storage = storage
        self._entries = entries
        self.committed = 0
        self.applied = 0

    @property
    def last_index(self) -> int:
        """The index of the last entry (0 when empty)."""
        return len(self._entries)

    @property
    def last_term(self) -> int:
        """The term of the last entry (0 when empty)."""
        return self._entries[-1].term if self._entries else 0

    def term_at(self, index: int) -> int:
        """The term of the entry at ``index``: 0 for index 0, -1 past the end."""
        if index == 0:
            return 0
        if 0 < index <= len(self._entries):
            return self._entries[index - 1].term
        return -1

    def entry(self, index: int) -> Entry:
        """The entry at ``index`` (1-based)."""
        return self._entries[index - 1]

    def entries(self) -> list[Entry]:
        """A copy of every entry."""
        return list(self._entries)

    def slice(self, first: int, limit: int) -> tuple[Entry, ...]:
        """At most ``limit`` entries from index ``first`` on."""
        return tuple(self._entries[first - 1 : first - 1 + limit])

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
        ``term``, so it cannot match an entry of term ``term`` in the other log.
        """
        index = min(index, len(self._entries))
        while index > 0:
            found = self._entries[index - 1].term
            if found <= term:
                return index, found
            index -= 1
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
        for offset, entry in enumerate(entries):
            if self.term_at(entry.index) != entry.term:
                if entry.index <= len(self._entries):
                    self._storage.truncate_after(entry.index - 1)
                    del self._entries[entry.index - 1 :]
                self.append(entries[offset:])
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
        out = self._entries[self.applied : self.committed]
        self.applied = self.committed
        return out

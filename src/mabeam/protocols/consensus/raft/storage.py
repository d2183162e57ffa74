"""Durable Raft state: the current term, the vote and the log (Figure 2, "persistent state").

:class:`RaftStorage` is the pluggable interface; :class:`MemoryStorage` keeps the state in
memory for simulation. The same storage object is handed to every incarnation of a node, so a
crash-restart of the actor keeps what was persisted and loses everything else, as a disk would.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import msgspec

from .messages import Entry


class HardState(msgspec.Struct, frozen=True):
    """The term and the vote cast in it: written before any message that depends on them."""

    term: int = 0
    voted_for: str | None = None


class RaftStorage(Protocol):
    """Where a node keeps its durable state; every write is durable when the call returns."""

    def load(self) -> tuple[HardState, list[Entry]]:
        """The persisted hard state and log (entries at indices 1, 2, ... in order)."""
        ...

    def save_hard_state(self, state: HardState) -> None:
        """Replace the persisted term and vote."""
        ...

    def append(self, entries: Sequence[Entry]) -> None:
        """Append entries that follow the current last index."""
        ...

    def truncate_after(self, index: int) -> None:
        """Drop every entry with an index greater than ``index``."""
        ...


class MemoryStorage:
    """A :class:`RaftStorage` in memory, shared by every incarnation of one node.

    Counts its writes (``writes``) so tests and benchmarks can see persistence happen.
    """

    def __init__(self, hard_state: HardState | None = None, log: Sequence[Entry] = ()) -> None:
        self._hard_state = hard_state if hard_state is not None else HardState()
        self._log: list[Entry] = []
        self.writes = 0
        self.append(log)

    def load(self) -> tuple[HardState, list[Entry]]:
        """The persisted hard state and a copy of the log."""
        return self._hard_state, list(self._log)

    def save_hard_state(self, state: HardState) -> None:
        """Replace the persisted term and vote."""
        self._hard_state = state
        self.writes += 1

    def append(self, entries: Sequence[Entry]) -> None:
        """Append entries that follow the current last index (checked: a gap is a bug)."""
        for entry in entries:
            expected = len(self._log) + 1
            if entry.index != expected:
                raise ValueError(f"entry index {entry.index} does not follow {expected - 1}")
            self._log.append(entry)
        if entries:
            self.writes += 1

    def truncate_after(self, index: int) -> None:
        """Drop every entry with an index greater than ``index``."""
        if index < len(self._log):
            del self._log[max(index, 0) :]
            self.writes += 1

    @property
    def hard_state(self) -> HardState:
        """The persisted term and vote."""
        return self._hard_state

    @property
    def entries(self) -> list[Entry]:
        """A copy of the persisted log."""
        return list(self._log)

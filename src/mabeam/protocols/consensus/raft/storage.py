"""Durable Raft state: the current term, the vote, the log and the latest snapshot (Figure 2,
"persistent state", and §7 of the extended paper).

The log kept is what follows the snapshot: :meth:`RaftStorage.apply_snapshot` stores a new
snapshot and drops every entry it covers (compaction, or a snapshot installed from the leader).

:class:`RaftStorage` is the pluggable interface; :class:`MemoryStorage` keeps the state in
memory for simulation. The same storage object is handed to every incarnation of a node, so a
crash-restart of the actor keeps what was persisted and loses everything else, as a disk would.
:class:`FileStorage` keeps it in a directory, for nodes that must survive the process.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import msgspec

from .messages import Entry, Snapshot


class HardState(msgspec.Struct, frozen=True):
    """The term and the vote cast in it: written before any message that depends on them."""

    term: int = 0
    voted_for: str | None = None


class RaftStorage(Protocol):
    """Where a node keeps its durable state; every write is durable when the call returns."""

    def load(self) -> tuple[HardState, list[Entry]]:
        """The persisted hard state and log (the entries after the snapshot, in order)."""
        ...

    def load_snapshot(self) -> Snapshot | None:
        """The latest snapshot stored, if any."""
        ...

    def apply_snapshot(self, snapshot: Snapshot, *, keep_log: bool) -> None:
        """Store ``snapshot`` in place of the older one and drop the entries it covers.

        With ``keep_log`` the entries after ``snapshot.index`` stay (a node compacting its
        own log, or a follower whose log matches the snapshot's last entry); without it the
        whole log goes (its entries conflict with the snapshot).
        """
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
        self._snapshot: Snapshot | None = None
        self._offset = 0
        self.writes = 0
        self.append(log)

    def load_snapshot(self) -> Snapshot | None:
        """The latest snapshot stored, if any."""
        return self._snapshot

    def apply_snapshot(self, snapshot: Snapshot, *, keep_log: bool) -> None:
        """Store ``snapshot`` and drop the entries it covers (all of them without keep_log)."""
        if keep_log:
            del self._log[: max(0, snapshot.index - self._offset)]
        else:
            self._log = []
        self._snapshot = snapshot
        self._offset = snapshot.index
        self.writes += 1

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
            expected = self._offset + len(self._log) + 1
            if entry.index != expected:
                raise ValueError(f"entry index {entry.index} does not follow {expected - 1}")
            self._log.append(entry)
        if entries:
            self.writes += 1

    def truncate_after(self, index: int) -> None:
        """Drop every entry with an index greater than ``index``."""
        if index < self._offset + len(self._log):
            del self._log[max(index - self._offset, 0) :]
            self.writes += 1

    @property
    def hard_state(self) -> HardState:
        """The persisted term and vote."""
        return self._hard_state

    @property
    def entries(self) -> list[Entry]:
        """A copy of the persisted log (the entries after the snapshot)."""
        return list(self._log)

    @property
    def size(self) -> int:
        """Entries held plus the snapshot's bytes: what a bounded-storage test measures."""
        snapshot = self._snapshot
        return len(self._log) + (0 if snapshot is None else len(snapshot.data))


_FRAME = struct.Struct(">I")
_ENTRY_ENCODER = msgspec.msgpack.Encoder()
_ENTRY_DECODER = msgspec.msgpack.Decoder(Entry)
_HARD_DECODER = msgspec.msgpack.Decoder(HardState)


class _SnapshotFile(msgspec.Struct, frozen=True):
    """What the ``snapshot`` file holds: the snapshot and which log file goes with it."""

    snapshot: Snapshot
    generation: int


_SNAPSHOT_DECODER = msgspec.msgpack.Decoder(_SnapshotFile)


class FileStorage:
    """A :class:`RaftStorage` in a directory: ``hard_state``, an append-only ``log`` and
    the latest ``snapshot``.

    The hard state is replaced atomically (write a temporary file, fsync, rename); entries
    are appended to the log as length-prefixed msgpack frames and fsynced before the call
    returns. A frame torn by a crash mid-append is dropped when the log is opened again: the
    node never acknowledged it, since acknowledgments leave only after the append returned.
    ``fsync=False`` skips the flushes to disk (faster, durable only against process crashes).
    Entry data comes back as msgpack decodes it: structs as dicts, tuples as lists.

    A snapshot switches to a new log file: the entries kept are written to ``log.<g+1>``
    (synced), then the ``snapshot`` file naming generation g+1 replaces the old one
    atomically (the commit point), then the old log file goes. A crash at any step leaves
    either the old snapshot with the old log or the new snapshot with the new log.
    """

    def __init__(self, directory: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self._dir = Path(directory)
        self._dir.mkdir(parents=True, exist_ok=True)
        self._fsync = fsync
        self._hard_path = self._dir / "hard_state"
        self._snapshot_path = self._dir / "snapshot"
        self._offsets: list[int] = []  # byte offset of each entry's frame, first entry first
        self._entries: list[Entry] = []
        self._hard_state = HardState()
        self._snapshot: Snapshot | None = None
        self._generation = 0
        if self._hard_path.exists():
            self._hard_state = _HARD_DECODER.decode(self._hard_path.read_bytes())
        if self._snapshot_path.exists():
            stored = _SNAPSHOT_DECODER.decode(self._snapshot_path.read_bytes())
            self._snapshot, self._generation = stored.snapshot, stored.generation
        self._log_path = self._log_file(self._generation)
        for stale in self._dir.glob("log*"):
            if stale != self._log_path:
                stale.unlink()  # a log file of a snapshot that never committed, or replaced
        self._read_log()

    def _log_file(self, generation: int) -> Path:
        return self._dir / ("log" if generation == 0 else f"log.{generation}")

    @property
    def _offset(self) -> int:
        return 0 if self._snapshot is None else self._snapshot.index

    def load_snapshot(self) -> Snapshot | None:
        """The latest snapshot stored, if any."""
        return self._snapshot

    def apply_snapshot(self, snapshot: Snapshot, *, keep_log: bool) -> None:
        """Store ``snapshot`` and switch to a log of the entries after it (see the class)."""
        kept = self._entries[max(0, snapshot.index - self._offset) :] if keep_log else []
        generation = self._generation + 1
        new_log = self._log_file(generation)
        offsets = []
        frames = bytearray()
        for entry in kept:
            body = _ENTRY_ENCODER.encode(entry)
            offsets.append(len(frames))
            frames += _FRAME.pack(len(body)) + body
        with new_log.open("wb") as log:
            log.write(frames)
            log.flush()
            self._sync(log.fileno())
        temporary = self._snapshot_path.with_suffix(".tmp")
        with temporary.open("wb") as out:
            out.write(msgspec.msgpack.encode(_SnapshotFile(snapshot, generation)))
            out.flush()
            self._sync(out.fileno())
        temporary.replace(self._snapshot_path)
        self._log_path.unlink(missing_ok=True)
        self._log_path = new_log
        self._generation = generation
        self._snapshot = snapshot
        self._entries = list(kept)
        self._offsets = offsets
        self._end = len(frames)

    def _read_log(self) -> None:
        data = self._log_path.read_bytes() if self._log_path.exists() else b""
        position = 0
        while position + _FRAME.size <= len(data):
            (size,) = _FRAME.unpack_from(data, position)
            end = position + _FRAME.size + size
            if end > len(data):
                break
            self._offsets.append(position)
            self._entries.append(_ENTRY_DECODER.decode(data[position + _FRAME.size : end]))
            position = end
        if position != len(data):  # a torn last frame
            with self._log_path.open("r+b") as log:
                log.truncate(position)
                self._sync(log.fileno())
        self._end = position

    def _sync(self, fd: int) -> None:
        if self._fsync:
            os.fsync(fd)

    def load(self) -> tuple[HardState, list[Entry]]:
        """The persisted hard state and a copy of the log."""
        return self._hard_state, list(self._entries)

    def save_hard_state(self, state: HardState) -> None:
        """Replace the persisted term and vote atomically."""
        temporary = self._hard_path.with_suffix(".tmp")
        with temporary.open("wb") as out:
            out.write(msgspec.msgpack.encode(state))
            out.flush()
            self._sync(out.fileno())
        temporary.replace(self._hard_path)
        self._hard_state = state

    def append(self, entries: Sequence[Entry]) -> None:
        """Append entries that follow the current last index, durably."""
        if not entries:
            return
        frames = bytearray()
        for offset, entry in enumerate(entries):
            expected = self._offset + len(self._entries) + offset + 1
            if entry.index != expected:
                raise ValueError(f"entry index {entry.index} does not follow {expected - 1}")
            body = _ENTRY_ENCODER.encode(entry)
            self._offsets.append(self._end + len(frames))
            frames += _FRAME.pack(len(body)) + body
        with self._log_path.open("ab") as log:
            log.write(frames)
            log.flush()
            self._sync(log.fileno())
        self._entries.extend(entries)
        self._end += len(frames)

    def truncate_after(self, index: int) -> None:
        """Drop every entry with an index greater than ``index``, durably."""
        index -= self._offset
        if index >= len(self._entries):
            return
        index = max(index, 0)
        self._end = self._offsets[index]
        with self._log_path.open("r+b") as log:
            log.truncate(self._end)
            self._sync(log.fileno())
        del self._entries[index:], self._offsets[index:]

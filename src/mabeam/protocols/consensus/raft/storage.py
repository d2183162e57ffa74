"""Durable Raft state: the current term, the vote and the log (Figure 2, "persistent state").

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


_FRAME = struct.Struct(">I")
_ENTRY_ENCODER = msgspec.msgpack.Encoder()
_ENTRY_DECODER = msgspec.msgpack.Decoder(Entry)
_HARD_DECODER = msgspec.msgpack.Decoder(HardState)


class FileStorage:
    """A :class:`RaftStorage` in a directory: ``hard_state`` and an append-only ``log``.

    The hard state is replaced atomically (write a temporary file, fsync, rename); entries
    are appended to the log as length-prefixed msgpack frames and fsynced before the call
    returns. A frame torn by a crash mid-append is dropped when the log is opened again: the
    node never acknowledged it, since acknowledgments leave only after the append returned.
    ``fsync=False`` skips the flushes to disk (faster, durable only against process crashes).
    Entry data comes back as msgpack decodes it: structs as dicts, tuples as lists.
    """

    def __init__(self, directory: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self._dir = Path(directory)
        self._dir.mkdir(parents=True, exist_ok=True)
        self._fsync = fsync
        self._hard_path = self._dir / "hard_state"
        self._log_path = self._dir / "log"
        self._offsets: list[int] = []  # byte offset of each entry's frame, entry 1 first
        self._entries: list[Entry] = []
        self._hard_state = HardState()
        if self._hard_path.exists():
            self._hard_state = _HARD_DECODER.decode(self._hard_path.read_bytes())
        self._read_log()

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
            expected = len(self._entries) + offset + 1
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
        if index >= len(self._entries):
            return
        index = max(index, 0)
        self._end = self._offsets[index]
        with self._log_path.open("r+b") as log:
            log.truncate(self._end)
            self._sync(log.fileno())
        del self._entries[index:], self._offsets[index:]

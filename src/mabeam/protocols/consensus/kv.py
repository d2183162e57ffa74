"""A replicated key-value state machine: the committed log, applied in order, exactly once.

Each Raft node owns one :class:`KVStateMachine` (volatile: a restarted node rebuilds it from
its latest snapshot, if any, and the committed log after it). Commands are :class:`Put`,
:class:`Get`, :class:`Delete` and :class:`Add`; any other value is an opaque command whose
result is itself.

Client sessions (Raft thesis §6.3): a client tags each command with its id and a sequence
number (:class:`ClientCommand`). A client retries through redirects and elections, so the
same request can reach the log twice; the state machine executes it once and answers a
duplicate with the first execution's result. Clients may pipeline: ``acked_below`` tells
the state machine that every sequence number below it has been answered, so their cached
results can go. Everything here is a function of the log, so every node agrees.

A command whose execution raises (``Put("x", "text")`` then ``Add("x", 1)``) is applied
all the same: its result is an :class:`ApplyError` naming the exception, the same on every
node (applying is deterministic, so is its failure), a retry gets it from the session
cache, and the log moves on. Your own state machine subclasses :class:`KVStateMachine` and
overrides :meth:`~KVStateMachine.execute`; the Raft and PBFT clusters take its class (any
factory) as ``machine``, so each node, and each restart of one, gets a fresh machine. It
gets the same sessions and the same rule.

Snapshots: :meth:`KVStateMachine.snapshot` encodes the whole machine (store, sessions,
counters) as msgpack bytes and :meth:`KVStateMachine.restore` loads them back, so Raft can
drop the log below it. A machine whose state lives beyond :attr:`~KVStateMachine.data`
overrides the hooks :meth:`~KVStateMachine.snapshot_state` and
:meth:`~KVStateMachine.restore_state` (what they return must be msgpack-encodable; as with
:class:`~.raft.storage.FileStorage`, structs come back as dicts). Nothing is instantiated from
a snapshot but plain values (and the commands' own structs, by their tag).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ..._errors import CommandFailedError


class Put(msgspec.Struct, frozen=True, tag=True):
    """Set ``key`` to ``value``; the result is the previous value (None if none)."""

    key: str
    value: Any


class Get(msgspec.Struct, frozen=True, tag=True):
    """Read ``key`` through the log (linearizable); the result is its value or None."""

    key: str


class Delete(msgspec.Struct, frozen=True, tag=True):
    """Remove ``key``; the result is the value it had (None if none)."""

    key: str


class Add(msgspec.Struct, frozen=True, tag=True):
    """Add ``amount`` to the number at ``key`` (0 if none); the result is the new number.

    Not idempotent: applying it twice shows, which is what exactly-once tests need.
    """

    key: str
    amount: float = 1


class ClientCommand(msgspec.Struct, frozen=True, tag=True):
    """A client's command as it sits in the log: (client, seq) identifies it for dedup."""

    client: str
    seq: int
    command: Any
    acked_below: int = 0


class ApplyError(msgspec.Struct, frozen=True, tag=True):
    """The result of a command whose execution raised: ``error`` is the exception's class
    name, ``message`` its text.

    Deterministic (no traceback, no memory address), so every node records the same one
    and it encodes like any other result (replies, PBFT's f + 1 matching votes); encoded,
    its ``type`` tag says "ApplyError".
    """

    error: str
    message: str

    @classmethod
    def from_exception(cls, exc: Exception) -> ApplyError:
        """The error result recording ``exc``."""
        try:
            text = str(exc)
        except Exception:  # a broken __str__ must not break applying
            text = ""
        text = _ADDRESS.sub("", text)
        if len(text) > _MAX_MESSAGE:
            text = text[: _MAX_MESSAGE - 3] + "..."
        return cls(type(exc).__name__, text)

    def exception(self, outcome: Any = None) -> CommandFailedError:
        """This failure as the exception the library API raises."""
        return CommandFailedError(self.error, self.message, outcome=outcome)


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
"""`` at 0x7f...`` in a default repr: differs between processes, so never recorded."""
_MAX_MESSAGE = 500


_Command = ClientCommand | Put | Get | Delete | Add
_TAGS = frozenset({"ClientCommand", "Put", "Get", "Delete", "Add"})


def restore(data: Any) -> Any:
    """A command as a store that keeps msgpack gives it back (a dict with its ``type``
    tag), turned back into its Struct; anything else unchanged."""
    if type(data) is not dict or data.get("type") not in _TAGS:
        return data
    try:
        command = msgspec.convert(data, _Command)
    except msgspec.ValidationError:
        return data
    if isinstance(command, ClientCommand):
        command = msgspec.structs.replace(command, command=restore(command.command))
    return command


@dataclass
class _Session:
    floor: int = 0
    """Every seq below this is done (answered); a request below it is a stale duplicate."""
    results: dict[int, Any] = field(default_factory=dict)
    """Results of executed seqs >= floor, kept to answer a retry."""


class KVStateMachine:
    """Applies committed entries (see the module docstring); :attr:`data` is the store."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.last_applied = 0
        self.executed = 0
        """Commands executed (a duplicate is not executed again)."""
        self.duplicates = 0
        self.failed = 0
        """Commands whose execution raised (their result is an :class:`ApplyError`)."""
        self._sessions: dict[str, _Session] = {}

    def apply(self, index: int, data: Any) -> Any:
        """Apply the entry at ``index`` (the next one: in order, each once); its result.

        ``data`` None is a leader's no-op: it advances :attr:`last_applied` only.
        """
        if index != self.last_applied + 1:
            raise ValueError(
                f"entry {index} applied out of order (last applied {self.last_applied})"
            )
        self.last_applied = index
        if data is None:
            return None
        if type(data) is dict:
            data = restore(data)
        if isinstance(data, ClientCommand):
            return self._apply_session(data)
        return self._run(data)

    def is_duplicate(self, client: str, seq: int) -> bool:
        """Whether (client, seq) was executed already (or is below the client's floor)."""
        session = self._sessions.get(client)
        return session is not None and (seq < session.floor or seq in session.results)

    def cached_result(self, client: str, seq: int) -> Any:
        """The result of an executed (client, seq) still cached, else None."""
        session = self._sessions.get(client)
        return None if session is None else session.results.get(seq)

    def _apply_session(self, request: ClientCommand) -> Any:
        session = self._sessions.get(request.client)
        if session is None:
            session = self._sessions[request.client] = _Session()
        if request.acked_below > session.floor:
            session.floor = request.acked_below
            for seq in [s for s in session.results if s < session.floor]:
                del session.results[seq]
        if request.seq < session.floor or request.seq in session.results:
            self.duplicates += 1
            return session.results.get(request.seq)
        result = self._run(request.command)
        session.results[request.seq] = result
        return result

    def _run(self, command: Any) -> Any:
        """Execute ``command``; an exception becomes its :class:`ApplyError` result.

        Only ``Exception``: a ``BaseException`` (cancellation, exit) propagates, and so
        does ``MemoryError``, which says something about this node, not about the command
        (recording it would let nodes disagree). Nothing is rolled back: what ``execute``
        changed before raising stays changed, the same on every node.
        """
        self.executed += 1
        try:
            return self.execute(command)
        except MemoryError:
            raise
        except Exception as exc:
            self.failed += 1
            return ApplyError.from_exception(exc)

    def read(self, key: str) -> Any:
        """A read served without a log entry (ReadIndex): the value at ``key``, or None."""
        return self.data.get(key)

    def snapshot(self) -> bytes:
        """The whole machine as bytes (see the module docstring), for Raft's snapshots."""
        sessions = {
            client: (session.floor, sorted(session.results.items()))
            for client, session in self._sessions.items()
        }
        return _SNAPSHOT_ENCODER.encode(
            _MachineSnapshot(
                self.last_applied,
                self.executed,
                self.duplicates,
                self.failed,
                sessions,
                self.snapshot_state(),
            )
        )

    def restore(self, data: bytes) -> None:
        """Replace this machine's state with a :meth:`snapshot` (any node's, same class)."""
        snapshot = _SNAPSHOT_DECODER.decode(data)
        self.last_applied = snapshot.last_applied
        self.executed = snapshot.executed
        self.duplicates = snapshot.duplicates
        self.failed = snapshot.failed
        self._sessions = {
            client: _Session(floor, {seq: _restore_result(r) for seq, r in results})
            for client, (floor, results) in snapshot.sessions.items()
        }
        self.restore_state(snapshot.state)

    def snapshot_state(self) -> Any:
        """Hook: the application state to snapshot (default: :attr:`data`)."""
        return self.data

    def restore_state(self, state: Any) -> None:
        """Hook: load what :meth:`snapshot_state` returned (default: into :attr:`data`)."""
        self.data = dict(state)

    def execute(self, command: Any) -> Any:
        """Execute one command (a duplicate never reaches here); its result.

        The hook for your own state machine: override it (keep it deterministic: a function
        of the commands applied before). Raising fails only this command.
        """
        data = self.data
        if isinstance(command, Put):
            previous = data.get(command.key)
            data[command.key] = command.value
            return previous
        if isinstance(command, Get):
            return data.get(command.key)
        if isinstance(command, Delete):
            return data.pop(command.key, None)
        if isinstance(command, Add):
            total = data.get(command.key, 0) + command.amount
            data[command.key] = total
            return total
        return command


class _MachineSnapshot(msgspec.Struct, frozen=True):
    """What :meth:`KVStateMachine.snapshot` encodes."""

    last_applied: int
    executed: int
    duplicates: int
    failed: int
    sessions: dict[str, tuple[int, list[tuple[int, Any]]]]
    state: Any


_SNAPSHOT_ENCODER = msgspec.msgpack.Encoder()
_SNAPSHOT_DECODER = msgspec.msgpack.Decoder(_MachineSnapshot)


def _restore_result(value: Any) -> Any:
    if type(value) is dict and value.get("type") == "ApplyError":
        try:
            return msgspec.convert(value, ApplyError)
        except msgspec.ValidationError:
            return value
    return restore(value)


StateMachineFactory = Callable[[], KVStateMachine]
"""What the clusters take as ``machine``: a fresh state machine for each node incarnation."""

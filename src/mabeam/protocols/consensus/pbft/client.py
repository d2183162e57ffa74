"""The pure PBFT client (§4.1): one request per timestamp, accepted on f + 1 matching replies.

A client sends a request to the replica it believes is the primary; if no result arrives
within ``retransmit_ms`` it sends the request to every replica (which starts their
view-change timers) and keeps doing so on each timeout. A result is accepted once f + 1
replicas - so at least one correct - sent the same result at the same sequence number for
the same timestamp; the view they report becomes the client's idea of the current view.
Requests may be pipelined: each has its own timestamp, and ``acked_below`` tells replicas
which results they may forget.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ...._errors import ConfigError
from .auth import Keyring
from .messages import Reply, ReplyEntry, Request
from .replica import faults_tolerated

_encode = msgspec.msgpack.Encoder().encode


@dataclass
class _Pending:
    request: Request
    due: float
    votes: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    results: dict[bytes, Any] = field(default_factory=dict)


@dataclass
class Accepted:
    """A request's accepted result."""

    timestamp: int
    result: Any
    view: int
    seq: int


@dataclass
class ClientReady:
    """What the client produced: (replica, request) sends and accepted results."""

    messages: list[tuple[str, Request]] = field(default_factory=list)
    accepted: list[Accepted] = field(default_factory=list)

    def outbox(self) -> list[tuple[str, Request]]:
        """``messages``, already (replica, request) pairs."""
        return self.messages


class PbftClient:
    """A client of ``replicas`` (in replica order) named ``client_id``."""

    def __init__(
        self,
        client_id: str,
        replicas: Sequence[str],
        keyring: Keyring,
        *,
        retransmit_ms: float = 300.0,
    ) -> None:
        if not retransmit_ms > 0:
            raise ConfigError("retransmit_ms", f"must be > 0, got {retransmit_ms}")
        if not replicas:
            raise ConfigError("replicas", "needs at least one replica")
        self.id = client_id
        self.replicas = tuple(replicas)
        self.keyring = keyring
        self.f = faults_tolerated(len(self.replicas))
        self.retransmit_ms = retransmit_ms
        self.view = 0
        self.retransmissions = 0
        self.dropped = 0
        """Replies refused (bad MAC, unknown sender, not ours, garbage)."""
        self._next = 1
        self._pending: dict[int, _Pending] = {}
        self._by_due: deque[int] = deque()
        """Outstanding timestamps in order of their due time (answered ones skipped lazily)."""
        self._out: list[tuple[str, Request]] = []
        self._accepted: list[Accepted] = []

    @property
    def outstanding(self) -> int:
        """Requests not answered yet."""
        return len(self._pending)

    def submit(self, operation: Any, now: float) -> int:
        """Send ``operation`` to the primary; its timestamp (the key of its result)."""
        timestamp = self._next
        self._next += 1
        # Timestamps enter in increasing order and dicts keep it: the first is the lowest.
        acked = next(iter(self._pending), timestamp)
        request = self.keyring.authenticator(
            Request(self.id, timestamp, operation, acked), self.replicas
        )
        self._pending[timestamp] = _Pending(request, now + self.retransmit_ms)
        self._by_due.append(timestamp)
        self._out.append((self.replicas[self.view % len(self.replicas)], request))
        return timestamp

    def step(self, reply: Any, now: float) -> None:
        """A replica's reply (anything else, or an unauthentic one, is counted and dropped)."""
        try:
            ok = (
                isinstance(reply, Reply)
                and reply.dst == self.id
                and reply.src in self.replicas
                and self.keyring.check(reply)
                and all(isinstance(entry, ReplyEntry) for entry in reply.results)
            )
        except (TypeError, ValueError, AttributeError, msgspec.EncodeError):
            ok = False
        if not ok:
            self.dropped += 1
            return
        for entry in reply.results:
            self._vote(reply.src, reply.view, entry)

    def _vote(self, src: str, view: int, entry: ReplyEntry) -> None:
        pending = self._pending.get(entry.timestamp)
        if pending is None:
            return
        key = _encode((entry.seq, entry.result))
        pending.votes[src] = (view, key)
        pending.results.setdefault(key, entry.result)
        matching = [v for v, k in pending.votes.values() if k == key]
        if len(matching) > self.f:
            del self._pending[entry.timestamp]
            self.view = max(self.view, max(matching))
            self._accepted.append(
                Accepted(entry.timestamp, pending.results[key], self.view, entry.seq)
            )

    def deadline(self) -> float:
        """The next retransmission time (inf: nothing outstanding)."""
        order = self._by_due
        while order and order[0] not in self._pending:
            order.popleft()
        return self._pending[order[0]].due if order else float("inf")

    def tick(self, now: float) -> None:
        """Retransmit every request whose timer expired, to all replicas."""
        order = self._by_due
        pending = self._pending
        while order:
            timestamp = order[0]
            entry = pending.get(timestamp)
            if entry is None:
                order.popleft()
                continue
            if entry.due > now:
                break
            order.popleft()
            entry.due = now + self.retransmit_ms
            order.append(timestamp)  # now + retransmit_ms: no earlier than any other due
            self.retransmissions += 1
            self._out.extend((replica, entry.request) for replica in self.replicas)

    def ready(self) -> ClientReady:
        """Requests to send and results accepted since the last call."""
        out, self._out = self._out, []
        accepted, self._accepted = self._accepted, []
        return ClientReady(out, accepted)

"""An in-memory network of pure PBFT replicas and clients on a virtual clock (ms).

:class:`Net` owns the replicas, the clients, a virtual ``now`` and a heap of messages in
flight. Time moves only through :meth:`Net.run_until` / :meth:`Net.run_for`: the next event is
a delivery or a timer deadline, whichever comes first. Faults: ``crash`` (a replica stops),
``byzantine`` (an interceptor rewrites what a replica sends, as the simulated network does),
a message ``drop_rate``, random per-message latency (reorders), and ``filter`` (drop chosen
messages). Every sent message is counted by type in :attr:`Net.sent`.

After every event the safety check runs: no two correct (non-byzantine) replicas executed
different batches at the same sequence number, and none executed a sequence number twice or
out of order. A violation raises :class:`SafetyViolation`.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

from mabeam.protocols.consensus.pbft import (
    Keyring,
    PbftClient,
    PbftConfig,
    PbftReplica,
    Request,
)
from mabeam.protocols.consensus.pbft.byzantine import interceptor
from mabeam.sim import DROP, Interceptor


class SafetyViolation(AssertionError):
    """Two correct replicas disagree on a sequence number (or one executed out of order)."""


class Net:
    """Replicas r0..r{n-1} and clients, wired through an in-memory network."""

    def __init__(
        self,
        n: int = 4,
        *,
        seed: int = 0,
        config: PbftConfig | None = None,
        clients: tuple[str, ...] = ("c",),
        latency: tuple[float, float] = (1.0, 1.0),
        drop_rate: float = 0.0,
        retransmit_ms: float = 300.0,
        machine: Callable[[], Any] | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.keyring = Keyring(seed)
        self.ids = [f"r{i}" for i in range(n)]
        self.config = config or PbftConfig()
        extra: Callable[[], dict[str, Any]] = (
            dict if machine is None else lambda: {"machine": machine()}
        )
        self.replicas = {
            rid: PbftReplica(rid, self.ids, self.keyring, self.config, **extra())
            for rid in self.ids
        }
        self.clients = {
            cid: PbftClient(cid, self.ids, self.keyring, retransmit_ms=retransmit_ms)
            for cid in clients
        }
        self.latency = latency
        self.drop_rate = drop_rate
        self.now = 0.0
        self.crashed: set[str] = set()
        self.byzantine: dict[str, Interceptor] = {}
        self.filter: Callable[[Any, str, str], bool] | None = None
        """``(message, src, dst) -> True`` drops the message."""
        self.sent: Counter[str] = Counter()
        self.results: dict[str, dict[int, Any]] = {cid: {} for cid in clients}
        self._queue: list[tuple[float, int, str, str, Any]] = []
        self._ids = itertools.count()
        self.agreed: dict[int, str] = {}
        self._checked: dict[str, int] = {}
        self.executions: Counter[tuple[str, int]] = Counter()
        """(replica, client timestamp) -> times executed (exactly-once check)."""

    # ------------------------------------------------------------------ faults

    def crash(self, rid: str) -> None:
        self.crashed.add(rid)

    def make_byzantine(self, rid: str, behavior: str) -> None:
        self.byzantine[rid] = interceptor(
            behavior, rid, self.ids, self.keyring, random.Random(f"{rid}:{behavior}")
        )

    def correct(self) -> list[str]:
        """Replicas neither byzantine nor crashed."""
        return [r for r in self.ids if r not in self.byzantine and r not in self.crashed]

    # ------------------------------------------------------------------ traffic

    def submit(self, operation: Any, client: str = "c") -> int:
        timestamp = self.clients[client].submit(operation, self.now)
        self._flush_client(client)
        return timestamp

    def _send(self, src: str, dst: str, message: Any) -> None:
        tamper = self.byzantine.get(src)
        if tamper is not None:
            message = tamper(message, dst)
            if message is DROP:
                return
        self.sent[type(message).__name__] += 1
        if self.filter is not None and self.filter(message, src, dst):
            return
        if self.drop_rate and self.rng.random() < self.drop_rate:
            return
        lo, hi = self.latency
        delay = lo if lo == hi else self.rng.uniform(lo, hi)
        heapq.heappush(self._queue, (self.now + delay, next(self._ids), src, dst, message))

    def _flush_replica(self, rid: str) -> None:
        replica = self.replicas[rid]
        ready = replica.ready()
        for message in ready.messages:
            self._send(rid, message.dst, message)
        for executed in ready.executed:
            self.executions[(rid, executed.request.timestamp)] += 1
        self._check(replica)

    def _flush_client(self, cid: str) -> None:
        ready = self.clients[cid].ready()
        for dst, request in ready.messages:
            self._send(cid, dst, request)
        for accepted in ready.accepted:
            self.results[cid][accepted.timestamp] = accepted.result

    def _check(self, replica: PbftReplica) -> None:
        if replica.id in self.byzantine:
            return
        history = replica.history
        start = self._checked.get(replica.id, 0)
        for position in range(start, len(history)):
            seq, digest = history[position]
            if seq != position + 1:
                raise SafetyViolation(f"{replica.id} executed seq {seq} at position {position}")
            agreed = self.agreed.setdefault(seq, digest)
            if agreed != digest:
                raise SafetyViolation(f"seq {seq}: {replica.id} executed {digest}, not {agreed}")
        self._checked[replica.id] = len(history)

    def _histories(self) -> dict[str, list[tuple[int, str]]]:
        return {r: self.replicas[r].history for r in self.ids if r not in self.byzantine}

    def check_all(self) -> None:
        """The full safety check over every pair of correct replicas."""
        histories = self._histories()
        for a in histories.values():
            for b in histories.values():
                shared = min(len(a), len(b))
                if a[:shared] != b[:shared]:
                    raise SafetyViolation("two correct replicas executed different batches")
        for (rid, timestamp), count in self.executions.items():
            if count > 1 and rid not in self.byzantine:
                raise SafetyViolation(f"{rid} executed request {timestamp} {count} times")

    # ------------------------------------------------------------------ time

    def _next_timer(self) -> tuple[float, str | None]:
        best, who = float("inf"), None
        for rid in self.ids:
            if rid in self.crashed:
                continue
            deadline = self.replicas[rid].deadline()
            if deadline < best:
                best, who = deadline, rid
        for cid, client in self.clients.items():
            deadline = client.deadline()
            if deadline < best:
                best, who = deadline, cid
        return best, who

    def step(self, limit: float) -> bool:
        """Run the next event at or before ``limit``; False if there is none."""
        timer, who = self._next_timer()
        message_at = self._queue[0][0] if self._queue else float("inf")
        if min(timer, message_at) > limit:
            return False
        if timer < message_at:
            self.now = max(self.now, timer)
            assert who is not None
            if who in self.clients:
                self.clients[who].tick(self.now)
                self._flush_client(who)
            else:
                self.replicas[who].tick(self.now)
                self._flush_replica(who)
            return True
        when, _, _src, dst, message = heapq.heappop(self._queue)
        self.now = max(self.now, when)
        if dst in self.clients:
            self.clients[dst].step(message, self.now)
            self._flush_client(dst)
        elif dst in self.replicas and dst not in self.crashed:
            self.replicas[dst].step(message, self.now)
            self._flush_replica(dst)
        return True

    def run_for(self, ms: float) -> None:
        limit = self.now + ms
        while self.step(limit):
            pass
        self.now = max(self.now, limit)
        self.check_all()

    def run_until(self, predicate: Callable[[], bool], limit_ms: float = 10_000.0) -> bool:
        limit = self.now + limit_ms
        while not predicate():
            if not self.step(limit):
                self.check_all()
                return predicate()
        self.check_all()
        return True

    def done(self, client: str = "c") -> bool:
        return self.clients[client].outstanding == 0

    def request(self, client: str, timestamp: int, operation: Any) -> Request:
        """A properly authenticated request (for replay tests)."""
        return self.keyring.authenticator(Request(client, timestamp, operation), tuple(self.ids))

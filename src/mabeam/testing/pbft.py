"""An in-memory network of pure PBFT replicas and clients on a virtual clock (ms).

:class:`Net` owns the replicas, the clients, a virtual ``now`` and a heap of messages in
flight. Time moves only through :meth:`Net.run_until` / :meth:`Net.run_for`: the next event is
a delivery or a timer deadline, whichever comes first. Faults: ``crash`` (a replica stops),
``byzantine`` (an interceptor rewrites what a replica sends, as the simulated network does),
a message ``drop_rate``, ``dup_rate`` (a message delivered twice), random per-message latency
(reorders), ``partition`` (groups that cannot talk), ``restart`` (a crashed replica comes back
empty, or from its :class:`PbftStorage` when ``persist``) and ``filter`` (drop chosen
messages). Every sent message is counted by type in :attr:`Net.sent`.

After every event the safety check runs: no two correct (non-byzantine) replicas executed
different batches at the same sequence number, and none executed a sequence number twice or
out of order (a replica may skip, by state transfer, to just after a checkpoint it took).
A violation raises :class:`SafetyViolation`.
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
from mabeam.protocols.consensus.pbft.storage import PbftStorage
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
        persist: bool = False,
    ) -> None:
        self.rng = random.Random(seed)
        self.keyring = Keyring(seed)
        self.ids = [f"r{i}" for i in range(n)]
        self.config = config or PbftConfig()
        self.machine = machine
        self.storages = {rid: PbftStorage(durable=persist) for rid in self.ids}
        self.replicas = {rid: self._make(rid) for rid in self.ids}
        self.clients = {
            cid: PbftClient(cid, self.ids, self.keyring, retransmit_ms=retransmit_ms)
            for cid in clients
        }
        self.latency = latency
        self.drop_rate = drop_rate
        self.dup_rate = 0.0
        self.groups: list[set[str]] | None = None
        """A partition: a replica talks only within its group (clients reach everyone)."""
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
        self._last: dict[str, int] = {}
        self.executions: Counter[tuple[str, int]] = Counter()
        """(replica, client timestamp) -> times executed (exactly-once check)."""

    # ------------------------------------------------------------------ faults

    def _make(self, rid: str) -> PbftReplica:
        extra: dict[str, Any] = {} if self.machine is None else {"machine": self.machine()}
        return PbftReplica(
            rid,
            self.ids,
            self.keyring,
            self.config,
            now=getattr(self, "now", 0.0),
            storage=self.storages[rid],
            **extra,
        )

    def crash(self, rid: str) -> None:
        self.crashed.add(rid)

    def restart(self, rid: str) -> None:
        """A crashed replica starts again: a new core on its storage."""
        self.crashed.discard(rid)
        self.replicas[rid] = self._make(rid)
        self._checked[rid] = 0
        self._last[rid] = 0
        for key in [k for k in self.executions if k[0] == rid]:
            del self.executions[key]  # a new incarnation: its count starts again
        self._flush_replica(rid)

    def partition(self, *groups: set[str]) -> None:
        self.groups = [set(g) for g in groups]

    def heal(self) -> None:
        """No partition, no loss, no duplication."""
        self.groups = None
        self.drop_rate = 0.0
        self.dup_rate = 0.0

    def _cut(self, src: str, dst: str) -> bool:
        if self.groups is None or src not in self.replicas or dst not in self.replicas:
            return False
        return not any(src in g and dst in g for g in self.groups)

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
        if self._cut(src, dst):
            return
        if self.drop_rate and self.rng.random() < self.drop_rate:
            return
        copies = 2 if self.dup_rate and self.rng.random() < self.dup_rate else 1
        lo, hi = self.latency
        for _ in range(copies):
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
            last = self._last.get(replica.id, 0)
            if seq != last + 1 and not any(last < t == seq - 1 for t in replica.transfers):
                raise SafetyViolation(f"{replica.id} executed seq {seq} after {last}")
            self._last[replica.id] = seq
            agreed = self.agreed.setdefault(seq, digest)
            if agreed != digest:
                raise SafetyViolation(f"seq {seq}: {replica.id} executed {digest}, not {agreed}")
        self._checked[replica.id] = len(history)

    def _histories(self) -> dict[str, list[tuple[int, str]]]:
        return {r: self.replicas[r].history for r in self.ids if r not in self.byzantine}

    def check_all(self) -> None:
        """The full safety check over every pair of correct replicas."""
        histories = {r: dict(h) for r, h in self._histories().items()}
        for a in histories.values():
            for b in histories.values():
                for seq in a.keys() & b.keys():
                    if a[seq] != b[seq]:
                        raise SafetyViolation(f"seq {seq}: two correct replicas differ")
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

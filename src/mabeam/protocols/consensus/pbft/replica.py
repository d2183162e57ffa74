"""The pure PBFT replica (sans-IO): ``step(message, now)``, ``tick(now)``, ``deadline()``,
``ready()`` — the same shape as the Raft node.

Castro & Liskov, OSDI '99, §4.1-4.4:

- **Quorums.** n replicas tolerate f = ⌊(n - 1)/3⌋ faults; a quorum is
  q = ⌈(n + f + 1)/2⌉ replicas (:func:`quorum`). For n = 3f + 1 this is the paper's 2f + 1;
  for other n, 2f + 1 is too small (n = 6, f = 1: two quorums of 3 may share nobody), while
  two quorums of q always share at least f + 1 replicas, so at least one correct one, and
  q ≤ n - f keeps the protocol live with f replicas silent.
- **Normal case (§4.2).** The primary of view v (replica v mod n) assigns the next sequence
  number to a request batch and sends a signed pre-prepare; a backup accepts it when it is in
  its view, the sequence number lies in the water marks (h, h + L], the digest is the
  batch's digest and it accepted no other digest for (v, n); it then sends a prepare.
  *Prepared* = the pre-prepare plus q - 1 prepares matching (v, n, digest) from distinct
  backups: the primary's vote is its pre-prepare, a prepare claiming to come from the
  primary is dropped, one sender counts once, and the replica's own prepare counts as the
  paper says (it "adds both messages to its log"; without it f crashed backups would stop
  the protocol). *Committed-local* = prepared plus q matching commits from distinct replicas.
  Batches execute strictly in sequence order, each request once (client sessions of
  :class:`~..kv.KVStateMachine`), and every replica answers the client. A request whose
  execution raises is executed all the same: its result is the :class:`~..kv.ApplyError`
  the machine records, the same at every correct replica, so the client gets f + 1
  matching error replies and the batch, the history and the checkpoints go on as usual.
- **Checkpoints (§4.3).** After every ``checkpoint_interval`` sequence numbers a replica
  takes a snapshot of its state (:meth:`PbftReplica.snapshot`: the history's hash chain
  and the state machine) and signs its SHA-256 with Ed25519; q matching checkpoints make it
  stable: the low water mark h advances, H = h + L, and the log at or below h is dropped.
- **Retransmission and state transfer (§5.2-§5.3, simplified).** A replica that waits for
  something (a request it knows of to execute, a new view, its checkpoint to become
  stable, a stable checkpoint it has not executed up to, or - restarted - where the others
  are) sends a :class:`~.messages.Status` every ``resend_ms``; each receiver answers with a
  :class:`~.messages.Help`: the new view of its view if the sender is behind (signed by
  that view's primary: anyone may forward it), its view changes if the sender is changing
  views behind it, its stable checkpoint's proof (and the state at it if the sender has
  not executed that far), its latest own checkpoint, the batches it executed above the
  sender's last executed one, and its own pre-prepare / prepares / commits in progress.
  A state is taken only if its SHA-256 is the digest q replicas signed (a byzantine
  sender cannot poison it); a batch is taken as committed once f + 1 replicas report the
  same digest at its sequence number (one of them is correct and executed it).
- **View change (§4.4).** A backup waiting too long for a request it knows of moves to view
  v + 1 and sends a signed view change with its stable checkpoint proof and a prepared
  certificate for every prepared sequence number above it. The new primary, holding q valid
  view changes, re-proposes for every n between the highest stable checkpoint and the
  highest prepared n the digest prepared in the *highest view*, and a null request where
  none prepared; backups recompute that set and check it. Executed sequence numbers are
  never executed again. A replica that sees f + 1 view changes for higher views joins the
  smallest. A replica changing views resends its view change until the new view arrives;
  its view-change timer runs from the moment it starts changing (T x 2^(k - 1) for its
  k-th view change in a row, capped at 2^6); when it expires the replica moves to the next
  view if a quorum wanted this one, else it waits (see :meth:`PbftReplica.tick`).
  View changes, new views and checkpoints are signed with Ed25519 (:mod:`.auth`).

Simplifications: pre-prepares and prepares are "signed" with per-sender HMAC keys (the
cheap stand-in of :mod:`.auth`), not public-key signatures; a replica that restarts
without durable storage is trusted not to have voted differently before its crash (an
amnesiac restart counts against f).
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ...._errors import ConfigError
from ..kv import ApplyError, ClientCommand, KVStateMachine, _Session
from .auth import Keyring
from .messages import (
    Checkpoint,
    Commit,
    ExecutedBatch,
    Help,
    NewView,
    Prepare,
    PreparedCert,
    PrePrepare,
    Reply,
    ReplyEntry,
    Request,
    Status,
    ViewChange,
)
from .storage import PbftStorage, StoredCheckpoint

_encode = msgspec.msgpack.Encoder().encode
NULL_DIGEST = hashlib.sha256(b"").hexdigest()
"""The digest of the null request (an empty batch)."""


def faults_tolerated(n: int) -> int:
    """f = ⌊(n - 1)/3⌋."""
    return (n - 1) // 3


def quorum(n: int) -> int:
    """q = ⌈(n + f + 1)/2⌉: two quorums share ≥ f + 1 replicas, and q ≤ n - f."""
    f = faults_tolerated(n)
    return (n + f + 2) // 2


def request_digest(request: Request) -> str:
    """SHA-256 (hex) of a request without its authenticator."""
    data = _encode((request.client, request.timestamp, request.operation, request.acked_below))
    return hashlib.sha256(data).hexdigest()


def batch_digest(requests: Sequence[Request]) -> str:
    """The digest a pre-prepare carries: over the requests' digests (empty: the null one)."""
    if not requests:
        return NULL_DIGEST
    return hashlib.sha256("".join(request_digest(r) for r in requests).encode()).hexdigest()


@dataclass(frozen=True)
class PbftConfig:
    """Tuning of a replica (times in ms).

    ``window`` is L, the span of the water marks (the paper uses 2 x the checkpoint
    interval); ``batch_max`` caps requests per pre-prepare (1 = no batching) and
    ``max_in_flight`` how many sequence numbers the primary keeps in progress before it
    queues requests, which then go out as a batch.
    """

    checkpoint_interval: int = 100
    window: int | None = None
    view_change_timeout_ms: float = 200.0
    batch_max: int = 1
    max_in_flight: int = 64
    retransmit_ms: float | None = None
    """How often a waiting replica resends (its view change, a :class:`Status`); default
    half the view-change timeout."""

    def __post_init__(self) -> None:
        for name in ("checkpoint_interval", "batch_max", "max_in_flight"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(name, f"must be an integer >= 1, got {value!r}")
        if self.window is not None and self.window < self.checkpoint_interval:
            raise ConfigError(
                "window", f"must be >= checkpoint_interval, got {self.window}", allowed=">= 1"
            )
        if not self.view_change_timeout_ms > 0:
            raise ConfigError(
                "view_change_timeout_ms", f"must be > 0, got {self.view_change_timeout_ms}"
            )
        if self.retransmit_ms is not None and not self.retransmit_ms > 0:
            raise ConfigError("retransmit_ms", f"must be > 0, got {self.retransmit_ms}")

    @property
    def resend_ms(self) -> float:
        """The retransmission period (``retransmit_ms``, default half the view-change
        timeout)."""
        if self.retransmit_ms is not None:
            return self.retransmit_ms
        return self.view_change_timeout_ms / 2

    @property
    def log_size(self) -> int:
        """L (default 2 x checkpoint_interval)."""
        return self.window if self.window is not None else 2 * self.checkpoint_interval


@dataclass
class Executed:
    """One executed request: the sequence number, its digest and the state machine's result
    (an :class:`~..kv.ApplyError` if executing it raised)."""

    seq: int
    digest: str
    request: Request
    result: Any

    @property
    def client(self) -> str:
        """Who sent the request."""
        return self.request.client

    @property
    def timestamp(self) -> int:
        """The client's sequence number of the request ((client, timestamp) identifies it)."""
        return self.request.timestamp


@dataclass
class Ready:
    """What a replica produced since the last :meth:`PbftReplica.ready`."""

    messages: list[Any] = field(default_factory=list)
    executed: list[Executed] = field(default_factory=list)

    def outbox(self) -> list[tuple[str, Any]]:
        """``messages`` as (peer, message) pairs: what an actor shell sends."""
        return [(message.dst, message) for message in self.messages]


@dataclass
class _Slot:
    """The pre-prepare accepted for a sequence number in the current view."""

    pre_prepare: PrePrepare
    prepared: bool = False
    commit_sent: bool = False


class PbftReplica:
    """One replica (see the module docstring). ``replicas`` is the ordered membership;
    ``machine`` the state machine it executes on (default: a fresh
    :class:`~..kv.KVStateMachine`)."""

    def __init__(
        self,
        replica_id: str,
        replicas: Sequence[str],
        keyring: Keyring,
        config: PbftConfig | None = None,
        *,
        now: float = 0.0,
        machine: KVStateMachine | None = None,
        storage: PbftStorage | None = None,
    ) -> None:
        replicas = tuple(replicas)
        if replica_id not in replicas:
            raise ConfigError("replica_id", f"{replica_id!r} is not a replica", allowed=replicas)
        if len(set(replicas)) != len(replicas):
            raise ConfigError("replicas", "replica ids must be distinct")
        self.id = replica_id
        self.replicas = replicas
        self.position = replicas.index(replica_id)
        self.keyring = keyring
        self.config = config or PbftConfig()
        self.n = len(replicas)
        self.f = faults_tolerated(self.n)
        self.q = quorum(self.n)
        self.view = 0
        self.active = True
        """False while changing views (only checkpoint, view-change, new-view accepted)."""
        self.low = 0
        """h, the sequence number of the last stable checkpoint."""
        self.next_seq = 1
        self.last_executed = 0
        self.machine = KVStateMachine() if machine is None else machine
        self.history: list[tuple[int, str]] = []
        """(seq, batch digest) of every executed sequence number, in order."""
        self.executed_requests: list[str] = []
        """Digests of the requests executed (duplicates and null requests excluded)."""
        self.executed_ids: list[tuple[str, int]] = []
        """(client, timestamp) of the requests executed, in the order of executed_requests."""
        self.transfers: list[int] = []
        """Sequence numbers of the checkpoints this replica took by state transfer (the
        history has no entries at or below such a checkpoint that it did not execute)."""
        self.state_digest = NULL_DIGEST
        """The hash chain of the history (seq, batch digest); part of every snapshot."""
        self.dropped: dict[str, int] = {}
        """Messages refused, by reason (``bad_mac``, ``garbage``, ``out_of_window``, ...)."""
        self._slots: dict[int, _Slot] = {}
        self._prepares: dict[tuple[int, int, str], dict[str, Prepare]] = {}
        self._commits: dict[tuple[int, int, str], set[str]] = {}
        self._committed: dict[int, PrePrepare] = {}
        self._certs: dict[int, PreparedCert] = {}
        self._checkpoints: dict[int, dict[str, Checkpoint]] = {}
        self._stable_proof: tuple[Checkpoint, ...] = ()
        self._own_checkpoints: dict[int, str] = {}
        self._own_checkpoint_msgs: dict[int, Checkpoint] = {}
        self._snapshots: dict[int, bytes] = {}
        """Own state snapshots at checkpoints not yet garbage-collected."""
        self._stable_snapshot: tuple[int, bytes] | None = None
        """(seq, snapshot) of the stable checkpoint, if this replica holds its state."""
        self._fetched: dict[int, dict[str, str]] = {}
        """Batches reported executed by others: seq -> {replica: digest}."""
        self._fetched_batches: dict[tuple[int, str], tuple[Request, ...]] = {}
        self._own_vc: ViewChange | None = None
        self._own_vcs: dict[int, ViewChange] = {}
        """Our view changes since the last view installed, by view."""
        self._resend_at: float | None = None
        self._resend_mark = 0
        """last_executed when the retransmission timer last fired."""
        self.rejoining = False
        """A restarted replica: it sends Status until f + 1 replicas helped."""
        self._helpers: set[str] = set()
        self.storage = storage
        self._view_changes: dict[int, dict[str, ViewChange]] = {}
        self._new_view: NewView | None = None
        self._queue: deque[Request] = deque()
        self._assigned: set[tuple[str, int]] = set()
        self._pending: dict[tuple[str, int], Request] = {}
        self._replies: dict[str, dict[int, ReplyEntry]] = {}
        """Replies sent, by client and timestamp (those below ``acked_below`` forgotten)."""
        self._acked: dict[str, int] = {}
        self._timer: float | None = None
        self._vc_attempts = 0
        self._out: list[Any] = []
        self._executed: list[Executed] = []
        self._answers: dict[str, list[ReplyEntry]] = {}
        """Reply entries per client, sent as one Reply per client by :meth:`_flush_replies`."""
        self._now = now
        if storage is not None:
            storage.boots += 1
            self.rejoining = storage.boots > 1
            self._recover(storage)
        if self.rejoining:
            self._resend()  # ask at once where the others are
        self._arm_resend()

    def _recover(self, storage: PbftStorage) -> None:
        """Start from what ``storage`` kept: the last stable checkpoint's state and the
        view, which it (re)enters by a view change (its earlier one was lost with it: without
        one, and without a timer, it could neither help a quorum form nor move on)."""
        stored = storage.checkpoint
        if stored is not None:
            self._install_snapshot(stored.seq, stored.snapshot, stored.proof)
        if storage.view > 0:
            self.view = storage.view - 1
            self._start_view_change(storage.view)

    # ------------------------------------------------------------------ queries

    def primary(self, view: int | None = None) -> str:
        """The primary of ``view`` (default: the current one)."""
        return self.replicas[(self.view if view is None else view) % self.n]

    @property
    def is_primary(self) -> bool:
        return self.primary() == self.id

    @property
    def high(self) -> int:
        """H = h + L."""
        return self.low + self.config.log_size

    def deadline(self) -> float:
        """When :meth:`tick` must next run (inf: nothing timed)."""
        timers = [t for t in (self._timer, self._resend_at) if t is not None]
        return min(timers) if timers else float("inf")

    def ready(self) -> Ready:
        """Messages to send and requests executed since the last call."""
        out, self._out = self._out, []
        executed, self._executed = self._executed, []
        return Ready(out, executed)

    # ------------------------------------------------------------------ inputs

    def step(self, message: Any, now: float) -> None:
        """Handle one incoming message; anything unauthentic or malformed is counted, dropped."""
        self._now = now
        try:
            self._step(message)
        except (AttributeError, TypeError, ValueError, KeyError, IndexError, OverflowError):
            self._drop("malformed")
        if self._answers:
            self._flush_replies()
        self._arm_resend()

    def tick(self, now: float) -> None:
        """Time passed: the view-change timer or the retransmission timer may have expired.

        The view-change timer, while active, moves to the next view. While changing views
        it runs from the moment the change started (T x 2^(changes - 1), doubling with each
        view changed to without a new view); when it expires the replica moves on only if
        a quorum wanted this view (its primary failed them), else it keeps resending and
        waits: alone it would only run ahead through views nobody else is in.
        """
        self._now = now
        if self._resend_at is not None and now >= self._resend_at:
            self._resend_at = None
            self._resend()
        if self._timer is not None and now >= self._timer:
            self._timer = None
            if self.active or len(self._view_changes.get(self.view, {})) >= self.q:
                self._start_view_change(self.view + 1)
            else:
                self._timer = now + self._view_change_timeout()
        if self._answers:
            self._flush_replies()
        self._arm_resend()

    def _view_change_timeout(self) -> float:
        doublings: int = min(max(self._vc_attempts - 1, 0), 6)
        return float(self.config.view_change_timeout_ms * 2**doublings)

    # ------------------------------------------------------------------ retransmission

    def _waiting(self) -> bool:
        """Whether this replica waits for something others may have sent and lost."""
        return (
            not self.active
            or bool(self._pending)
            or self.rejoining
            or self.low < max(self._own_checkpoints, default=0)
            or self.last_executed < self.low
        )

    def _arm_resend(self) -> None:
        if not self._waiting():
            self._resend_at = None
        elif self._resend_at is None:
            self._resend_at = self._now + self.config.resend_ms

    def _resend(self) -> None:
        """The retransmission timer: resend our view change (until the new view comes) and
        tell everyone where we are (they answer with what we lack). An active replica that
        executed something since the last time is making progress: it stays quiet."""
        if not self._waiting():
            return
        progressed = self.last_executed != self._resend_mark
        self._resend_mark = self.last_executed
        if progressed and self.active and not self.rejoining and self.last_executed >= self.low:
            return
        if not self.active and self._own_vc is not None and self._own_vc.new_view == self.view:
            self._broadcast(self._own_vc, sign=False)
        status = Status(self.id, "", self.view, self.active, self.low, self.last_executed)
        self._broadcast(status, sign=False)

    def _on_status(self, status: Status) -> None:
        """Answer a waiting replica with what it lacks, and resend our own messages it may
        have lost."""
        new_view = None
        nv = self._new_view
        # The last new view we know of, if the sender has not entered it - even if we have
        # moved past it since: its primary may have, too, and be the only other one who
        # has it (then the sender could never gather a quorum to time out of its view).
        if nv is not None and (
            status.view < nv.view or (status.view == nv.view and not status.active)
        ):
            new_view = nv
        if not self.active and status.view <= self.view:
            # It is changing views behind us (or with us): our view changes for its view
            # (it may lack the quorum to time out) and for ours (f + 1 make it join).
            for view in sorted({status.view, self.view}):
                own_vc = self._own_vcs.get(view)
                if own_vc is not None and (view != status.view or not status.active):
                    self._send(msgspec.structs.replace(own_vc, dst=status.src))
        stable: tuple[Checkpoint, ...] = ()
        snapshot = b""
        if self.low > max(status.low, 0) or self.low > status.last_executed:
            stable = self._stable_proof
            held = self._stable_snapshot
            if status.last_executed < self.low and held is not None and held[0] == self.low:
                snapshot = held[1]
        checkpoint = None
        mine = [s for s in self._own_checkpoint_msgs if s > status.low]
        if mine:
            checkpoint = self._own_checkpoint_msgs[max(mine)]
        batches = []
        start = max(status.last_executed, self.low) + 1
        for seq in range(start, min(self.last_executed, start + self.config.log_size - 1) + 1):
            pp = self._committed.get(seq)
            if pp is not None:
                batches.append(ExecutedBatch(seq, pp.digest, pp.requests))
        self._send(
            Help(self.id, status.src, new_view, stable, snapshot, checkpoint, tuple(batches))
        )
        if status.view == self.view and status.active and self.active:
            self._resend_slots(status.src, status.last_executed)

    def _resend_slots(self, dst: str, above: int) -> None:
        """Our own pre-prepares (primary), prepares and commits above ``above``, to ``dst``."""
        for seq in sorted(self._slots):
            if seq <= above:
                continue
            slot = self._slots[seq]
            pp = slot.pre_prepare
            if self.is_primary:
                self._send(msgspec.structs.replace(pp, dst=dst))
            else:
                own = self._prepares.get((pp.view, seq, pp.digest), {}).get(self.id)
                if own is not None:
                    self._send(msgspec.structs.replace(own, dst=dst))
            if slot.commit_sent:
                self._send(Commit(self.id, dst, pp.view, seq, pp.digest))

    def _on_help(self, help_: Help) -> None:
        if self.rejoining:
            self._helpers.add(help_.src)
            if len(self._helpers) > self.f:
                self.rejoining = False
        if help_.new_view is not None:
            self._on_new_view(help_.new_view)
        if help_.stable:
            self._on_stable_proof(help_.stable, help_.snapshot)
        if help_.checkpoint is not None:
            self._on_checkpoint(help_.checkpoint)
        for batch in help_.batches:
            self._on_executed_batch(help_.src, batch)
        self._execute()

    def _on_executed_batch(self, src: str, batch: ExecutedBatch) -> None:
        """f + 1 replicas say they executed ``batch`` at its seq: a correct one did, so it
        committed there (§4.2's guarantee): take it as committed."""
        seq = batch.seq
        if seq <= self.last_executed or not self.low < seq <= self.high:
            return
        if batch.digest != batch_digest(batch.requests):
            self._drop("bad_batch")
            return
        votes = self._fetched.setdefault(seq, {})
        votes[src] = batch.digest
        self._fetched_batches.setdefault((seq, batch.digest), batch.requests)
        agreeing = sum(1 for d in votes.values() if d == batch.digest)
        if agreeing > self.f and seq not in self._committed:
            self._committed[seq] = PrePrepare(
                self.primary(), "", self.view, seq, batch.digest, batch.requests
            )

    def _valid_proof(self, proof: Sequence[Checkpoint]) -> bool:
        """q valid signed checkpoints from distinct replicas for one (seq, state)."""
        if not proof:
            return False
        first = proof[0]
        senders = set()
        for checkpoint in proof:
            if not isinstance(checkpoint, Checkpoint):
                return False
            if (checkpoint.seq, checkpoint.state) != (first.seq, first.state):
                return False
            if checkpoint.src not in self.replicas or checkpoint.src in senders:
                return False
            if not self.keyring.verify(checkpoint):
                return False
            senders.add(checkpoint.src)
        return len(senders) >= self.q

    def _on_stable_proof(self, proof: tuple[Checkpoint, ...], snapshot: bytes) -> None:
        """Another replica's stable checkpoint: advance to it; if we have not executed that
        far, take its state, once its digest is the one the quorum signed."""
        seq = proof[0].seq
        if seq <= self.low and seq <= self.last_executed:
            return
        if not self._valid_proof(proof):
            self._drop("bad_checkpoint_proof")
            return
        if seq > self.last_executed and snapshot:
            if hashlib.sha256(snapshot).hexdigest() != proof[0].state:
                self._drop("bad_state")
            else:
                try:
                    self._install_snapshot(seq, snapshot, proof)
                except (msgspec.DecodeError, msgspec.ValidationError):
                    self._drop("bad_state")
        if seq > self.low:
            self._stabilize(seq, proof)

    # ------------------------------------------------------------------ snapshots

    def snapshot(self, seq: int) -> bytes:
        """The state after executing ``seq`` (its SHA-256 is the checkpoint digest): the
        history's hash chain and the state machine's state (:func:`machine_state`)."""
        return _encode_state((seq, self.state_digest, machine_state(self.machine)))

    def _install_snapshot(self, seq: int, snapshot: bytes, proof: tuple[Checkpoint, ...]) -> None:
        """State transfer: take the state of checkpoint ``seq`` (already verified)."""
        decoded = msgspec.msgpack.decode(snapshot, type=_Snapshot)
        if decoded.seq != seq:
            raise msgspec.ValidationError("snapshot of another sequence number")
        restore_machine(self.machine, decoded.machine)
        self.state_digest = decoded.chain
        self.last_executed = seq
        self.transfers.append(seq)
        digest = hashlib.sha256(snapshot).hexdigest()
        self._own_checkpoints[seq] = digest
        self._snapshots[seq] = snapshot
        self._stable_snapshot = (seq, snapshot)
        if seq > self.low:
            self._stabilize(seq, proof)
        for key in [k for k in self._pending if self.machine.is_duplicate(*k)]:
            del self._pending[key]
        if self.next_seq <= seq:
            self.next_seq = seq + 1

    def _drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    def _step(self, message: Any) -> None:
        if isinstance(message, Request):
            self._on_request(message)
            return
        kind = type(message)
        if kind not in _HANDLERS or not isinstance(message.src, str):
            self._drop("garbage")
            return
        if message.dst != self.id or message.src not in self.replicas or message.src == self.id:
            self._drop("misrouted")
            return
        if not self.keyring.check(message):
            self._drop("bad_mac")
            return
        _HANDLERS[kind](self, message)

    # ------------------------------------------------------------------ requests

    def _on_request(self, request: Request) -> None:
        if not (isinstance(request.client, str) and isinstance(request.timestamp, int)):
            self._drop("garbage")
            return
        if not self.keyring.check_request(request, self.id, self.position):
            self._drop("bad_mac")
            return
        key = (request.client, request.timestamp)
        machine = self.machine
        if machine.is_duplicate(request.client, request.timestamp):
            self._resend_reply(request)
            self._retransmit(request)
            return
        if not self.active:
            self._pending.setdefault(key, request)
            return
        if self.is_primary:
            if key not in self._assigned:
                self._assigned.add(key)
                self._pending[key] = request
                self._queue.append(request)
                self._propose()
                self._arm()
            else:
                self._retransmit(request)
            return
        # A backup (the client sent to all: the primary has it too): start the
        # view-change timer (§4.4) and resend what we said about it, if anything.
        if key not in self._pending:
            self._pending[key] = request
            self._arm()
        self._retransmit(request)

    def _retransmit(self, request: Request) -> None:
        """A retried request: resend our own messages for the slot holding it."""
        for seq in sorted(self._slots):
            slot = self._slots[seq]
            pp = slot.pre_prepare
            if request not in pp.requests:
                continue
            if self.is_primary:
                self._broadcast(pp, sign=False)
            else:
                self._broadcast(Prepare(self.id, "", pp.view, seq, pp.digest), sign=True)
            if slot.commit_sent:
                self._broadcast(Commit(self.id, "", pp.view, seq, pp.digest), sign=False)

    def _propose(self) -> None:
        """The primary: give queued requests sequence numbers while the window allows."""
        config = self.config
        while self._queue and self.active:
            in_flight = self.next_seq - 1 - self.last_executed
            if in_flight >= config.max_in_flight or self.next_seq > self.high:
                return
            queue = self._queue
            batch = tuple(queue.popleft() for _ in range(min(config.batch_max, len(queue))))
            seq = self.next_seq
            self.next_seq += 1
            self._pre_prepare(seq, batch)

    def _pre_prepare(self, seq: int, batch: tuple[Request, ...]) -> None:
        header = self.keyring.sign(
            PrePrepare(self.id, "", self.view, seq, batch_digest(batch), batch)
        )
        self._slots[seq] = _Slot(header)
        self._broadcast(header, sign=False)

    # ------------------------------------------------------------------ normal case

    def _in_window(self, seq: int) -> bool:
        if self.low < seq <= self.high:
            return True
        self._drop("out_of_window")
        return False

    def _on_pre_prepare(self, pp: PrePrepare) -> None:
        if not self._current(pp.view) or pp.src != self.primary(pp.view):
            return
        if not self._in_window(pp.seq):
            return
        if not self.keyring.verify(pp) or pp.digest != batch_digest(pp.requests):
            self._drop("bad_pre_prepare")
            return
        for request in pp.requests:
            if not self.keyring.check_request(request, self.id, self.position):
                self._drop("bad_request_mac")
                return
        self._accept_pre_prepare(pp)

    def _accept_pre_prepare(self, pp: PrePrepare) -> None:
        slot = self._slots.get(pp.seq)
        if slot is not None:
            if slot.pre_prepare.digest != pp.digest:
                self._drop("conflicting_pre_prepare")
            else:
                self._drop("duplicate")
            return
        self._slots[pp.seq] = _Slot(msgspec.structs.replace(pp, dst="", mac=b""))
        for request in pp.requests:
            self._assigned.add((request.client, request.timestamp))
        if not self.is_primary:
            own = self.keyring.sign(Prepare(self.id, "", pp.view, pp.seq, pp.digest))
            self._prepares.setdefault((pp.view, pp.seq, pp.digest), {})[self.id] = own
            self._broadcast(own, sign=False)
        self._check_prepared(pp.seq)

    def _current(self, view: int) -> bool:
        if view == self.view and self.active:
            return True
        self._drop("stale_view" if view < self.view else "other_view")
        return False

    def _on_prepare(self, prepare: Prepare) -> None:
        if prepare.view < self.view:
            self._drop("stale_view")
            return
        if prepare.src == self.primary(prepare.view):
            self._drop("prepare_from_primary")
            return
        if not self._in_window(prepare.seq):
            return
        if not self.keyring.verify(prepare):
            self._drop("bad_signature")
            return
        votes = self._prepares.setdefault((prepare.view, prepare.seq, prepare.digest), {})
        if prepare.src in votes:
            self._drop("duplicate")
            return
        votes[prepare.src] = msgspec.structs.replace(prepare, dst="", mac=b"")
        if prepare.view == self.view:
            self._check_prepared(prepare.seq)

    def _check_prepared(self, seq: int) -> None:
        slot = self._slots.get(seq)
        if slot is None or slot.prepared or not self.active:
            return
        pp = slot.pre_prepare
        votes = self._prepares.get((pp.view, seq, pp.digest), {})
        if len(votes) < self.q - 1:
            return
        slot.prepared = True
        ordered = tuple(votes[r] for r in self.replicas if r in votes)[: self.q - 1]
        self._certs[seq] = PreparedCert(pp.view, seq, pp.digest, pp.requests, pp.sig, ordered)
        slot.commit_sent = True
        self._commits.setdefault((pp.view, seq, pp.digest), set()).add(self.id)
        self._broadcast(Commit(self.id, "", pp.view, seq, pp.digest), sign=False)
        self._check_committed(seq)

    def _on_commit(self, commit: Commit) -> None:
        if commit.view < self.view:
            self._drop("stale_view")
            return
        if not self._in_window(commit.seq):
            return
        votes = self._commits.setdefault((commit.view, commit.seq, commit.digest), set())
        if commit.src in votes:
            self._drop("duplicate")
            return
        votes.add(commit.src)
        if commit.view == self.view:
            self._check_committed(commit.seq)

    def _check_committed(self, seq: int) -> None:
        slot = self._slots.get(seq)
        if slot is None or not slot.prepared or seq in self._committed:
            return
        pp = slot.pre_prepare
        if len(self._commits.get((pp.view, seq, pp.digest), ())) < self.q:
            return
        self._committed[seq] = pp
        self._execute()

    def _execute(self) -> None:
        """Execute committed batches strictly in sequence order, each sequence number once."""
        machine = self.machine
        progressed = False
        while self.last_executed + 1 in self._committed:
            seq = self.last_executed + 1
            pp = self._committed[seq]
            self.last_executed = seq
            self.history.append((seq, pp.digest))
            self.state_digest = hashlib.sha256(
                f"{self.state_digest}:{seq}:{pp.digest}".encode()
            ).hexdigest()
            for request in pp.requests:
                key = (request.client, request.timestamp)
                self._pending.pop(key, None)
                duplicate = machine.is_duplicate(request.client, request.timestamp)
                command = ClientCommand(
                    request.client, request.timestamp, request.operation, request.acked_below
                )
                result = machine.apply(machine.last_applied + 1, command)
                if duplicate:
                    self._resend_reply(request)
                else:
                    digest = request_digest(request)
                    self.executed_requests.append(digest)
                    self.executed_ids.append(key)
                    self._executed.append(Executed(seq, digest, request, result))
                    self._reply(request, result, seq)
            if seq % self.config.checkpoint_interval == 0:
                self._checkpoint(seq)
            progressed = True
        self._arm(restart=progressed)
        if self.is_primary:
            self._propose()

    def _reply(self, request: Request, result: Any, seq: int) -> None:
        entry = ReplyEntry(request.timestamp, seq, result)
        cache = self._replies.setdefault(request.client, {})
        cache[request.timestamp] = entry
        if request.acked_below > self._acked.get(request.client, 0):
            self._acked[request.client] = request.acked_below
            for old in [t for t in cache if t < request.acked_below]:
                del cache[old]
        self._answers.setdefault(request.client, []).append(entry)

    def _resend_reply(self, request: Request) -> None:
        """A request executed before: send the reply again, if it is still cached."""
        entry = self._replies.get(request.client, {}).get(request.timestamp)
        if entry is not None:
            self._answers.setdefault(request.client, []).append(entry)

    def _flush_replies(self) -> None:
        answers, self._answers = self._answers, {}
        seal = self.keyring.seal
        for client, entries in answers.items():
            self._out.append(seal(Reply(self.id, client, self.view, tuple(entries))))

    # ------------------------------------------------------------------ checkpoints

    def _checkpoint(self, seq: int) -> None:
        snapshot = self.snapshot(seq)
        digest = hashlib.sha256(snapshot).hexdigest()
        own = self.keyring.sign(Checkpoint(self.id, "", seq, digest))
        self._own_checkpoints[seq] = digest
        self._own_checkpoint_msgs[seq] = own
        self._snapshots[seq] = snapshot
        self._checkpoints.setdefault(seq, {})[self.id] = own
        self._broadcast(own, sign=False)
        self._check_stable(seq)

    def _on_checkpoint(self, checkpoint: Checkpoint) -> None:
        if checkpoint.seq <= self.low or checkpoint.seq > self.high:
            self._drop("out_of_window")
            return
        if not self.keyring.verify(checkpoint):
            self._drop("bad_signature")
            return
        votes = self._checkpoints.setdefault(checkpoint.seq, {})
        if checkpoint.src in votes:
            self._drop("duplicate")
            return
        votes[checkpoint.src] = msgspec.structs.replace(checkpoint, dst="", mac=b"")
        self._check_stable(checkpoint.seq)

    def _check_stable(self, seq: int) -> None:
        votes = self._checkpoints.get(seq, {})
        by_state: dict[str, list[Checkpoint]] = {}
        for replica in self.replicas:
            vote = votes.get(replica)
            if vote is not None:
                by_state.setdefault(vote.state, []).append(vote)
        for proof in by_state.values():
            if len(proof) >= self.q:
                self._stabilize(seq, tuple(proof[: self.q]))
                return

    def _stabilize(self, seq: int, proof: tuple[Checkpoint, ...]) -> None:
        """Checkpoint ``seq`` is stable: h advances, the log at or below it goes."""
        if seq <= self.low:
            return
        self.low = seq
        self._stable_proof = proof
        snapshot = self._snapshots.get(seq)
        if snapshot is not None and self._own_checkpoints.get(seq) == proof[0].state:
            self._stable_snapshot = (seq, snapshot)
            if self.storage is not None:
                self.storage.save_checkpoint(StoredCheckpoint(seq, snapshot, proof))
        tables: tuple[dict[int, Any], ...] = (
            self._slots,
            self._committed,
            self._certs,
            self._checkpoints,
            self._snapshots,
            self._own_checkpoints,
            self._own_checkpoint_msgs,
            self._fetched,
        )
        for table in tables:
            for old in [s for s in table if s <= seq]:
                del table[old]
        for fetched in [k for k in self._fetched_batches if k[0] <= seq]:
            del self._fetched_batches[fetched]
        for votes in (self._prepares, self._commits):
            for key in [k for k in votes if k[1] <= seq]:
                del votes[key]
        if self.next_seq <= seq:
            self.next_seq = seq + 1
        if self.is_primary:
            self._propose()

    # ------------------------------------------------------------------ view change

    def _arm(self, *, restart: bool = False) -> None:
        """The view-change timer, while a replica knows of a request not yet executed.

        The paper runs it at backups; the primary runs it too, so a primary whose own
        progress stalls (its backups drifted into a view change) joins them.
        """
        if not self.active:
            return
        if not self._pending:
            self._timer = None
        elif self._timer is None or restart:
            self._timer = self._now + self.config.view_change_timeout_ms

    def _start_view_change(self, new_view: int) -> None:
        if new_view <= self.view:
            return
        self.view = new_view
        self.active = False
        self._vc_attempts += 1
        self._timer = self._now + self._view_change_timeout()
        if self.storage is not None:
            self.storage.save_view(new_view)
        for slot in self._slots.values():
            for request in slot.pre_prepare.requests:
                if not self.machine.is_duplicate(request.client, request.timestamp):
                    self._pending.setdefault((request.client, request.timestamp), request)
        for request in self._queue:
            self._pending.setdefault((request.client, request.timestamp), request)
        self._queue.clear()
        certs = tuple(self._certs[s] for s in sorted(self._certs) if s > self.low)
        own = self.keyring.sign(
            ViewChange(self.id, "", new_view, self.low, self._stable_proof, certs)
        )
        self._view_changes.setdefault(new_view, {})[self.id] = own
        self._own_vc = own
        self._own_vcs[new_view] = own
        self._broadcast(own, sign=False)
        self._arm_resend()
        self._maybe_new_view(new_view)

    def _valid_cert(self, cert: PreparedCert, vc: ViewChange) -> bool:
        top = vc.stable_seq + self.config.log_size
        if not (cert.view < vc.new_view and vc.stable_seq < cert.seq <= top):
            return False
        if cert.digest != batch_digest(cert.requests):
            return False
        primary = self.primary(cert.view)
        header = PrePrepare(primary, "", cert.view, cert.seq, cert.digest, sig=cert.pre_prepare_sig)
        if not self.keyring.verify(header):
            return False
        senders = set()
        for prepare in cert.prepares:
            if (prepare.view, prepare.seq, prepare.digest) != (cert.view, cert.seq, cert.digest):
                return False
            if prepare.src == primary or prepare.src in senders:
                return False
            if prepare.src not in self.replicas or not self.keyring.verify(prepare):
                return False
            senders.add(prepare.src)
        return len(senders) >= self.q - 1

    def _valid_view_change(self, vc: ViewChange) -> bool:
        if not self.keyring.verify(vc):
            return False
        if vc.stable_seq:
            senders = set()
            for checkpoint in vc.checkpoint_proof:
                if checkpoint.seq != vc.stable_seq or checkpoint.src not in self.replicas:
                    return False
                if checkpoint.state != vc.checkpoint_proof[0].state:
                    return False
                if checkpoint.src in senders or not self.keyring.verify(checkpoint):
                    return False
                senders.add(checkpoint.src)
            if len(senders) < self.q:
                return False
        seqs = [cert.seq for cert in vc.prepared]
        if len(set(seqs)) != len(seqs):
            return False
        return all(self._valid_cert(cert, vc) for cert in vc.prepared)

    def _on_view_change(self, vc: ViewChange) -> None:
        if vc.new_view < self.view or (vc.new_view == self.view and self.active):
            nv = self._new_view
            if nv is not None and vc.new_view <= nv.view:
                # A late view change: that replica missed the new view (ours or the
                # primary's, signed: anyone may forward it).
                if vc.new_view == nv.view and nv.src == self.id:
                    self._send(msgspec.structs.replace(nv, dst=vc.src))
                else:
                    self._send(Help(self.id, vc.src, new_view=nv))
            else:
                self._drop("stale_view")
            return
        if not self._valid_view_change(vc):
            self._drop("bad_view_change")
            return
        votes = self._view_changes.setdefault(vc.new_view, {})
        if vc.src in votes:
            self._drop("duplicate")
            return
        votes[vc.src] = msgspec.structs.replace(vc, dst="", mac=b"")
        # Liveness (§4.5): f + 1 replicas want higher views: join the smallest of them.
        ahead: dict[str, int] = {}
        for view in sorted(self._view_changes, reverse=True):
            if view > self.view:
                for src in self._view_changes[view]:
                    ahead[src] = view
        if len(ahead) > self.f:
            self._start_view_change(min(ahead.values()))
        self._maybe_new_view(vc.new_view)

    def _maybe_new_view(self, view: int) -> None:
        if view != self.view or self.active or self.primary(view) != self.id:
            return
        votes = self._view_changes.get(view, {})
        if len(votes) < self.q:
            return
        chosen = tuple(votes[r] for r in self.replicas if r in votes)[: self.q]
        pre_prepares = tuple(self.keyring.sign(pp) for pp in self._derive(view, chosen))
        new_view = self.keyring.sign(NewView(self.id, "", view, chosen, pre_prepares))
        self._new_view = new_view
        self._broadcast(new_view, sign=False)
        self._install(new_view)

    def _derive(self, view: int, chosen: Iterable[ViewChange]) -> list[PrePrepare]:
        """The set O of §4.4: for every n above the highest stable checkpoint up to the
        highest prepared n, the digest prepared in the highest view, else a null request."""
        chosen = list(chosen)
        min_s = max(vc.stable_seq for vc in chosen)
        best: dict[int, PreparedCert] = {}
        for vc in chosen:
            for cert in vc.prepared:
                if cert.seq <= min_s:
                    continue
                current = best.get(cert.seq)
                if current is None or (cert.view, cert.digest) > (current.view, current.digest):
                    best[cert.seq] = cert
        max_s = max(best, default=min_s)
        primary = self.primary(view)
        out = []
        for seq in range(min_s + 1, max_s + 1):
            chosen_cert = best.get(seq)
            if chosen_cert is None:
                out.append(PrePrepare(primary, "", view, seq, NULL_DIGEST, ()))
            else:
                out.append(
                    PrePrepare(primary, "", view, seq, chosen_cert.digest, chosen_cert.requests)
                )
        return out

    def _on_new_view(self, nv: NewView) -> None:
        if nv.view < self.view or (nv.view == self.view and self.active):
            self._drop("stale_view")
            return
        if nv.src != self.primary(nv.view) or not self.keyring.verify(nv):
            self._drop("bad_new_view")
            return
        senders = set()
        for vc in nv.view_changes:
            if vc.new_view != nv.view or vc.src in senders or vc.src not in self.replicas:
                self._drop("bad_new_view")
                return
            if not self._valid_view_change(vc):
                self._drop("bad_new_view")
                return
            senders.add(vc.src)
        if len(senders) < self.q:
            self._drop("bad_new_view")
            return
        expected = self._derive(nv.view, nv.view_changes)
        got = [msgspec.structs.replace(pp, sig=b"") for pp in nv.pre_prepares]
        if got != expected or not all(self.keyring.verify(pp) for pp in nv.pre_prepares):
            self._drop("bad_new_view")
            return
        self.view = nv.view
        self._new_view = msgspec.structs.replace(nv, dst="", mac=b"")
        if self.storage is not None:
            self.storage.save_view(nv.view)
        self._install(nv)

    def _install(self, nv: NewView) -> None:
        """Enter view ``nv.view`` with the pre-prepares of its set O."""
        self.active = True
        self._vc_attempts = 0
        self._timer = None
        min_s = max(vc.stable_seq for vc in nv.view_changes)
        if min_s > self.low:
            proof = next(vc.checkpoint_proof for vc in nv.view_changes if vc.stable_seq == min_s)
            self._stabilize(min_s, proof)
        self._slots = {}
        self._assigned = set()
        for view in [v for v in self._view_changes if v <= nv.view]:
            del self._view_changes[view]
        self._own_vcs = {v: vc for v, vc in self._own_vcs.items() if v > nv.view}
        for pp in nv.pre_prepares:
            self._accept_pre_prepare(pp)
        self.next_seq = max([self.low, *(pp.seq for pp in nv.pre_prepares)]) + 1
        pending = [r for k, r in self._pending.items() if k not in self._assigned]
        if self.is_primary:
            for request in pending:
                key = (request.client, request.timestamp)
                if not self.machine.is_duplicate(*key):
                    self._assigned.add(key)
                    self._queue.append(request)
            self._propose()
        self._execute()
        self._arm(restart=True)

    # ------------------------------------------------------------------ output

    def _send(self, message: Any) -> None:
        self._out.append(self.keyring.seal(message))

    def _broadcast(self, message: Any, *, sign: bool) -> None:
        if sign:
            message = self.keyring.sign(message)
        replace = msgspec.structs.replace
        seal = self.keyring.seal
        for replica in self.replicas:
            if replica != self.id:
                self._out.append(seal(replace(message, dst=replica)))


_HANDLERS: dict[type, Any] = {
    PrePrepare: PbftReplica._on_pre_prepare,
    Prepare: PbftReplica._on_prepare,
    Commit: PbftReplica._on_commit,
    Checkpoint: PbftReplica._on_checkpoint,
    ViewChange: PbftReplica._on_view_change,
    NewView: PbftReplica._on_new_view,
    Status: PbftReplica._on_status,
    Help: PbftReplica._on_help,
}


# ---------------------------------------------------------------------- snapshots


class _Snapshot(msgspec.Struct, array_like=True):
    """A decoded snapshot: sequence number, history hash chain, machine state."""

    seq: int
    chain: str
    machine: Any


def _enc_hook(value: Any) -> Any:
    """Values msgpack has no encoding for (a set, an object) are recorded by ``repr``:
    the same on every replica, so the digest still agrees (they come back as strings)."""
    return repr(value)


_encode_state = msgspec.msgpack.Encoder(enc_hook=_enc_hook).encode


def machine_state(machine: KVStateMachine) -> Any:
    """What a snapshot records of a state machine: ``machine.snapshot()`` if it defines
    one (a machine keeping state beyond ``data`` must, with ``restore(state)``), else its
    data, counters and client sessions."""
    custom = getattr(machine, "snapshot", None)
    if callable(custom):
        return custom()
    sessions = {
        client: (session.floor, session.results) for client, session in machine._sessions.items()
    }
    counters = (machine.last_applied, machine.executed, machine.duplicates, machine.failed)
    return (machine.data, counters, sessions)


def _revive(value: Any) -> Any:
    """A recorded result back as it was: an :class:`~..kv.ApplyError` is the only Struct a
    result may be that is rebuilt (nothing else from the wire is instantiated)."""
    if type(value) is dict and value.get("type") == "ApplyError":
        return msgspec.convert(value, ApplyError)
    return value


def restore_machine(machine: KVStateMachine, state: Any) -> None:
    """Put ``machine`` in the state :func:`machine_state` recorded."""
    custom = getattr(machine, "restore", None)
    if callable(custom) and callable(getattr(machine, "snapshot", None)):
        custom(state)
        return
    data, counters, sessions = state
    if not isinstance(data, dict) or not isinstance(sessions, dict):
        raise msgspec.ValidationError("snapshot: data and sessions must be maps")
    machine.data = data
    machine.last_applied, machine.executed, machine.duplicates, machine.failed = (
        int(c) for c in counters
    )
    machine._sessions = {}
    for client, (floor, results) in sessions.items():
        session = _Session(int(floor), {int(k): _revive(v) for k, v in results.items()})
        machine._sessions[str(client)] = session

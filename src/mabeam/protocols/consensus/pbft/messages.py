"""What PBFT replicas and clients exchange (Castro & Liskov, OSDI '99, §4).

Every message between two parties names its sender ``src`` and receiver ``dst`` and carries
``mac``: an HMAC-SHA256 under the pair's key over the message's canonical encoding (see
:mod:`.auth`). Messages that must later prove something to third parties (pre-prepares,
prepares, checkpoints, view changes, new views) also carry ``sig``: the sender's signature
(simulated public-key signature, :meth:`.auth.Keyring.sign`) over the fields that matter, so
they can be forwarded inside view-change and new-view certificates. A request carries an
authenticator: one MAC per replica, as in the paper. All are frozen, tagged msgspec Structs.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import msgspec


class Request(msgspec.Struct, frozen=True, tag=True):
    """A client's operation; (client, timestamp) identifies it (exactly-once execution).

    ``acked_below``: every timestamp below it has been answered (lets replicas drop cached
    replies). ``auth``: the client's MAC for each replica, in replica order.
    """

    client: str
    timestamp: int
    operation: Any
    acked_below: int = 0
    auth: tuple[bytes, ...] = ()


class PrePrepare(msgspec.Struct, frozen=True, tag=True):
    """Primary -> backups: request batch ``requests`` gets sequence number ``seq`` in ``view``.

    An empty batch is the null request of a view change (§4.4).
    """

    src: str
    dst: str
    view: int
    seq: int
    digest: str
    requests: tuple[Request, ...] = ()
    sig: bytes = b""
    mac: bytes = b""


class Prepare(msgspec.Struct, frozen=True, tag=True):
    """Backup -> all: it accepted the pre-prepare (view, seq, digest)."""

    src: str
    dst: str
    view: int
    seq: int
    digest: str
    sig: bytes = b""
    mac: bytes = b""


class Commit(msgspec.Struct, frozen=True, tag=True):
    """Replica -> all: (view, seq, digest) is prepared at the sender."""

    src: str
    dst: str
    view: int
    seq: int
    digest: str
    mac: bytes = b""


class ReplyEntry(msgspec.Struct, frozen=True, array_like=True):
    """The result of the client's request ``timestamp``, executed at sequence number ``seq``."""

    timestamp: int
    seq: int
    result: Any = None


class Reply(msgspec.Struct, frozen=True, tag=True):
    """Replica -> client: results of the client's requests. A replica answers each request
    of a batch it executes, to the same client, in one message (one MAC)."""

    src: str
    dst: str
    view: int
    results: tuple[ReplyEntry, ...]
    mac: bytes = b""


class Checkpoint(msgspec.Struct, frozen=True, tag=True):
    """Replica -> all: after executing ``seq`` its state digest is ``state``."""

    src: str
    dst: str
    seq: int
    state: str
    sig: bytes = b""
    mac: bytes = b""


class PreparedCert(msgspec.Struct, frozen=True):
    """Proof that (view, seq, digest) prepared: the primary's signed pre-prepare header and
    quorum - 1 signed prepares from distinct backups."""

    view: int
    seq: int
    digest: str
    requests: tuple[Request, ...]
    pre_prepare_sig: bytes
    prepares: tuple[Prepare, ...]


class ViewChange(msgspec.Struct, frozen=True, tag=True):
    """Replica -> all: move to ``new_view``; its stable checkpoint (with proof) and every
    request prepared above it (the set P of §4.4)."""

    src: str
    dst: str
    new_view: int
    stable_seq: int
    checkpoint_proof: tuple[Checkpoint, ...] = ()
    prepared: tuple[PreparedCert, ...] = ()
    sig: bytes = b""
    mac: bytes = b""


class NewView(msgspec.Struct, frozen=True, tag=True):
    """New primary -> backups: the quorum of view changes it chose and the pre-prepares (the
    set O) it derived from them; every backup recomputes O and checks."""

    src: str
    dst: str
    view: int
    view_changes: tuple[ViewChange, ...]
    pre_prepares: tuple[PrePrepare, ...]
    sig: bytes = b""
    mac: bytes = b""


class Status(msgspec.Struct, frozen=True, tag=True):
    """Replica -> all, on its retransmission timer while it waits for something (a request
    to execute, a new view, a checkpoint to become stable, a restart to catch up): where it
    is. Each receiver answers with a :class:`Help` (and resends its own messages the sender
    may have lost)."""

    src: str
    dst: str
    view: int
    active: bool
    low: int
    last_executed: int
    mac: bytes = b""


class ExecutedBatch(msgspec.Struct, frozen=True, array_like=True):
    """A batch the sender executed at ``seq`` (taken once f + 1 replicas report it)."""

    seq: int
    digest: str
    requests: tuple[Request, ...]


class Help(msgspec.Struct, frozen=True, tag=True):
    """Replica -> a replica that sent a :class:`Status`: what it lacks.

    ``new_view``: the signed new view of the sender's view (a replica behind in views
    verifies and installs it, whoever forwards it). ``stable``: the proof of the sender's
    stable checkpoint, and ``snapshot`` the state at it when the receiver has not executed
    that far (state transfer: it is taken only if its SHA-256 is the digest the proof's
    quorum signed). ``checkpoint``: the sender's latest own signed checkpoint. ``batches``:
    batches it executed above the receiver's last executed one.
    """

    src: str
    dst: str
    new_view: NewView | None = None
    stable: tuple[Checkpoint, ...] = ()
    snapshot: bytes = b""
    checkpoint: Checkpoint | None = None
    batches: tuple[ExecutedBatch, ...] = ()
    mac: bytes = b""


PbftMessage: TypeAlias = (
    Request
    | PrePrepare
    | Prepare
    | Commit
    | Reply
    | Checkpoint
    | ViewChange
    | NewView
    | Status
    | Help
)
"""Everything that crosses the network (as a union it decodes by tag)."""

REPLICA_MESSAGES = (
    Request,
    PrePrepare,
    Prepare,
    Commit,
    Checkpoint,
    ViewChange,
    NewView,
    Status,
    Help,
)
"""What a replica accepts."""

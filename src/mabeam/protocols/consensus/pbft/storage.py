"""What a PBFT replica keeps across a crash: its view and its last stable checkpoint.

:class:`PbftStorage` is in memory (the cluster keeps one per replica, outside the actor, so
it outlives a crash). ``durable=False`` keeps nothing but the count of incarnations: the
replica restarts empty and catches up through state transfer; ``durable=True`` keeps the
view it last moved to and its last stable checkpoint (the state snapshot and the quorum's
signed proof), so it restarts from there and fetches only what came after.
"""

from __future__ import annotations

from dataclasses import dataclass

from .messages import Checkpoint


@dataclass(frozen=True)
class StoredCheckpoint:
    """A stable checkpoint: its sequence number, state snapshot and proof."""

    seq: int
    snapshot: bytes
    proof: tuple[Checkpoint, ...]


class PbftStorage:
    """A replica's durable store (see the module docstring)."""

    def __init__(self, *, durable: bool = True) -> None:
        self.durable = durable
        self.boots = 0
        """How many times a replica started on this store (> 1: it is a restart)."""
        self.view = 0
        self.checkpoint: StoredCheckpoint | None = None

    def save_view(self, view: int) -> None:
        """The replica moved to ``view`` (it never goes back below it)."""
        if self.durable:
            self.view = max(self.view, view)

    def save_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        """A newer stable checkpoint."""
        if self.durable and (self.checkpoint is None or checkpoint.seq > self.checkpoint.seq):
            self.checkpoint = checkpoint

"""What a leader knows about each follower's log (etcd's ``tracker.Progress``).

A follower starts in *probe* state: the leader sends one AppendEntries at a time and waits for
the answer (or the next heartbeat) while it searches for the point where the logs agree. Once
an AppendEntries succeeds the follower is in *replicate* state and new entries are streamed to
it as they are proposed. ``match`` only ever grows: stale or duplicated answers cannot lower it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Progress:
    """Replication state of one follower, as its leader sees it."""

    match: int = 0
    next: int = 1
    replicating: bool = False
    probe_sent: bool = False
    recent_active: bool = False
    snapshot_index: int = 0
    """The snapshot being sent (probe state with ``next`` below the leader's log), or 0."""
    snapshot_offset: int = 0
    """How many of its bytes the follower acknowledged."""

    @property
    def paused(self) -> bool:
        """Whether the leader must wait before sending more (a probe is outstanding)."""
        return not self.replicating and self.probe_sent

    def maybe_update(self, index: int) -> bool:
        """Record that the follower's log matches up to ``index``; whether match grew."""
        updated = index > self.match
        if updated:
            self.match = index
            self.probe_sent = False
        self.next = max(self.next, index + 1)
        return updated

    def maybe_decr_to(self, rejected: int, match_hint: int) -> bool:
        """Back off after the follower rejected prev index ``rejected``; False if stale.

        In replicate state a rejection at or below ``match`` is stale, otherwise ``next``
        drops to ``match + 1``. In probe state only the answer to the outstanding probe
        counts; ``next`` jumps to just after ``match_hint`` (the fast back-off), never to
        ``match`` or below.
        """
        if self.replicating:
            if rejected <= self.match:
                return False
            self.next = self.match + 1
            return True
        if self.next - 1 != rejected:
            return False
        self.next = max(min(rejected, match_hint + 1), self.match + 1)
        self.probe_sent = False
        return True

    def become_probe(self) -> None:
        """Search for the agreement point one message at a time."""
        self.replicating = False
        self.probe_sent = False
        self.next = self.match + 1

    def become_replicate(self) -> None:
        """Stream entries optimistically from just after ``match``."""
        self.replicating = True
        self.probe_sent = False
        self.next = self.match + 1

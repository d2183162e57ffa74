"""The Raft client actor and the messages between clients and nodes.

Clients: a client (:class:`RaftClient`) is an actor that tells a :class:`ClientRequest` to
a node and gets a tell back: the leader answers with a :class:`ClientReply` once each
command is applied; a follower answers with a :class:`Redirect` naming the leader it knows.
The client retries through redirects and elections on a timer. Commands carry (client,
seq) so a retried one executes once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from ....runtime import Actor, DeferredReply, Timer
from .._host import EPSILON_MS as _EPSILON_MS
from .._host import StatusView, start_collector
from ..kv import ClientCommand


class ClientRequest(msgspec.Struct, frozen=True, tag=True):
    """Client -> node: append these commands (one, or a batch) to the replicated log."""

    client: str
    commands: tuple[ClientCommand, ...]


class ReadRequest(msgspec.Struct, frozen=True, tag=True):
    """Client -> node: read these keys (seq, key) linearizably, without a log entry."""

    client: str
    reads: tuple[tuple[int, str], ...]


class ChangeMembership(msgspec.Struct, frozen=True, tag=True):
    """Client -> node: make one membership change (answered with the new configuration,
    a :class:`~.messages.Membership`, or an :class:`~..kv.ApplyError` if impossible)."""

    client: str
    seq: int
    action: str
    node: str


class MembershipQuery(msgspec.Struct, frozen=True, tag=True):
    """What a client actor is asked to submit for a membership change (not a command)."""

    action: str
    node: str


class SetNodes(msgspec.Struct, frozen=True, tag=True):
    """Application -> client actor: the nodes to send to from now on."""

    nodes: tuple[str, ...]


class ReadQuery(msgspec.Struct, frozen=True, tag=True):
    """What a client actor is asked to submit for a read of ``key`` (not a command)."""

    key: str


class CommandResult(msgspec.Struct, frozen=True):
    """One applied command: where it sits in the log and what the state machine returned
    (an :class:`~..kv.ApplyError` if executing it raised).

    ``index`` is 0 when a leader answered a duplicate from its session cache.
    """

    seq: int
    index: int
    term: int
    result: Any = None


class ClientReply(msgspec.Struct, frozen=True, tag=True):
    """Leader -> client: these of its commands are applied."""

    leader: str
    results: tuple[CommandResult, ...]


class Redirect(msgspec.Struct, frozen=True, tag=True):
    """Node -> client: not the leader; ``leader_hint`` is the one it knows, if any."""

    node: str
    leader_hint: str | None
    seqs: tuple[int, ...]


# ---------------------------------------------------------------------- the client


class Submit(msgspec.Struct, frozen=True, tag=True):
    """Application -> client actor: replicate these (seq, command) pairs, in order."""

    commands: tuple[tuple[int, Any], ...]


class Committed(msgspec.Struct, frozen=True):
    """A command applied by the cluster: its log position, the leader, the result (an
    :class:`~..kv.ApplyError` if applying it raised; ``index`` 0: a retry answered from
    the session cache)."""

    index: int
    term: int
    leader: str
    result: Any = None


class Cancel(msgspec.Struct, frozen=True, tag=True):
    """Application -> client actor: stop retrying these seqs (their caller gave up)."""

    seqs: tuple[int, ...]


class _Retry(msgspec.Struct, frozen=True, tag=True):
    """The client's retry timer fired."""


_RETRY = _Retry()

ResultHandler = Callable[[int, CommandResult, str], None]
"""``(seq, result, leader)``: the shape of the old result callback (the client now answers
the ask of each :class:`Submit`); kept for code that names it."""


class _Batch:
    """One asked :class:`Submit`: answered once every one of its seqs is."""

    __slots__ = ("reply", "results", "seqs")

    def __init__(self, reply: DeferredReply, seqs: list[int]) -> None:
        self.reply = reply
        self.seqs = seqs
        self.results: dict[int, Committed] = {}


class _Request:
    __slots__ = ("command", "due", "waiting")

    def __init__(self, command: Any, due: float) -> None:
        self.command = command
        self.due = due
        self.waiting = True
        """True: sent and waiting for an answer; False: redirected, waiting to resend."""


class RaftClient(Actor):
    """Submits commands to the cluster, following redirects and retrying through elections.

    Registered under a name (the nodes answer to it). Each :class:`Submit` goes to the
    node believed to lead, as one :class:`ClientRequest`. A :class:`Redirect` with a hint
    sends the commands on to the hinted node at once; without one (an election is on),
    they wait ``backoff_ms`` and go to the next node. A command with no answer after
    ``retry_ms`` is sent again, to the next node (the one tried may be down).

    Ask it a :class:`Submit` and the answer comes once every command in it is applied: a
    list of :class:`Committed`, in order (``self.context.reply_later``). A :class:`Cancel`
    stops the retries of seqs whose asker gave up. ``status`` (optional) is the cluster's
    :class:`~.._host.StatusView`: the client starts its :class:`~.._host.StatusCollector`
    as a child, so it lives as long as the client.
    """

    def __init__(
        self,
        nodes: Sequence[str],
        *,
        retry_ms: float = 300.0,
        backoff_ms: float = 50.0,
        max_batch: int = 1024,
        status: StatusView[Any] | None = None,
    ) -> None:
        self.nodes = list(nodes)
        self.status = status
        self._batches: dict[int, _Batch] = {}
        self.retry_ms = retry_ms
        self.backoff_ms = backoff_ms
        self.max_batch = max_batch
        self.target = self.nodes[0]
        self.pending: dict[int, _Request] = {}
        self.sent = 0
        self.redirects = 0
        self._timer: Timer | None = None
        self._timer_at = float("inf")
        self._hops = 0

    def _now(self) -> float:
        return self.context.time() * 1000.0

    async def on_start(self) -> None:
        if self.status is not None:
            await start_collector(self.context, self.status)

    async def receive(self, message: Any) -> Any:
        if isinstance(message, ClientReply):
            self._replied(message)
        elif isinstance(message, Redirect):
            self._redirected(message)
        elif isinstance(message, Submit):
            due = self._now() + self.retry_ms
            seqs = [seq for seq, _ in message.commands]
            reply = self.context.reply_later()
            if reply.wanted:
                batch = _Batch(reply, seqs)
                for seq in seqs:
                    self._batches[seq] = batch
            for seq, command in message.commands:
                self.pending[seq] = _Request(command, due)
            self._send([seq for seq, _ in message.commands])
            self._want(due)
        elif isinstance(message, _Retry):
            self._retry()
        elif isinstance(message, Cancel):
            for seq in message.seqs:
                self.pending.pop(seq, None)
                gone = self._batches.pop(seq, None)
                if gone is not None and not gone.reply.done:
                    gone.reply.fail(TimeoutError("cancelled: the asker gave up"))
        elif isinstance(message, SetNodes):
            self.nodes = list(message.nodes)
        else:
            raise TypeError(f"unexpected message {type(message).__name__}")
        if not self.pending and self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._timer_at = float("inf")
        return None

    def _send(self, seqs: Sequence[int]) -> None:
        """Send the pending ones among ``seqs`` to the current target, in batches."""
        pending = self.pending
        live = [seq for seq in seqs if seq in pending]
        if not live:
            return
        name = self.context.name
        assert name is not None, "a RaftClient must be registered under a name"
        acked_below = next(iter(pending))
        tell = self.context.tell
        target = self.target
        changes = [seq for seq in live if isinstance(pending[seq].command, MembershipQuery)]
        if changes:
            live = [seq for seq in live if seq not in changes]
            for seq in changes:
                query = pending[seq].command
                self.sent += 1
                tell(target, ChangeMembership(name, seq, query.action, query.node))
        reads = [seq for seq in live if isinstance(pending[seq].command, ReadQuery)]
        if reads:
            live = [seq for seq in live if not isinstance(pending[seq].command, ReadQuery)]
            for start in range(0, len(reads), self.max_batch):
                keys = tuple(
                    (seq, pending[seq].command.key) for seq in reads[start : start + self.max_batch]
                )
                self.sent += len(keys)
                tell(target, ReadRequest(name, keys))
        for start in range(0, len(live), self.max_batch):
            chunk = live[start : start + self.max_batch]
            commands = tuple(
                ClientCommand(name, seq, pending[seq].command, acked_below) for seq in chunk
            )
            self.sent += len(commands)
            tell(target, ClientRequest(name, commands))

    def _replied(self, reply: ClientReply) -> None:
        self.target = reply.leader
        self._hops = 0
        pending = self.pending
        batches = self._batches
        for result in reply.results:
            if pending.pop(result.seq, None) is None:
                continue
            batch = batches.pop(result.seq, None)
            if batch is None:
                continue
            batch.results[result.seq] = Committed(
                result.index, result.term, reply.leader, result.result
            )
            if len(batch.results) == len(batch.seqs) and not batch.reply.done:
                batch.reply.reply([batch.results[seq] for seq in batch.seqs])

    def _redirected(self, redirect: Redirect) -> None:
        self.redirects += 1
        hint = redirect.leader_hint
        self._hops += 1
        if hint is not None and hint != redirect.node and self._hops <= 2 * len(self.nodes):
            self.target = hint
            self._send(redirect.seqs)
            return
        # No leader known there (an election is on): wait a little, then try another node.
        if redirect.node == self.target:
            self._rotate()
        due = self._now() + self.backoff_ms
        for seq in redirect.seqs:
            request = self.pending.get(seq)
            if request is not None:
                request.due = due
                request.waiting = False
        self._want(due)

    def _rotate(self) -> None:
        nodes = self.nodes
        position = nodes.index(self.target) if self.target in nodes else -1
        self.target = nodes[(position + 1) % len(nodes)]

    def _retry(self) -> None:
        if self._timer is not None and self._timer.active:
            return  # a tick of a cancelled timer: the armed one comes later
        self._timer = None
        self._timer_at = float("inf")
        self._hops = 0
        now = self._now() + _EPSILON_MS
        due = [seq for seq, request in self.pending.items() if request.due <= now]
        if any(self.pending[seq].waiting for seq in due):
            # No answer at all within retry_ms: the target may be down or cut off.
            self._rotate()
        if due:
            self.context.log.debug("raft_client_retry", commands=len(due), target=self.target)
        next_due = now + self.retry_ms
        for seq in due:
            request = self.pending[seq]
            request.due = next_due
            request.waiting = True
        self._send(due)
        if self.pending:
            self._want(min(request.due for request in self.pending.values()))

    def _want(self, due: float) -> None:
        """Have the retry timer fire no later than ``due``."""
        if self._timer is not None and self._timer_at <= due:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = due
        self._timer = self.context.send_after(max(0.0, due - self._now()) / 1000.0, _RETRY)

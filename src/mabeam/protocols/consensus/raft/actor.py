"""The Raft actor shell: a :class:`RaftAgent` hosts one pure :class:`RaftNode`.

Raft messages travel as tells between agent actors addressed by name (a restarted agent
has a new ref, the same name). The shell keeps one ``send_after`` timer armed to
``node.deadline()``; after every input (a peer's message, the timer, a client request) it
takes ``node.ready()``, sends its messages and applies its committed entries, in order, to
its :class:`~..kv.KVStateMachine` (or the ``machine`` given). A command that raises when
applied does not stop the node: the machine records an :class:`~..kv.ApplyError` as its
result, the same on every node, and the client gets that.

Durable state lives in the storage object passed in (a ChildSpec argument), so every
incarnation of a node, after a crash and a restart by its supervisor, gets the same
:class:`~.storage.MemoryStorage`; the state machine is volatile and rebuilt from the
latest snapshot, if any, and the committed log after it. With ``config.snapshot_threshold``
N the agent snapshots its machine (:meth:`~..kv.KVStateMachine.snapshot`) every N applied
entries and the node drops the log below; a snapshot the node installs from its leader is
loaded with :meth:`~..kv.KVStateMachine.restore`.

Membership (:class:`ChangeMembership`): the leader proposes the change
(:meth:`~.node.RaftNode.propose_membership`) and answers with the configuration once its
entry is applied; a change it cannot make yet (one pending, a learner catching up) is
answered with a :class:`Redirect` to itself, which the client retries after its back-off.
A node added later runs with ``joining``: a non-member until the log makes it a learner.

Reads (:class:`ReadRequest`) need no log entry: the leader confirms it still leads by
ReadIndex (see :mod:`.node`) and answers from its machine once the read's index is applied.

Clients: the runtime has no deferred ``ask`` reply, so a client (:class:`RaftClient`) is an
actor that tells a :class:`ClientRequest` to a node and gets a tell back: the leader
answers with a :class:`ClientReply` once each command is applied; a follower answers with a
:class:`Redirect` naming the leader it knows. The client retries through redirects and
elections on a timer. Commands carry (client, seq) so a retried one executes once.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from ....runtime import Actor, Timer
from .._host import EPSILON_MS as _EPSILON_MS
from .._host import CoreHost
from ..kv import ApplyError, ClientCommand, KVStateMachine, StateMachineFactory
from .messages import (
    AppendEntries,
    AppendEntriesResponse,
    Entry,
    InstallSnapshot,
    InstallSnapshotResponse,
    ReadProbe,
    ReadProbeAck,
    RequestVote,
    RequestVoteResponse,
)
from .node import (
    MembershipAction,
    MembershipChangeError,
    NotLeaderError,
    RaftConfig,
    RaftNode,
    ReadState,
    Ready,
    as_membership,
)
from .storage import RaftStorage

_RAFT_MESSAGES = (
    AppendEntries,
    AppendEntriesResponse,
    RequestVote,
    RequestVoteResponse,
    InstallSnapshot,
    InstallSnapshotResponse,
    ReadProbe,
    ReadProbeAck,
)


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


class GetNodeState(msgspec.Struct, frozen=True, tag=True):
    """Ask a node for its :class:`NodeState`."""


class NodeState(msgspec.Struct, frozen=True):
    """A node's state as PROTOCOLS.md reports it (``role`` "down" for a crashed node)."""

    id: str
    role: str
    term: int
    commit_index: int
    leader: str | None
    log: list[Entry]
    applied: int = 0
    data: dict[str, Any] = {}


class NodeStatus(msgspec.Struct, frozen=True):
    """What a :class:`RaftAgent` reports to its observer whenever it changes."""

    id: str
    role: str
    term: int
    commit_index: int
    leader: str | None
    last_index: int = 0


Observer = Callable[[NodeStatus], None]


class RaftAgent(CoreHost[RaftNode, Ready]):
    """An agent actor hosting a Raft node (see the module docstring).

    ``storage`` and ``rng`` are handed to every incarnation (ChildSpec args), so a
    restarted node keeps its term, vote and log and draws fresh election timeouts from
    the same stream. ``observer`` (optional) sees every change of role, term, commit
    index or leader: a scenario finds ``@leader`` with it, tests wait on it. ``machine``
    (optional) makes this incarnation's state machine (default :class:`~..kv.KVStateMachine`).
    """

    def __init__(
        self,
        node_id: str,
        peers: Sequence[str],
        storage: RaftStorage,
        config: RaftConfig,
        rng: random.Random,
        observer: Observer | None = None,
        *,
        machine: StateMachineFactory | None = None,
        joining: bool = False,
    ) -> None:
        self.node_id = node_id
        self.joining = joining
        self.peers = tuple(peers)
        self.storage = storage
        self.config = config
        self.rng = rng
        self.observer = observer
        self.machine = KVStateMachine() if machine is None else machine()
        self._pending: dict[int, tuple[str, int]] = {}
        self._reads: list[ReadState] = []

    @property
    def node(self) -> RaftNode:
        """The hosted Raft node."""
        return self.core

    # ------------------------------------------------------------------ lifecycle

    def make_core(self, now: float) -> RaftNode:
        return RaftNode(
            self.node_id,
            self.peers,
            self.storage,
            self.config,
            self.rng,
            now=now,
            joining=self.joining,
        )

    def started(self) -> None:
        node = self.core
        self.context.log.info(
            "raft_node_started",
            node=self.node_id,
            term=node.term,
            voted_for=node.voted_for,
            last_index=node.last_index,
        )

    # ------------------------------------------------------------------ inputs

    def handle(self, message: Any) -> Any:
        node = self.core
        if isinstance(message, _RAFT_MESSAGES):
            node.step(message, self.now())
        elif isinstance(message, ClientRequest):
            self._client_request(message)
        elif isinstance(message, ReadRequest):
            try:
                node.read_index((message.client, message.reads), self.now())
            except NotLeaderError as exc:
                seqs = tuple(seq for seq, _ in message.reads)
                self._tell(message.client, Redirect(self.node_id, exc.leader_hint, seqs))
        elif isinstance(message, ChangeMembership):
            self._change_membership(message)
        elif isinstance(message, GetNodeState):
            return self.state()
        else:
            raise TypeError(f"unexpected message {type(message).__name__}")
        return None

    def _client_request(self, request: ClientRequest) -> None:
        node = self.node
        if node.role != "leader":
            self._redirect(request, node.leader_id)
            return
        machine = self.machine
        answered: list[CommandResult] = []
        fresh: list[ClientCommand] = []
        for command in request.commands:
            if machine.is_duplicate(command.client, command.seq):
                result = machine.cached_result(command.client, command.seq)
                answered.append(CommandResult(command.seq, 0, node.term, result))
            else:
                fresh.append(command)
        if fresh:
            try:
                indices = self._propose(fresh)
            except NotLeaderError as exc:
                self._redirect(request, exc.leader_hint)
                return
            pending = self._pending
            for index, command in zip(indices, fresh, strict=True):
                pending[index] = (command.client, command.seq)
        if answered:
            self._tell(request.client, ClientReply(self.node_id, tuple(answered)))

    def _change_membership(self, request: ChangeMembership) -> None:
        node = self.node
        action: MembershipAction = request.action  # type: ignore[assignment]
        try:
            index = node.propose_membership(action, request.node, self.now())
        except NotLeaderError as exc:
            self._tell(request.client, Redirect(self.node_id, exc.leader_hint, (request.seq,)))
            return
        except MembershipChangeError as exc:
            if exc.retryable:  # later: the client backs off and asks again
                self._tell(request.client, Redirect(self.node_id, None, (request.seq,)))
                return
            error = ApplyError("MembershipChangeError", str(exc))
            result = CommandResult(request.seq, 0, node.term, error)
            self._tell(request.client, ClientReply(self.node_id, (result,)))
            return
        if index is None:
            result = CommandResult(request.seq, 0, node.term, node.membership)
            self._tell(request.client, ClientReply(self.node_id, (result,)))
            return
        self._pending[index] = (request.client, request.seq)

    def _propose(self, commands: list[ClientCommand]) -> list[int]:
        """Append the commands to the log: in one go when the node can (one broadcast)."""
        node: Any = self.node
        now = self.now()
        if len(commands) > 1 and hasattr(node, "propose_many"):
            indices: list[int] = node.propose_many(commands, now)
            return indices
        return [node.propose(command, now) for command in commands]

    def _redirect(self, request: ClientRequest, hint: str | None) -> None:
        seqs = tuple(command.seq for command in request.commands)
        self._tell(request.client, Redirect(self.node_id, hint, seqs))

    # ------------------------------------------------------------------ outputs

    def after_ready(self, ready: Ready) -> None:
        node = self.core
        if ready.snapshot is not None:
            self._load_snapshot(ready.snapshot.index, ready.snapshot.data)
        if ready.committed:
            self._apply(ready.committed)
            threshold = self.config.snapshot_threshold
            applied = self.machine.last_applied
            if threshold and applied - node.first_index + 1 >= threshold:
                node.compact(applied, self.machine.snapshot())
        if ready.read_states:
            self._reads.extend(ready.read_states)
        if self._reads:
            self._serve_reads()

    def _load_snapshot(self, index: int, data: bytes) -> None:
        """Load a snapshot into the machine; commands it covers are answered by retries
        (the machine's sessions hold their results)."""
        self.machine.restore(data)
        if self.machine.last_applied != index:
            raise ValueError(
                f"snapshot at {index} restored a machine at {self.machine.last_applied}"
            )
        for pending_index in [i for i in self._pending if i <= index]:
            del self._pending[pending_index]

    def _serve_reads(self) -> None:
        applied = self.machine.last_applied
        later = []
        for state in self._reads:
            if state.index > applied:
                later.append(state)
                continue
            client, reads = state.ctx
            results = tuple(
                CommandResult(seq, state.index, self.node.term, self.machine.read(key))
                for seq, key in reads
            )
            self._tell(client, ClientReply(self.node_id, results))
        self._reads = later

    def _apply(self, entries: list[Entry]) -> None:
        machine = self.machine
        pending = self._pending
        replies: dict[str, list[CommandResult]] = {}
        for entry in entries:
            data = entry.data
            membership = None if type(data) is ClientCommand else as_membership(data)
            if membership is not None:
                machine.apply(entry.index, None)  # Raft's own entry: a no-op to the machine
                waiting = pending.pop(entry.index, None) if pending else None
                if waiting is not None:
                    # Whoever proposed it, this is the configuration now: the caller checks.
                    client, seq = waiting
                    replies.setdefault(client, []).append(
                        CommandResult(seq, entry.index, entry.term, membership)
                    )
                continue
            result = machine.apply(entry.index, data)
            waiting = pending.pop(entry.index, None) if pending else None
            if waiting is None:
                continue
            # The index may hold another leader's entry now: answer only our own command.
            if isinstance(data, ClientCommand) and (data.client, data.seq) == waiting:
                replies.setdefault(data.client, []).append(
                    CommandResult(data.seq, entry.index, entry.term, result)
                )
        for client, results in replies.items():
            self._tell(client, ClientReply(self.node_id, tuple(results)))

    def _tell(self, name: str, message: Any) -> None:
        ref = self.context.whereis(name)
        if ref is not None:
            ref.tell(message)

    # ------------------------------------------------------------------ status

    def marks(self) -> tuple[str, int, int, str | None, int]:
        node = self.core
        return (node.role, node.term, node.commit_index, node.leader_id, node.last_index)

    def status_changed(self, previous: Any, ready: Ready) -> None:
        node = self.core
        if previous is None or previous[:2] != (node.role, node.term):
            self.context.log.info(
                "raft_role_changed", node=self.node_id, role=node.role, term=node.term
            )

    def status(self, ready: Ready | None = None) -> NodeStatus:
        node = self.core
        return NodeStatus(
            self.node_id, node.role, node.term, node.commit_index, node.leader_id, node.last_index
        )

    def _subscribed(self) -> bool:
        return self.observer is not None

    def _publish(self, status: Any) -> None:
        if self.observer is not None:
            self.observer(status)

    # ------------------------------------------------------------------ queries

    def state(self) -> NodeState:
        """This node's role, term, commit index, leader, log and applied state now."""
        node = self.core
        return NodeState(
            id=self.node_id,
            role=node.role,
            term=node.term,
            commit_index=node.commit_index,
            leader=node.leader_id,
            log=node.log,
            applied=self.machine.last_applied,
            data=dict(self.machine.data),
        )


# ---------------------------------------------------------------------- the client


class Submit(msgspec.Struct, frozen=True, tag=True):
    """Application -> client actor: replicate these (seq, command) pairs, in order."""

    commands: tuple[tuple[int, Any], ...]


class Cancel(msgspec.Struct, frozen=True, tag=True):
    """Application -> client actor: stop retrying these seqs (their caller gave up)."""

    seqs: tuple[int, ...]


class _Retry(msgspec.Struct, frozen=True, tag=True):
    """The client's retry timer fired."""


_RETRY = _Retry()

ResultHandler = Callable[[int, CommandResult, str], None]
"""``(seq, result, leader)``: called by the client actor as each command is applied."""


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
    ``retry_ms`` is sent again, to the next node (the one tried may be down). Results go
    to ``on_result``, once per seq.
    """

    def __init__(
        self,
        nodes: Sequence[str],
        on_result: ResultHandler,
        *,
        retry_ms: float = 300.0,
        backoff_ms: float = 50.0,
        max_batch: int = 1024,
    ) -> None:
        self.nodes = list(nodes)
        self.on_result = on_result
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

    async def receive(self, message: Any) -> Any:
        if isinstance(message, ClientReply):
            self._replied(message)
        elif isinstance(message, Redirect):
            self._redirected(message)
        elif isinstance(message, Submit):
            due = self._now() + self.retry_ms
            for seq, command in message.commands:
                self.pending[seq] = _Request(command, due)
            self._send([seq for seq, _ in message.commands])
            self._want(due)
        elif isinstance(message, _Retry):
            self._retry()
        elif isinstance(message, Cancel):
            for seq in message.seqs:
                self.pending.pop(seq, None)
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
        ref = self.context.whereis(self.target)
        changes = [seq for seq in live if isinstance(pending[seq].command, MembershipQuery)]
        if changes:
            live = [seq for seq in live if seq not in changes]
            for seq in changes:
                query = pending[seq].command
                self.sent += 1
                if ref is not None:
                    ref.tell(ChangeMembership(name, seq, query.action, query.node))
        reads = [seq for seq in live if isinstance(pending[seq].command, ReadQuery)]
        if reads:
            live = [seq for seq in live if not isinstance(pending[seq].command, ReadQuery)]
            for start in range(0, len(reads), self.max_batch):
                keys = tuple(
                    (seq, pending[seq].command.key) for seq in reads[start : start + self.max_batch]
                )
                self.sent += len(keys)
                if ref is not None:
                    ref.tell(ReadRequest(name, keys))
        for start in range(0, len(live), self.max_batch):
            chunk = live[start : start + self.max_batch]
            commands = tuple(
                ClientCommand(name, seq, pending[seq].command, acked_below) for seq in chunk
            )
            self.sent += len(commands)
            if ref is not None:
                ref.tell(ClientRequest(name, commands))

    def _replied(self, reply: ClientReply) -> None:
        self.target = reply.leader
        self._hops = 0
        pending = self.pending
        on_result = self.on_result
        for result in reply.results:
            if pending.pop(result.seq, None) is not None:
                on_result(result.seq, result, reply.leader)

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

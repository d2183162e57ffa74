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

Clients talk to the nodes with the messages of :mod:`.client` (where :class:`RaftClient`
lives; both are re-exported here): a :class:`ClientRequest` is answered with a
:class:`ClientReply` once its commands are applied, or with a :class:`Redirect` to the
leader the node knows.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from .._host import CoreHost
from ..kv import ApplyError, ClientCommand, KVStateMachine, StateMachineFactory
from .client import Cancel as Cancel
from .client import ChangeMembership as ChangeMembership
from .client import ClientReply as ClientReply
from .client import ClientRequest as ClientRequest
from .client import CommandResult as CommandResult
from .client import MembershipQuery as MembershipQuery
from .client import RaftClient as RaftClient
from .client import ReadQuery as ReadQuery
from .client import ReadRequest as ReadRequest
from .client import Redirect as Redirect
from .client import ResultHandler as ResultHandler
from .client import SetNodes as SetNodes
from .client import Submit as Submit
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
    """What a :class:`RaftAgent` tells its status subscriber whenever it changes."""

    id: str
    role: str
    term: int
    commit_index: int
    leader: str | None
    last_index: int = 0


Observer = Callable[[NodeStatus], None]
"""An application-side listener of statuses (``ClusterView.listeners``)."""


class RaftAgent(CoreHost[RaftNode, Ready]):
    """An agent actor hosting a Raft node (see the module docstring).

    ``storage`` and ``rng`` are handed to every incarnation (ChildSpec args), so a
    restarted node keeps its term, vote and log and draws fresh election timeouts from
    the same stream. ``status_to`` (optional) names the actor told a :class:`NodeStatus` at
    every change of role, term, commit index or leader (the cluster's
    :class:`~.._host.StatusCollector`: a scenario finds ``@leader`` with it, tests wait on
    it). ``machine`` (optional) makes this incarnation's state machine (default
    :class:`~..kv.KVStateMachine`).
    """

    def __init__(
        self,
        node_id: str,
        peers: Sequence[str],
        storage: RaftStorage,
        config: RaftConfig,
        rng: random.Random,
        status_to: str | None = None,
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
        self.status_to = status_to
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
        self.context.tell(name, message)

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

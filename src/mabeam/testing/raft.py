"""An in-memory network of pure Raft nodes on a virtual clock, with faults and safety checks.

A test harness for the sans-IO :class:`~mabeam.protocols.consensus.raft.RaftNode` (the
project's own Raft tests and benchmarks use it; so can tests of your own changes to it).

:class:`Cluster` owns the nodes, their storages, a virtual ``now`` (ms) and a queue of messages
in flight. Time moves only through :meth:`Cluster.run_for` / :meth:`Cluster.run_until`: the next
event is either a message delivery or a node's timer deadline, whichever comes first. Faults:
6.824-style ``disconnect`` / ``connect`` of a node, directed link ``cut`` / ``partition`` /
``heal``, black holes (a crashed node), message ``drop`` / ``duplicate`` rates, per-message delay
(random delays reorder), a ``filter`` to drop chosen messages, and ``crash`` (the node object
is discarded, its storage kept) / ``restart`` (a new node over the same storage).

:class:`SafetyChecker` is the recorder: after every event it checks, from the nodes' states and
the streams of applied entries, H1 election safety, H2 state machine safety, H3 in-order
exactly-once apply, H4 term and commit never going backwards, Leader Append-Only and Leader
Completeness; :meth:`Cluster.check_logs` checks Log Matching over every pair of logs and H5
(every acknowledged write is in the final logs). Any violation raises :class:`SafetyViolation`.

Snapshots: with ``snapshot_every`` each node compacts its log every that many applied entries.
The harness's state machine is a hash chain over the applied entries, so a snapshot is the
chain's value; a node loading one (restart or InstallSnapshot) is checked against the chain
of the entries the checker saw committed (H2 across snapshots).
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import math
import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import msgspec

from mabeam.protocols.consensus.raft import (
    AppendEntries,
    Entry,
    HardState,
    MemoryStorage,
    NotLeaderError,
    RaftConfig,
    RaftMessage,
    RaftNode,
    RequestVote,
)
from mabeam.protocols.consensus.raft.messages import Snapshot

Delay = Callable[[RaftMessage, random.Random], float]
_ENCODER = msgspec.msgpack.Encoder()


class SafetyViolation(AssertionError):
    """One of H1-H5 (or a Figure 3 property) failed."""


def same_entry(a: Entry, b: Entry) -> bool:
    """Equal, or equal once encoded: a FileStorage gives structs back as dicts."""
    return a == b or _ENCODER.encode(a) == _ENCODER.encode(b)


def chain_step(previous: bytes, entry: Entry) -> bytes:
    """The harness state machine: a hash chain over the applied entries."""
    return hashlib.sha256(previous + _ENCODER.encode(entry)).digest()


def log_of_terms(terms: Iterable[int], data: Callable[[int], Any] | None = None) -> list[Entry]:
    """A log whose entry i (1-based) has the i-th term: etcd's ``entsWithConfig`` shapes."""
    return [
        Entry(term=t, index=i, data=data(i) if data else f"t{t}i{i}")
        for i, t in enumerate(terms, start=1)
    ]


class SafetyChecker:
    """Checks H1-H4 and the Figure 3 properties after every event; records acknowledged writes."""

    def __init__(self) -> None:
        self.leaders: dict[int, str] = {}
        self.committed: dict[int, Entry] = {}
        self.max_committed = 0
        self.applied: dict[str, int] = {}
        self.terms: dict[str, int] = {}
        self.commits: dict[str, int] = {}
        self.leader_marks: dict[str, tuple[int, int, int]] = {}
        self.acked: dict[int, Entry] = {}
        self.applied_total = 0
        self.chain: dict[int, bytes] = {0: b""}
        """Hash chain over the committed entries: the state a snapshot at i must hold."""
        self.snapshots_loaded = 0

    def loaded_snapshot(self, node_id: str, snapshot: Snapshot) -> None:
        """A node loaded ``snapshot`` into its state machine: its apply stream jumps there."""
        expected = self.chain.get(snapshot.index)
        if expected is None or snapshot.data != expected:
            raise SafetyViolation(f"H2: {node_id} loaded a snapshot at {snapshot.index} unlike")
        if snapshot.index < self.applied.get(node_id, 0):
            raise SafetyViolation(f"H3: {node_id} went back to snapshot {snapshot.index}")
        self.applied[node_id] = snapshot.index
        self.snapshots_loaded += 1

    def restarted(self, node_id: str) -> None:
        """A new incarnation: its apply stream and commit index start over (they are volatile)."""
        self.applied[node_id] = 0
        self.commits[node_id] = 0
        self.leader_marks.pop(node_id, None)

    def observe(self, node: RaftNode, applied: Sequence[Entry]) -> None:
        """Check one node's state and the entries it just handed out for applying."""
        nid = node.node_id
        # H3: in order, exactly once, with no gap.
        last = self.applied.get(nid, 0)
        for entry in applied:
            if entry.index != last + 1:
                raise SafetyViolation(f"H3: {nid} applied index {entry.index} after {last}")
            last = entry.index
            # H2: one entry per index across every node and incarnation.
            known = self.committed.get(entry.index)
            if known is None:
                self.committed[entry.index] = entry
                self.max_committed = max(self.max_committed, entry.index)
                previous = self.chain.get(entry.index - 1)
                if previous is not None:
                    self.chain[entry.index] = chain_step(previous, entry)
            elif not same_entry(known, entry):
                raise SafetyViolation(f"H2: {nid} applied {entry} where {known} was applied")
        self.applied[nid] = last
        self.applied_total += len(applied)
        # H4: the term never goes back (it is persistent), the commit index never within one
        # incarnation; the commit index never passes the log.
        if node.term < self.terms.get(nid, 0):
            raise SafetyViolation(f"H4: {nid} term went from {self.terms[nid]} to {node.term}")
        self.terms[nid] = node.term
        if node.commit_index < self.commits.get(nid, 0):
            raise SafetyViolation(f"H4: {nid} commit went back to {node.commit_index}")
        if node.commit_index > node.last_index:
            raise SafetyViolation(f"{nid} commit {node.commit_index} past its log")
        self.commits[nid] = node.commit_index
        if node.role != "leader":
            self.leader_marks.pop(nid, None)
            return
        # H1: at most one leader per term.
        holder = self.leaders.setdefault(node.term, nid)
        if holder != nid:
            raise SafetyViolation(f"H1: {holder} and {nid} both led term {node.term}")
        mark = self.leader_marks.get(nid)
        if mark is not None and mark[0] == node.term:
            # Leader Append-Only: a leader never overwrites or deletes its entries.
            _, index, term = mark
            if node.last_index < index or node.term_at(index) != term:
                raise SafetyViolation(f"append-only: leader {nid} lost entry {index}")
        else:
            # Leader Completeness: a new leader holds every entry known committed.
            top = self.max_committed
            if top >= node.first_index and node.term_at(top) != self.committed[top].term:
                raise SafetyViolation(f"completeness: leader {nid} lacks committed {top}")
        self.leader_marks[nid] = (node.term, node.last_index, node.last_term)


class Cluster:
    """Raft nodes over an in-memory network with faults (see the module docstring)."""

    def __init__(
        self,
        n: int = 3,
        *,
        seed: int = 0,
        config: RaftConfig | None = None,
        ids: Sequence[str] | None = None,
        storages: dict[str, MemoryStorage] | None = None,
        delay: tuple[float, float] = (1.0, 3.0),
        snapshot_every: int = 0,
        node_class: type[RaftNode] = RaftNode,
    ) -> None:
        self.ids = list(ids) if ids is not None else [f"n{i}" for i in range(1, n + 1)]
        self.initial_ids = list(self.ids)
        self.joined: set[str] = set()
        """Nodes added after the start (they start as non-members, ``joining``)."""
        self.config = config if config is not None else RaftConfig()
        self.seed = seed
        self.rng = random.Random(seed)
        self.now = 0.0
        self.storages = {nid: MemoryStorage() for nid in self.ids}
        self.storages.update(storages or {})
        self.incarnations = dict.fromkeys(self.ids, 0)
        self.snapshot_every = snapshot_every
        self.node_class = node_class
        """A subclass here plants a bug: tests show the checker catches it."""
        self.machines: dict[str, tuple[int, bytes]] = {}
        self.snapshots_taken = 0
        self.reads_invoked: dict[Any, int] = {}
        """Read ctx -> the highest index known committed when the read was asked."""
        self.reads_served: dict[Any, int] = {}
        self.checker = SafetyChecker()
        self.nodes: dict[str, RaftNode | None] = {nid: self._new_node(nid) for nid in self.ids}
        self.queue: list[tuple[float, int, RaftMessage]] = []
        self._seq = itertools.count()
        # Faults.
        self.down: set[str] = set()
        self.blocked: set[tuple[str, str]] = set()
        self.delay = delay
        self.delay_fn: Delay | None = None
        self.drop_rate = 0.0
        self.duplicate_rate = 0.0
        self.filter: Callable[[RaftMessage], bool] | None = None
        # Counters.
        self.sent: Counter[str] = Counter()
        self.delivered = 0
        self.events = 0
        self.count_bytes = False
        self.bytes_sent = 0

    # -- nodes ---------------------------------------------------------------------

    def _new_node(self, nid: str) -> RaftNode:
        self.incarnations[nid] += 1
        rng = random.Random(f"{self.seed}/{nid}/{self.incarnations[nid]}")
        node = self.node_class(
            nid,
            self.initial_ids,
            self.storages[nid],
            self.config,
            rng,
            now=self.now,
            joining=nid in self.joined,
        )
        self.checker.restarted(nid)
        self.machines[nid] = (0, b"")
        self._flush(node)
        return node

    def node(self, nid: str) -> RaftNode:
        """The running node ``nid`` (it must not be crashed)."""
        node = self.nodes[nid]
        assert node is not None, f"{nid} is crashed"
        return node

    def alive(self) -> list[RaftNode]:
        """The running nodes, in id order."""
        return [node for node in self.nodes.values() if node is not None]

    def crash(self, nid: str) -> None:
        """Discard the node; its storage (term, vote, log) survives."""
        self.nodes[nid] = None

    def restart(self, nid: str) -> None:
        """A new node over the crashed node's storage (crashing it first if it runs)."""
        self.nodes[nid] = self._new_node(nid)

    def wipe(self, nid: str) -> None:
        """Crash the node and restart it over a fresh, empty storage (a replaced disk).

        Not a Raft fault (its vote is forgotten): use it only where no election can hinge on
        that vote, e.g. with a stable leader.
        """
        self.crash(nid)
        self.storages[nid] = MemoryStorage()
        self.checker.terms.pop(nid, None)
        self.restart(nid)

    def add_member(self, nid: str) -> None:
        """Start a new, empty node that is not a member yet (membership changes add it)."""
        assert nid not in self.nodes, f"{nid} exists"
        self.ids.append(nid)
        self.joined.add(nid)
        self.storages[nid] = MemoryStorage()
        self.incarnations[nid] = 0
        self.nodes[nid] = self._new_node(nid)

    def change(self, nid: str, action: str, target: str) -> int | None:
        """Propose a membership change at ``nid`` (NotLeaderError unless it leads;
        MembershipChangeError if it cannot now); the index of its entry, or None."""
        node = self.node(nid)
        index = node.propose_membership(action, target, self.now)  # type: ignore[arg-type]
        self._flush(node)
        return index

    # -- network faults ------------------------------------------------------------

    def disconnect(self, nid: str) -> None:
        """Cut every link to and from ``nid`` (6.824's ``disconnect``)."""
        self.down.add(nid)

    def connect(self, nid: str) -> None:
        """Undo :meth:`disconnect`."""
        self.down.discard(nid)

    def cut(self, a: str, b: str) -> None:
        """Cut the link between ``a`` and ``b`` in both directions."""
        self.blocked |= {(a, b), (b, a)}

    def partition(self, *groups: Sequence[str]) -> None:
        """Only nodes in the same group can talk (each node in at most one group)."""
        group_of = {nid: i for i, group in enumerate(groups) for nid in group}
        for a in self.ids:
            for b in self.ids:
                if a != b and group_of.get(a, -1) != group_of.get(b, -2):
                    self.blocked.add((a, b))

    def heal(self) -> None:
        """Reconnect every node and every link (faults by rate stay as set)."""
        self.down.clear()
        self.blocked.clear()

    def connected(self, src: str, dst: str) -> bool:
        """Whether a message from ``src`` to ``dst`` can pass now."""
        return src not in self.down and dst not in self.down and (src, dst) not in self.blocked

    # -- events --------------------------------------------------------------------

    def _flush(self, node: RaftNode) -> None:
        ready = node.ready()
        nid = node.node_id
        if ready.snapshot is not None:
            self.checker.loaded_snapshot(nid, ready.snapshot)
            self.machines[nid] = (ready.snapshot.index, ready.snapshot.data)
        self.checker.observe(node, ready.committed)
        if ready.committed:
            index, digest = self.machines[nid]
            for entry in ready.committed:
                digest = chain_step(digest, entry)
            self.machines[nid] = (ready.committed[-1].index, digest)
        for state in ready.read_states:
            floor = self.reads_invoked.get(state.ctx)
            if floor is None or state.ctx in self.reads_served:
                raise SafetyViolation(f"read {state.ctx!r} served but never asked, or twice")
            if state.index < floor:
                raise SafetyViolation(
                    f"stale read: {nid} served {state.ctx!r} at {state.index}, but {floor} "
                    "was committed before it was asked"
                )
            self.reads_served[state.ctx] = state.index
        every = self.snapshot_every
        if every:
            index, digest = self.machines[nid]
            if index - node.first_index + 1 >= every:
                node.compact(index, digest)
                self.snapshots_taken += 1
        for message in ready.messages:
            self._send(message)

    def _send(self, message: RaftMessage) -> None:
        self.sent[type(message).__name__] += 1
        if self.count_bytes:
            self.bytes_sent += len(_ENCODER.encode(message))
        if not self.connected(message.src, message.dst):
            return
        if self.filter is not None and not self.filter(message):
            return
        rng = self.rng
        if self.drop_rate and rng.random() < self.drop_rate:
            return
        copies = 2 if self.duplicate_rate and rng.random() < self.duplicate_rate else 1
        for _ in range(copies):
            if self.delay_fn is not None:
                delay = self.delay_fn(message, rng)
            else:
                low, high = self.delay
                delay = low if low == high else rng.uniform(low, high)
            heapq.heappush(self.queue, (self.now + delay, next(self._seq), message))

    def _deliver(self, message: RaftMessage) -> None:
        node = self.nodes[message.dst]
        if node is None or not self.connected(message.src, message.dst):
            return
        self.delivered += 1
        node.step(message, self.now)
        self._flush(node)

    def _next_event(self, until: float) -> bool:
        """Run the earliest event due at or before ``until``; False if there is none."""
        t_tick = math.inf
        ticker: RaftNode | None = None
        for node in self.nodes.values():
            if node is not None:
                due = node.deadline()
                if due < t_tick:
                    t_tick, ticker = due, node
        t_msg = self.queue[0][0] if self.queue else math.inf
        self.events += 1
        if ticker is not None and t_tick <= t_msg:
            if t_tick > until:
                return False
            self.now = max(self.now, t_tick)
            ticker.tick(self.now)
            self._flush(ticker)
            return True
        if t_msg > until:
            return False
        _, _, message = heapq.heappop(self.queue)
        self.now = max(self.now, t_msg)
        self._deliver(message)
        return True

    def run_for(self, ms: float) -> None:
        """Advance virtual time by ``ms``, running every event due."""
        end = self.now + ms
        while self._next_event(end):
            pass
        self.now = end

    def run_until(self, predicate: Callable[[], bool], timeout_ms: float) -> bool:
        """Run events until ``predicate()`` holds (True) or ``timeout_ms`` passes (False)."""
        end = self.now + timeout_ms
        while not predicate():
            if not self._next_event(end):
                self.now = end
                return predicate()
        return True

    def settle(self, max_events: int = 100_000) -> None:
        """Deliver every message in flight, and what they cause, without firing any timer.

        etcd's ``network.send``: the tests that drive elections by hand use it.
        """
        for _ in range(max_events):
            if not self.queue:
                return
            time, _, message = heapq.heappop(self.queue)
            self.now = max(self.now, time)
            self._deliver(message)
        raise AssertionError("messages still in flight after settle")

    # -- driving the nodes ---------------------------------------------------------

    def campaign(self, nid: str) -> None:
        """Make ``nid`` start an election now (etcd's ``MsgHup``)."""
        node = self.node(nid)
        node.campaign(self.now)
        self._flush(node)

    def propose(self, nid: str, data: Any) -> int:
        """Propose ``data`` at ``nid`` (NotLeaderError unless it leads); the index."""
        node = self.node(nid)
        index = node.propose(data, self.now)
        self._flush(node)
        return index

    def read(self, nid: str, ctx: Any) -> None:
        """Ask ``nid`` for a ReadIndex read (NotLeaderError unless it leads); the harness
        checks the index it is served at against what was committed when it was asked."""
        node = self.node(nid)
        self.reads_invoked[ctx] = self.checker.max_committed
        try:
            node.read_index(ctx, self.now)
        except NotLeaderError:
            del self.reads_invoked[ctx]
            raise
        self._flush(node)

    def tick_node(self, nid: str) -> None:
        """Advance time to ``nid``'s next deadline and fire only its timers."""
        node = self.node(nid)
        self.now = max(self.now, node.deadline())
        node.tick(self.now)
        self._flush(node)

    def deliver_to(self, message: RaftMessage) -> None:
        """Hand ``message`` to its destination now, bypassing the network."""
        node = self.node(message.dst)
        node.step(message, self.now)
        self._flush(node)

    def take_in_flight(self, keep: Callable[[RaftMessage], bool]) -> list[RaftMessage]:
        """Remove and return the in-flight messages ``keep`` selects, in delivery order."""
        taken = [m for _, _, m in sorted(self.queue) if keep(m)]
        self.queue = [item for item in self.queue if not keep(item[2])]
        heapq.heapify(self.queue)
        return taken

    # -- observing -----------------------------------------------------------------

    def leaders(self) -> list[str]:
        """Ids of the running nodes that consider themselves leader."""
        return [node.node_id for node in self.alive() if node.role == "leader"]

    def leader(self) -> str | None:
        """The connected leader with the highest term, if any (6.824's ``checkOneLeader``)."""
        best: RaftNode | None = None
        for node in self.alive():
            if (
                node.role == "leader"
                and node.node_id not in self.down
                and (best is None or node.term > best.term)
            ):
                best = node
        return best.node_id if best is not None else None

    def wait_leader(self, timeout_ms: float = 5_000.0) -> str:
        """Run until a connected leader exists that a majority of connected nodes follow."""
        found = self.run_until(self._stable_leader, timeout_ms)
        assert found, f"no leader within {timeout_ms} ms (roles {self.roles()})"
        leader = self.leader()
        assert leader is not None
        return leader

    def _stable_leader(self) -> bool:
        leader = self.leader()
        if leader is None:
            return False
        leading = self.node(leader)
        term = leading.term
        voters = leading.membership.voters
        followers = sum(
            1
            for node in self.alive()
            if node.node_id not in self.down
            and node.node_id in voters
            and node.term == term
            and node.leader_id == leader
        )
        return followers >= len(voters) // 2 + 1

    def roles(self) -> dict[str, str]:
        """Each node's role and term, for assertion messages."""
        return {
            nid: "crashed" if node is None else f"{node.role}@{node.term}"
            for nid, node in self.nodes.items()
        }

    def n_applied(self, index: int) -> int:
        """How many running nodes have applied ``index`` (it is then committed)."""
        if index not in self.checker.committed:
            return 0
        return sum(1 for node in self.alive() if node.applied_index >= index)

    def applied_data(self, index: int) -> Any:
        """The data applied at ``index`` (KeyError if nobody applied it)."""
        return self.checker.committed[index].data

    def one(self, data: Any, expected: int, *, timeout_ms: float = 10_000.0) -> int:
        """6.824's ``one()``: submit ``data`` via leaders until ``expected`` nodes apply it.

        Returns the index; the write counts as acknowledged (H5) from then on.
        """
        end = self.now + timeout_ms
        while self.now < end:
            leader = self.leader()
            if leader is not None:
                try:
                    index = self.propose(leader, data)
                except NotLeaderError:
                    index = 0
                term = self.node(leader).term
                if index and self.run_until(
                    _applied_on(self, index, expected), min(2_000.0, end - self.now)
                ):
                    entry = self.checker.committed[index]
                    if entry.data == data and entry.term == term:
                        self.checker.acked[index] = entry
                        return index
                    continue
            self.run_for(50.0)
        raise AssertionError(f"one({data!r}) failed to reach {expected} nodes ({self.roles()})")

    def messages_sent(self, *kinds: type) -> int:
        """How many messages of the given kinds (all kinds if none) were sent so far."""
        if not kinds:
            return sum(self.sent.values())
        return sum(self.sent[kind.__name__] for kind in kinds)

    def rpcs_sent(self) -> int:
        """Requests sent (votes and appends): labrpc counts a call and its reply as one RPC."""
        return self.messages_sent(RequestVote, AppendEntries)

    def check_logs(self, *, complete: bool = False) -> None:
        """Log Matching over every pair of running nodes; H5 over acknowledged writes.

        With ``complete`` (after a quiet period with every node connected) every running
        node must also hold every acknowledged and every applied entry.
        """
        nodes = self.alive()
        logs = {node.node_id: {e.index: e for e in node.log} for node in nodes}
        for a, b in itertools.combinations(nodes, 2):
            la, lb = logs[a.node_id], logs[b.node_id]
            low = max(a.first_index, b.first_index)
            common = min(a.last_index, b.last_index)
            # Log Matching: the same (index, term) means identical prefixes (of what both
            # still hold; below that, the snapshots are checked against the chain).
            top = max((i for i in range(low, common + 1) if la[i].term == lb[i].term), default=0)
            if any(not same_entry(la[i], lb[i]) for i in range(low, top + 1)):
                raise SafetyViolation(f"log matching: {a.node_id} and {b.node_id} differ")
        for node in nodes:
            log = logs[node.node_id]
            for index in range(node.first_index, node.commit_index + 1):
                known = self.checker.committed.get(index)
                if known is not None and not same_entry(log[index], known):
                    raise SafetyViolation(f"{node.node_id} holds {log[index]} over {known}")
        holders = nodes if complete else [n for n in nodes if n.role == "leader"]
        for node in holders:
            log = logs[node.node_id]
            for index, entry in self.checker.acked.items():
                if index < node.first_index:
                    continue  # in the snapshot, which matched the chain when loaded
                if index not in log or not same_entry(log[index], entry):
                    raise SafetyViolation(f"H5: {node.node_id} lost acknowledged {entry}")


def voted(term: int, vote: str | None = None, terms: Iterable[int] = ()) -> MemoryStorage:
    """A storage holding hard state (term, vote) and a log of the given terms."""
    return MemoryStorage(HardState(term=term, voted_for=vote), log_of_terms(terms))


CLASSIC = RaftConfig(pre_vote=False, check_quorum=False)
"""etcd's ``newTestRaft`` defaults: neither PreVote nor CheckQuorum."""


def lone_node(
    n: int = 3,
    *,
    node_id: str = "n1",
    config: RaftConfig | None = None,
    storage: MemoryStorage | None = None,
    seed: int = 0,
) -> RaftNode:
    """One node of an ``n``-node cluster whose peers are driven by hand (n1, n2, ...)."""
    peers = [f"n{i}" for i in range(1, n + 1)]
    return RaftNode(
        node_id,
        peers,
        storage if storage is not None else MemoryStorage(),
        config if config is not None else RaftConfig(),
        random.Random(seed),
    )


def take(node: RaftNode) -> list[RaftMessage]:
    """The messages the node produced since the last call (its committed entries dropped)."""
    return node.ready().messages


def append(
    src: str,
    dst: str,
    term: int,
    prev: int = 0,
    prev_term: int = 0,
    *,
    commit: int = 0,
    entries: Sequence[Entry] = (),
) -> AppendEntries:
    """An AppendEntries (a heartbeat when ``entries`` is empty)."""
    return AppendEntries(
        src=src,
        dst=dst,
        term=term,
        prev_log_index=prev,
        prev_log_term=prev_term,
        entries=tuple(entries),
        leader_commit=commit,
    )


def _applied_on(cluster: Cluster, index: int, expected: int) -> Callable[[], bool]:
    """A ``run_until`` condition: ``index`` is applied on at least ``expected`` nodes."""
    return lambda: cluster.n_applied(index) >= expected

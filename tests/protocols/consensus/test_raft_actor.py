"""Raft on actors over the simulated network: a representative subset of R1-R18.

Every test runs on virtual time; every random choice is seeded. After each scenario the
logs are checked for log matching and committed-prefix agreement.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from structlog.testing import capture_logs

from mabeam._errors import ConfigError
from mabeam.protocols.consensus import Add, CommitTimeoutError, Put
from mabeam.protocols.consensus.kv import KVStateMachine
from mabeam.protocols.consensus.raft import RaftConfig
from mabeam.protocols.consensus.raft.actor import RaftClient, ReadQuery, Submit
from mabeam.sim import SimNetwork

from ._support import T, commands, logs_consistent, raft_cluster

pytestmark = pytest.mark.virtual_time


async def test_initial_election_r1() -> None:
    """R1: exactly one leader within 5T, one term (>= 1) everywhere, stable for 2T more."""
    async with raft_cluster(3) as (cluster, _):
        leader = await cluster.wait_for_leader(timeout=5 * T)
        await asyncio.sleep(0.1)  # a heartbeat round: followers learn the term and leader
        states = await cluster.states()
        assert [s.role for s in states.values()].count("leader") == 1
        terms = {s.term for s in states.values()}
        assert len(terms) == 1
        term = terms.pop()
        assert term >= 1
        assert all(s.leader == leader for s in states.values())
        await asyncio.sleep(2 * T)
        assert cluster.leader() == leader
        assert {s.term for s in (await cluster.states()).values()} == {term}


async def test_commit_reports_index_term_leader_and_result() -> None:
    """A proposal commits at index 2 (after the leader's no-op) on every node."""
    async with raft_cluster(3) as (cluster, _):
        leader = await cluster.wait_for_leader(timeout=5 * T)
        committed = await cluster.propose({"temperature": 0.7}, timeout=1.0)
        assert committed.index == 2
        assert committed.leader == leader
        assert committed.result == {"temperature": 0.7}
        assert await cluster.set("x", 1) is None
        assert await cluster.set("x", 2) == 1
        assert await cluster.get("x") == 2
        assert await cluster.delete("x") == 2
        await asyncio.sleep(0.1)
        states = await cluster.states()
        logs_consistent(states)
        for state in states.values():
            assert commands(state.log) == [
                {"temperature": 0.7},
                Put("x", 1),
                Put("x", 2),
                *commands(state.log)[3:],
            ]
            assert state.commit_index == state.applied == len(state.log)


async def test_leader_crash_re_election_and_commit() -> None:
    """R2/R12: crash the leader; a new leader in a higher term commits the next command."""
    async with raft_cluster(5, seed=2) as (cluster, _):
        first = await cluster.wait_for_leader(timeout=5 * T)
        before = await cluster.propose("a", timeout=1.0)
        await cluster.crash(first)
        assert cluster.leader() is None
        after = await cluster.propose("b", timeout=5 * T)
        assert after.leader != first
        assert after.term > before.term
        assert after.index > before.index
        await asyncio.sleep(0.1)
        states = await cluster.states()
        assert states[first].role == "down"
        logs_consistent(states)
        for node, state in states.items():
            if node != first:
                assert commands(state.log) == ["a", "b"]


async def test_partitioned_leader_steps_down_and_rejoins_without_deposing() -> None:
    """R16 + R17: an isolated leader steps down (CheckQuorum) within 2T; the majority elects
    another; after healing, the old leader rejoins as a follower without raising the term
    (PreVote), and the new leader keeps leading."""
    async with raft_cluster(3, seed=3) as (cluster, network):
        old = await cluster.wait_for_leader(timeout=5 * T)
        await cluster.propose("before", timeout=1.0)
        others = [n for n in cluster.node_ids if n != old]
        network.partition([[old], others])
        start = asyncio.get_running_loop().time()
        await cluster.view.wait(lambda: cluster.view.statuses[old].role != "leader", 2 * T)
        assert asyncio.get_running_loop().time() - start <= 2 * T
        new = await cluster.wait_for_leader(timeout=5 * T)
        assert new in others
        committed = await cluster.propose("during", timeout=5 * T)
        assert committed.leader == new
        new_term = (await cluster.state(new)).term
        await asyncio.sleep(5 * T)  # the isolated node keeps failing pre-votes meanwhile
        assert (await cluster.state(old)).term < new_term + 1
        network.heal()
        await asyncio.sleep(4 * T)
        states = await cluster.states()
        assert cluster.leader() == new
        assert states[new].term == new_term
        assert states[old].role == "follower"
        assert states[old].term == new_term
        logs_consistent(states)
        assert commands(states[old].log) == ["before", "during"]


async def test_without_prevote_the_rejoining_node_deposes_the_leader() -> None:
    """R17, the documented disruption: with PreVote off, the isolated follower inflates its
    term and, when it rejoins, the leader steps down to the higher term."""
    config = RaftConfig(pre_vote=False, check_quorum=False)
    async with raft_cluster(3, seed=4, config=config) as (cluster, network):
        leader = await cluster.wait_for_leader(timeout=5 * T)
        term = (await cluster.state(leader)).term
        follower = next(n for n in cluster.node_ids if n != leader)
        rest = [n for n in cluster.node_ids if n != follower]
        network.partition([[follower], rest])
        await asyncio.sleep(5 * T)
        assert (await cluster.state(follower)).term > term + 1
        network.heal()
        await cluster.wait_for_leader(timeout=10 * T)
        await asyncio.sleep(T)
        assert min(s.term for s in (await cluster.states()).values()) > term + 1


async def test_crash_restart_keeps_term_vote_and_log() -> None:
    """R12: a node restarted by its supervisor comes back with its term, vote and log,
    rebuilds its state machine from the committed log, and never votes twice in a term."""
    async with raft_cluster(3, seed=5) as (cluster, _):
        await cluster.wait_for_leader(timeout=5 * T)
        await cluster.set("k", "v", timeout=1.0)
        await asyncio.sleep(0.1)
        follower = next(n for n in cluster.node_ids if n != cluster.leader())
        storage = cluster.storages[follower]
        hard, log = storage.load()
        await cluster.crash(follower)
        down = await cluster.state(follower)
        assert down.role == "down"
        assert down.term == hard.term
        assert down.log == log
        await cluster.restart(follower)
        restarted = await cluster.state(follower)
        assert restarted.term == hard.term
        assert storage.load()[0].voted_for == hard.voted_for
        assert restarted.log == log
        await cluster.set("k2", "v2", timeout=1.0)
        await asyncio.sleep(0.1)
        state = await cluster.state(follower)
        assert state.data == {"k": "v", "k2": "v2"}
        # Crash every node, restart them all: nothing committed is lost.
        for node in cluster.node_ids:
            await cluster.crash(node)
        for node in cluster.node_ids:
            await cluster.restart(node)
        assert await cluster.get("k", timeout=5 * T) == "v"
        assert await cluster.get("k2", timeout=5 * T) == "v2"
        logs_consistent(await cluster.states())


async def test_kv_stream_with_a_leader_crash_applies_each_command_once() -> None:
    """A stream of non-idempotent commands through the library API, the leader crashed in
    the middle: every command is applied exactly once, on every node, in log order."""
    async with raft_cluster(5, seed=6) as (cluster, _):
        await cluster.wait_for_leader(timeout=5 * T)
        total = 0
        for batch in range(6):
            if batch == 3:
                await cluster.crash(cluster.leader() or "n1")
            results = await cluster.propose_many(
                [Add("sum", i) for i in range(1, 11)], timeout=10 * T
            )
            total += 55
            assert results[-1].result == total
        await asyncio.sleep(0.2)
        states = await cluster.states()
        logs_consistent(states)
        live = [s for s in states.values() if s.role != "down"]
        assert len(live) == 4
        for state in live:
            assert state.data == {"sum": total}
            assert state.applied == state.commit_index


async def test_requests_to_a_follower_are_redirected() -> None:
    """The client starts at n1; when another node leads, n1 redirects it there, and the
    role changes are logged."""
    with capture_logs() as logs:
        async with raft_cluster(3, seed=7) as (cluster, network):
            leader = await cluster.wait_for_leader(timeout=5 * T)
            assert leader != "n1"
            committed = await cluster.propose("x", timeout=1.0)
            assert committed.leader == leader
            assert network.trace is not None
            redirects = [
                (e.src, e.dst)
                for e in network.trace.events()
                if e.event == "deliver" and e.type == "Redirect"
            ]
            assert redirects == [("n1", cluster.client_name)]
    became = [e for e in logs if e["event"] == "raft_role_changed" and e["role"] == "leader"]
    assert [e["node"] for e in became] == [leader]


async def test_no_majority_means_no_commit() -> None:
    """R9: with 2 of 3 nodes down, a proposal times out (CommitTimeoutError) uncommitted."""
    async with raft_cluster(3, seed=8) as (cluster, _):
        leader = await cluster.wait_for_leader(timeout=5 * T)
        for node in cluster.node_ids:
            if node != leader:
                await cluster.crash(node)
        with pytest.raises(CommitTimeoutError):
            await cluster.propose("lost", timeout=3 * T)
        state = await cluster.state(leader)
        assert all(entry.data is None or entry.index > state.commit_index for entry in state.log)


async def test_isolated_leader_uncommitted_entries_are_replaced_r10() -> None:
    """R10: the client's commands reach a leader just cut off; they stay uncommitted there,
    the client retries elsewhere, the majority commits them, and on healing the old
    leader's uncommitted entries are truncated and replaced: one copy applied, logs equal."""
    async with raft_cluster(3, seed=10) as (cluster, network):
        old = await cluster.wait_for_leader(timeout=5 * T)
        await cluster.propose(Add("sum", 1), timeout=1.0)
        others = [n for n in cluster.node_ids if n != old]
        network.partition([[old], others])
        results = await cluster.propose_many([Add("sum", 10), Add("sum", 100)], timeout=10 * T)
        assert results[-1].result == 111
        assert results[-1].leader in others
        isolated = await cluster.state(old)
        assert len(isolated.log) > isolated.commit_index  # its uncommitted copies
        network.heal()
        await asyncio.sleep(3 * T)
        states = await cluster.states()
        logs_consistent(states)
        assert states[old].log == states[results[-1].leader].log
        for state in states.values():
            assert state.data == {"sum": 111}


async def test_agreement_despite_a_follower_failure_r8() -> None:
    """R8: with one follower cut off, the other two commit; after reconnecting, the
    follower catches up and new commands commit on all three."""
    async with raft_cluster(3, seed=11) as (cluster, network):
        leader = await cluster.wait_for_leader(timeout=5 * T)
        follower = next(n for n in cluster.node_ids if n != leader)
        network.partition([[follower]])
        for i in range(4):
            await cluster.propose(i, timeout=1.0)
        assert (await cluster.state(follower)).commit_index < 5
        network.heal()
        last = await cluster.propose("after", timeout=5 * T)
        await asyncio.sleep(0.2)
        states = await cluster.states()
        logs_consistent(states)
        for state in states.values():
            assert state.commit_index >= last.index
            assert commands(state.log) == [0, 1, 2, 3, "after"]


# ---------------------------------------------------------------------- snapshots and reads


class _Ledger:
    """A ``machine`` factory: a key-value store that also keeps a history outside ``data``
    (so only its snapshot hooks carry it), remembering every machine it made."""

    def __init__(self) -> None:
        self.made: list[Any] = []

    def __call__(self) -> KVStateMachine:
        made = self.made

        class Ledger(KVStateMachine):
            def __init__(self) -> None:
                super().__init__()
                self.history: list[str] = []
                made.append(self)

            def execute(self, command: Any) -> Any:
                if isinstance(command, Put):
                    self.history.append(command.key)
                return super().execute(command)

            def snapshot_state(self) -> Any:
                return {"data": self.data, "history": self.history}

            def restore_state(self, state: Any) -> None:
                self.data = dict(state["data"])
                self.history = list(state["history"])

        machine: KVStateMachine = Ledger()
        return machine


def _sent(network: SimNetwork, kind: str) -> int:
    assert network.trace is not None
    return sum(1 for e in network.trace.events() if e.event == "send" and e.type == kind)


async def test_snapshots_compact_and_a_restarted_follower_catches_up_by_install_snapshot() -> None:
    """Every 20 applied entries each node snapshots its machine (a user machine whose state
    is partly outside ``data``); a follower that missed 100 entries gets the leader's
    snapshot in 64-byte chunks and ends with the same store and history."""
    ledger = _Ledger()
    config = RaftConfig(snapshot_threshold=20, snapshot_chunk_bytes=64)
    async with raft_cluster(3, seed=5, config=config, machine=ledger) as (cluster, network):
        leader = await cluster.wait_for_leader(timeout=5 * T)
        follower = next(n for n in cluster.node_ids if n != leader)
        await cluster.crash(follower)
        await cluster.propose_many([Put(f"k{i}", i) for i in range(100)], timeout=5.0)
        await cluster.restart(follower)
        restarted = ledger.made[-1]
        await cluster.set("last", 1, timeout=5 * T)
        await asyncio.sleep(0.2)
        states = await cluster.states()
        assert states[follower].data == states[leader].data
        assert len(states[follower].data) == 101
        assert restarted.history == [f"k{i}" for i in range(100)] + ["last"]
        assert _sent(network, "InstallSnapshot") >= 10  # the snapshot went in many chunks
        for state in states.values():
            assert len(state.log) < 20  # the log below the snapshot is gone
            assert state.applied == state.commit_index >= 102


async def test_a_crashed_node_restarts_from_its_own_snapshot() -> None:
    config = RaftConfig(snapshot_threshold=10)
    async with raft_cluster(3, seed=6, config=config) as (cluster, _):
        leader = await cluster.wait_for_leader(timeout=5 * T)
        for i in range(25):
            await cluster.set("x", i, timeout=5 * T)
        await cluster.crash(leader)
        await cluster.restart(leader)
        state = await cluster.state(leader)
        snapshot_index = state.log[0].index - 1
        assert snapshot_index >= 20
        assert state.applied == snapshot_index  # loaded from the snapshot at once
        assert state.data == {"x": snapshot_index - 2}  # entry 2 set x to 0
        assert await cluster.read("x", timeout=10 * T) == 24


async def test_read_is_answered_without_a_log_entry() -> None:
    async with raft_cluster(3, seed=7) as (cluster, _):
        await cluster.wait_for_leader(timeout=5 * T)
        await cluster.set("x", 1, timeout=5 * T)
        before = (await cluster.state(cluster.node_ids[0])).log
        assert await cluster.read("x", timeout=5 * T) == 1
        assert await cluster.read("missing", timeout=5 * T) is None
        await asyncio.sleep(0.1)
        assert (await cluster.state(cluster.node_ids[0])).log == before


def check_register_history(history: list[tuple[str, Any, float, float]]) -> None:
    """Linearizability of one register whose writes do not overlap (Knossos' model, by
    hand): each op is (kind, value, invoked, completed); a read must return the last write
    completed before it was invoked, or a write overlapping it (None: the initial value)."""
    writes = sorted((op for op in history if op[0] == "write"), key=lambda op: op[2])
    for (_, _, _, done), (_, _, start, _) in itertools.pairwise(writes):
        assert done <= start, "writes overlap: this checker needs them sequential"
    for kind, value, invoked, completed in history:
        if kind != "read":
            continue
        before = [w for w in writes if w[3] <= invoked]
        allowed = {before[-1][1] if before else None}
        allowed |= {w[1] for w in writes if w[2] < completed and w[3] > invoked}
        assert value in allowed, f"stale read {value!r} at {invoked:.3f}s: allowed {allowed}"


@pytest.mark.parametrize("lease", [False, True])
async def test_a_leader_partitioned_away_serves_no_stale_read(lease: bool) -> None:
    """The old leader, cut off with the client still reaching it, keeps believing it leads
    (no CheckQuorum in the ReadIndex case); a read sent to it after a newer write committed
    elsewhere must not return the old value: it is never confirmed there, so the client
    retries at the new leader. The history is checked for linearizability."""
    config = RaftConfig(check_quorum=lease, lease_reads=lease)
    loop = asyncio.get_running_loop()
    history: list[tuple[str, Any, float, float]] = []
    async with raft_cluster(5, seed=8, config=config) as (cluster, network):
        old = await cluster.wait_for_leader(timeout=5 * T)
        start = loop.time()
        await cluster.set("x", 1, timeout=5 * T)
        history.append(("write", 1, start, loop.time()))
        assert await cluster.read("x", timeout=5 * T) == 1  # warms the lease, if any
        others = [n for n in cluster.node_ids if n != old]
        network.partition([[old], others])
        start = loop.time()
        await cluster.set("x", 2, timeout=20 * T)
        history.append(("write", 2, start, loop.time()))
        # Without CheckQuorum it still thinks it leads; with it, it stepped down on time.
        assert (cluster.view.statuses[old].role == "leader") is not lease
        # A second client whose first choice is the old leader.
        network.add_node("reader", exempt=True)
        reader = await cluster.system.spawn(
            RaftClient, [old, *others], name="reader", retry_ms=2 * T * 1000
        )
        try:
            start = loop.time()
            # The client answers the ask once the read is served (a deferred reply).
            [read] = await reader.ask(Submit(((1, ReadQuery("x")),)), timeout=20 * T)
            value, served_by = read.result, read.leader
            history.append(("read", value, start, loop.time()))
        finally:
            await reader.stop()
        assert served_by != old
        check_register_history(history)


async def test_reads_and_writes_under_partitions_are_linearizable() -> None:
    """One writer, reads in between, the leader cut off and healed twice: every read in the
    history returns the latest completed write (or one overlapping it)."""
    loop = asyncio.get_running_loop()
    history: list[tuple[str, Any, float, float]] = []
    async with raft_cluster(3, seed=9) as (cluster, network):
        for value in range(12):
            if value in (4, 8):
                leader = await cluster.wait_for_leader(timeout=10 * T)
                others = [n for n in cluster.node_ids if n != leader]
                network.partition([[leader], others])
            if value in (6, 10):
                network.heal()
            start = loop.time()
            await cluster.set("x", value, timeout=30 * T)
            history.append(("write", value, start, loop.time()))
            for _ in range(2):
                start = loop.time()
                got = await cluster.read("x", timeout=30 * T)
                history.append(("read", got, start, loop.time()))
    check_register_history(history)
    assert [op[1] for op in history if op[0] == "read"] == [v for v in range(12) for _ in (0, 1)]


def test_check_register_history_catches_a_stale_read() -> None:
    """The checker itself: a read after a completed newer write returning the old value."""
    history = [("write", 1, 0.0, 1.0), ("write", 2, 2.0, 3.0), ("read", 1, 4.0, 5.0)]
    with pytest.raises(AssertionError, match="stale read"):
        check_register_history(history)
    check_register_history([*history[:2], ("read", 2, 2.5, 5.0), ("read", 1, 2.5, 5.0)])


# ---------------------------------------------------------------------- membership


async def test_add_node_catches_up_as_a_learner_then_votes() -> None:
    """A node added after 60 writes (snapshots every 20) gets the state by InstallSnapshot
    as a learner, is promoted, and then counts: with two of four nodes down nothing
    commits."""
    config = RaftConfig(snapshot_threshold=20)
    async with raft_cluster(3, seed=11, config=config) as (cluster, network):
        await cluster.wait_for_leader(timeout=5 * T)
        await cluster.propose_many([Put(f"k{i}", i) for i in range(60)], timeout=5.0)
        membership = await cluster.add_node("n4", timeout=20 * T)
        assert set(membership.voters) == {"n1", "n2", "n3", "n4"}
        assert membership.learners == ()
        assert cluster.node_ids == ["n1", "n2", "n3", "n4"]
        await cluster.set("after", 1, timeout=5 * T)
        await asyncio.sleep(0.1)
        state = await cluster.state("n4")
        assert len(state.data) == 61
        assert _sent(network, "InstallSnapshot") >= 1
        leader = cluster.leader()
        down = [n for n in cluster.node_ids if n != leader][:2]
        for node in down:
            await cluster.crash(node)
        with pytest.raises(CommitTimeoutError):
            await cluster.set("x", 1, timeout=10 * T)


async def test_remove_node_even_the_leader() -> None:
    """Removing a follower, then the leader: the leader steps down once the change
    commits, the remaining nodes elect one of them, and writes go on."""
    async with raft_cluster(5, seed=12) as (cluster, _):
        leader = await cluster.wait_for_leader(timeout=5 * T)
        await cluster.set("x", 1, timeout=5 * T)
        follower = next(n for n in cluster.node_ids if n != leader)
        membership = await cluster.remove_node(follower, timeout=10 * T)
        assert follower not in membership.voters
        membership = await cluster.remove_node(leader, timeout=10 * T)
        assert set(membership.voters) == set(cluster.node_ids)
        assert len(cluster.node_ids) == 3
        assert leader not in cluster.node_ids
        await cluster.set("x", 2, timeout=20 * T)
        new = cluster.leader()
        assert new is not None
        assert new != leader
        assert await cluster.read("x", timeout=10 * T) == 2
        states = await cluster.states()
        assert set(states) == set(cluster.node_ids)
        logs_consistent(states)


async def test_membership_changes_are_checked() -> None:
    async with raft_cluster(3, seed=13) as (cluster, _):
        await cluster.wait_for_leader(timeout=5 * T)
        with pytest.raises(ConfigError, match="already a node"):
            await cluster.add_node("n1")
        with pytest.raises(ConfigError, match="not a node"):
            await cluster.remove_node("n9")

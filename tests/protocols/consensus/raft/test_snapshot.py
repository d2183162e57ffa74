"""Snapshots and log compaction (§7): compaction, InstallSnapshot in chunks, restart from one."""

from __future__ import annotations

from pathlib import Path

import pytest

from mabeam._errors import ConfigError
from mabeam.protocols.consensus.kv import Add, ApplyError, ClientCommand, KVStateMachine, Put
from mabeam.protocols.consensus.raft import (
    FileStorage,
    InstallSnapshot,
    InstallSnapshotResponse,
    MemoryStorage,
    RaftConfig,
    Snapshot,
)
from mabeam.testing.raft import Cluster, SafetyViolation, append, log_of_terms, lone_node, take

from ._churn import run_random_schedule


def test_compaction_keeps_the_log_and_storage_bounded() -> None:
    cluster = Cluster(3, seed=1, snapshot_every=50)
    cluster.wait_leader()
    for i in range(400):
        cluster.one(i, 3)
    cluster.check_logs(complete=True)
    for nid in cluster.ids:
        node = cluster.node(nid)
        assert node.snapshot is not None
        assert node.snapshot.index >= 350
        assert len(node.log) <= 50
        assert len(cluster.storages[nid].entries) <= 50
    assert cluster.snapshots_taken >= 3 * 7


def test_a_follower_behind_the_leaders_log_catches_up_by_snapshot_in_chunks() -> None:
    config = RaftConfig(snapshot_chunk_bytes=8)  # a 32-byte snapshot: 4 chunks
    cluster = Cluster(3, seed=2, config=config, snapshot_every=20)
    leader = cluster.wait_leader()
    follower = next(nid for nid in cluster.ids if nid != leader)
    cluster.disconnect(follower)
    for i in range(100):
        cluster.one(i, 2)
    assert cluster.node(leader).first_index > cluster.node(follower).last_index + 1
    cluster.connect(follower)
    last = cluster.one("after", 3)
    assert cluster.node(follower).applied_index >= last
    assert cluster.sent["InstallSnapshot"] >= 4
    assert cluster.checker.snapshots_loaded >= 1
    cluster.check_logs(complete=True)


def test_a_lost_chunk_is_resent_on_the_heartbeat() -> None:
    config = RaftConfig(snapshot_chunk_bytes=8)
    cluster = Cluster(3, seed=3, config=config, snapshot_every=10)
    leader = cluster.wait_leader()
    follower = next(nid for nid in cluster.ids if nid != leader)
    cluster.disconnect(follower)
    for i in range(30):
        cluster.one(i, 2)
    cluster.connect(follower)
    dropped: list[InstallSnapshot] = []

    def drop_second_chunk(message: object) -> bool:
        if isinstance(message, InstallSnapshot) and message.offset == 8 and not dropped:
            dropped.append(message)
            return False
        return True

    cluster.filter = drop_second_chunk
    last = cluster.one("after", 3)
    assert dropped
    assert cluster.node(follower).applied_index >= last


def test_a_restarted_node_starts_from_its_snapshot() -> None:
    cluster = Cluster(3, seed=4, snapshot_every=25)
    cluster.wait_leader()
    for i in range(60):
        cluster.one(i, 3)
    victim = cluster.ids[0]
    snapshot = cluster.node(victim).snapshot
    assert snapshot is not None
    cluster.crash(victim)
    loaded = cluster.checker.snapshots_loaded
    cluster.restart(victim)
    node = cluster.node(victim)
    assert node.applied_index == snapshot.index == node.commit_index
    assert cluster.checker.snapshots_loaded == loaded + 1  # checked against the chain
    cluster.one("after", 3)
    cluster.check_logs(complete=True)


def test_a_wiped_node_catches_up_from_nothing() -> None:
    cluster = Cluster(3, seed=5, snapshot_every=30)
    leader = cluster.wait_leader()
    for i in range(100):
        cluster.one(i, 3)
    victim = next(nid for nid in cluster.ids if nid != leader)
    cluster.wipe(victim)
    last = cluster.one("after", 3)
    assert cluster.node(victim).applied_index >= last
    assert cluster.node(victim).first_index > 1


def test_a_wrong_snapshot_is_caught_by_the_checker() -> None:
    """The harness compares every loaded snapshot with the chain of committed entries."""
    cluster = Cluster(3, seed=6, snapshot_every=10)
    cluster.wait_leader()
    for i in range(20):
        cluster.one(i, 3)
    bad = Snapshot(index=10, term=1, peers=tuple(cluster.ids), data=b"not the state")
    with pytest.raises(SafetyViolation, match="H2"):
        cluster.checker.loaded_snapshot("n1", bad)


# -- the follower's side, by hand ---------------------------------------------------------


def _chunk(
    offset: int, data: bytes, *, done: bool, index: int = 5, term: int = 2
) -> InstallSnapshot:
    return InstallSnapshot(
        src="n2",
        dst="n1",
        term=2,
        last_index=index,
        last_term=term,
        peers=("n1", "n2", "n3"),
        offset=offset,
        data=data,
        done=done,
    )


def test_chunks_out_of_order_are_answered_with_the_offset_wanted() -> None:
    node = lone_node()
    node.step(_chunk(0, b"abcd", done=False), 0.0)
    node.step(_chunk(8, b"ijkl", done=True), 0.0)  # a gap: 4-8 missing
    responses = [m for m in take(node) if isinstance(m, InstallSnapshotResponse)]
    assert [r.next_offset for r in responses] == [4, 4]
    assert node.snapshot is None
    node.step(_chunk(4, b"efgh", done=False), 0.0)
    node.step(_chunk(8, b"ijkl", done=True), 0.0)
    ready = node.ready()
    last = ready.messages[-1]
    assert isinstance(last, InstallSnapshotResponse)
    assert last.done
    assert last.match_index == 5
    assert ready.snapshot is not None
    assert ready.snapshot.data == b"abcdefghijkl"
    assert (node.commit_index, node.applied_index, node.last_index) == (5, 5, 5)


def test_a_follower_keeps_its_log_after_a_matching_snapshot_and_drops_a_conflicting_one() -> None:
    storage = MemoryStorage(log=log_of_terms([1, 1, 2, 2, 2, 2, 2]))
    node = lone_node(storage=storage)
    node.step(_chunk(0, b"s", done=True, index=5, term=2), 0.0)
    assert (node.first_index, node.last_index) == (6, 7)
    assert [e.index for e in storage.entries] == [6, 7]
    other = MemoryStorage(log=log_of_terms([1, 1, 1, 1, 1, 1, 1]))
    node = lone_node(storage=other)
    node.step(_chunk(0, b"s", done=True, index=5, term=2), 0.0)
    assert (node.first_index, node.last_index) == (6, 5)
    assert other.entries == []


def test_a_snapshot_below_the_commit_index_is_not_installed() -> None:
    node = lone_node(storage=MemoryStorage(log=log_of_terms([1, 1, 1, 1, 1, 1])))
    node.step(append("n2", "n1", 1, 6, 1, commit=6), 0.0)
    take(node)
    node.step(_chunk(0, b"old", done=True, index=4, term=1), 0.0)
    response = take(node)[-1]
    assert isinstance(response, InstallSnapshotResponse)
    assert response.done
    assert response.match_index == 6
    assert node.snapshot is None
    assert node.first_index == 1


def test_compact_refuses_an_unapplied_index() -> None:
    node = lone_node()
    with pytest.raises(ValueError, match="applied"):
        node.compact(3, b"x")
    with pytest.raises(ConfigError, match="snapshot_threshold"):
        RaftConfig(snapshot_threshold=-1)


def test_file_storage_keeps_the_snapshot_and_the_log_after_it(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path, fsync=False)
    storage.append(log_of_terms([1, 1, 2, 2, 3]))
    snapshot = Snapshot(3, 2, ("n1",), b"state")
    storage.apply_snapshot(snapshot, keep_log=True)
    storage.append(log_of_terms([1, 1, 2, 2, 3, 3])[5:])
    reopened = FileStorage(tmp_path, fsync=False)
    assert reopened.load_snapshot() == snapshot
    assert [e.index for e in reopened.load()[1]] == [4, 5, 6]
    reopened.truncate_after(4)
    reopened.apply_snapshot(Snapshot(9, 4, ("n1",), b"new"), keep_log=False)
    again = FileStorage(tmp_path, fsync=False)
    assert again.load()[1] == []
    assert again.load_snapshot() == Snapshot(9, 4, ("n1",), b"new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.2", "snapshot"]


def test_file_storage_ignores_a_log_of_a_snapshot_that_never_committed(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path, fsync=False)
    storage.append(log_of_terms([1, 1, 1]))
    (tmp_path / "log.1").write_bytes(b"\x00\x00\x00\x02ab")  # crashed before the commit point
    reopened = FileStorage(tmp_path, fsync=False)
    assert reopened.load_snapshot() is None
    assert len(reopened.load()[1]) == 3
    assert not (tmp_path / "log.1").exists()


@pytest.mark.parametrize("chunk", range(4))
def test_random_fault_schedules_with_snapshots(chunk: int) -> None:
    """The randomized checker with compaction every 2-12 entries and tiny chunks."""
    loaded = 0
    for seed in range(chunk * 30, chunk * 30 + 30):
        loaded += run_random_schedule(seed, snapshots=True)["snapshots_loaded"]
    assert loaded > 20


@pytest.mark.slow
@pytest.mark.parametrize("chunk", range(10))
def test_random_fault_schedules_with_snapshots_many_seeds(chunk: int) -> None:
    for seed in range(1000 + chunk * 300, 1300 + chunk * 300):
        run_random_schedule(seed, snapshots=True)


def test_the_kv_machine_round_trips_through_its_snapshot() -> None:
    """Store, sessions (an ApplyError result too) and counters survive snapshot/restore."""
    machine = KVStateMachine()
    machine.apply(1, ClientCommand("c", 1, Put("x", "text")))
    failed = machine.apply(2, ClientCommand("c", 2, Add("x", 1)))
    machine.apply(3, ClientCommand("c", 3, Put("y", [1, 2])))
    assert isinstance(failed, ApplyError)
    copy = KVStateMachine()
    copy.restore(machine.snapshot())
    assert copy.data == {"x": "text", "y": [1, 2]}
    assert (copy.last_applied, copy.executed, copy.failed) == (3, 3, 1)
    assert copy.is_duplicate("c", 2)
    assert copy.cached_result("c", 2) == failed
    assert copy.apply(4, ClientCommand("c", 2, Add("x", 1))) == failed  # a retry: cached
    assert copy.executed == 3

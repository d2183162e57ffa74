"""Crash-restart persistence: R12, bug 3 (votes survive restarts) and bug 13 (apply once)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from mabeam.protocols.consensus.raft import (
    AppendEntries,
    Entry,
    HardState,
    MemoryStorage,
    RaftConfig,
    RequestVote,
    RequestVoteResponse,
)
from mabeam.testing.raft import CLASSIC, Cluster, SafetyViolation, lone_node, take, voted

T_MAX = 300.0


def _wait_applied(cluster: Cluster, index: int, count: int) -> None:
    assert cluster.run_until(lambda: cluster.n_applied(index) >= count, 10_000.0)


@pytest.mark.parametrize("seed", range(3))
def test_r12_persist1_everything_survives_restarts(seed: int) -> None:
    """R12 (6.824 TestPersist12C): restarts of all, of the leader, of a follower lose nothing."""
    servers = 3
    cluster = Cluster(servers, seed=seed)
    cluster.one(11, servers)
    for nid in cluster.ids:
        cluster.crash(nid)
        cluster.restart(nid)
    cluster.one(12, servers)
    leader1 = cluster.wait_leader()
    cluster.disconnect(leader1)
    cluster.restart(leader1)
    cluster.connect(leader1)
    cluster.one(13, servers)
    leader2 = cluster.wait_leader()
    cluster.disconnect(leader2)
    index14 = cluster.one(14, servers - 1)
    cluster.restart(leader2)
    cluster.connect(leader2)
    _wait_applied(cluster, index14, servers)
    i3 = cluster.ids[(cluster.ids.index(cluster.wait_leader()) + 1) % servers]
    cluster.disconnect(i3)
    cluster.one(15, servers - 1)
    cluster.restart(i3)
    cluster.connect(i3)
    cluster.one(16, servers)
    cluster.check_logs(complete=True)
    data = [cluster.applied_data(i) for i in range(1, cluster.checker.max_committed + 1)]
    assert [d for d in data if d is not None] == [11, 12, 13, 14, 15, 16]


@pytest.mark.parametrize("seed", range(3))
def test_r12_persist2_partitioned_restarts(seed: int) -> None:
    """R12 (6.824 TestPersist22C): restarted minorities rejoin and catch up, 5 rounds."""
    servers = 5
    cluster = Cluster(servers, seed=seed)
    value = 11
    for _ in range(5):
        cluster.one(value, servers)
        value += 1
        leader1 = cluster.wait_leader()
        ring = [cluster.ids[(cluster.ids.index(leader1) + k) % servers] for k in range(servers)]
        cluster.disconnect(ring[1])
        cluster.disconnect(ring[2])
        cluster.one(value, servers - 2)
        value += 1
        for k in (0, 3, 4):
            cluster.disconnect(ring[k])
        for k in (1, 2):
            cluster.restart(ring[k])
            cluster.connect(ring[k])
        cluster.run_for(1_000.0)
        cluster.restart(ring[3])
        cluster.connect(ring[3])
        cluster.one(value, servers - 2)
        value += 1
        cluster.connect(ring[4])
        cluster.connect(ring[0])
    cluster.one(1000, servers)
    cluster.check_logs(complete=True)


@pytest.mark.parametrize("seed", range(3))
def test_r12_persist3_leader_and_follower_crash_while_partitioned(seed: int) -> None:
    """R12 (6.824 TestPersist32C): crash the leader and a follower while one is partitioned."""
    servers = 3
    cluster = Cluster(servers, seed=seed)
    cluster.one(101, 3)
    leader = cluster.wait_leader()
    ring = [cluster.ids[(cluster.ids.index(leader) + k) % servers] for k in range(servers)]
    cluster.disconnect(ring[2])
    cluster.one(102, 2)
    cluster.crash(ring[0])
    cluster.crash(ring[1])
    cluster.connect(ring[2])
    cluster.restart(ring[0])
    cluster.one(103, 2)
    cluster.restart(ring[1])
    cluster.one(104, servers)
    cluster.check_logs(complete=True)


def test_bug3_restarted_voter_does_not_vote_twice_in_a_term() -> None:
    """Bug 3 (raftos init_storage): the vote is on storage before the grant, and survives."""
    storage = MemoryStorage()
    node = lone_node(3, storage=storage, config=CLASSIC)
    node.step(RequestVote(src="n2", dst="n1", term=5, last_log_index=0, last_log_term=0), 0.0)
    (grant,) = take(node)
    assert isinstance(grant, RequestVoteResponse)
    assert grant.granted
    assert storage.hard_state == HardState(term=5, voted_for="n2")
    # The node crashes and restarts mid-term: a second candidate of term 5 is refused.
    again = lone_node(3, storage=storage, config=CLASSIC)
    assert (again.term, again.voted_for, again.role) == (5, "n2", "follower")
    again.step(RequestVote(src="n3", dst="n1", term=5, last_log_index=9, last_log_term=4), 0.0)
    (refusal,) = take(again)
    assert isinstance(refusal, RequestVoteResponse)
    assert not refusal.granted
    # The first candidate may ask again (its request or our answer may have been lost).
    again.step(RequestVote(src="n2", dst="n1", term=5, last_log_index=0, last_log_term=0), 0.0)
    (repeat,) = take(again)
    assert isinstance(repeat, RequestVoteResponse)
    assert repeat.granted


class _RecordingStorage(MemoryStorage):
    """A MemoryStorage that logs each write, to compare with what was sent after it."""

    def __init__(self) -> None:
        super().__init__()
        self.journal: list[str] = []

    def save_hard_state(self, state: HardState) -> None:
        super().save_hard_state(state)
        self.journal.append(f"hard {state.term} {state.voted_for}")

    def append(self, entries: Sequence[Entry]) -> None:
        super().append(entries)
        if entries:
            self.journal.append(f"append {entries[-1].index}")


def test_persist_before_messages_go_out() -> None:
    """Fig. 2: the term, vote and entries a message depends on are on storage first."""
    storage = _RecordingStorage()
    node = lone_node(3, storage=storage, config=CLASSIC)
    node.campaign(0.0)
    assert storage.journal == ["hard 1 n1"]  # before the RequestVotes are taken
    assert len(take(node)) == 2
    node.step(RequestVoteResponse(src="n2", dst="n1", term=1, granted=True), 0.0)
    assert storage.journal == ["hard 1 n1", "append 1"]  # the no-op, before it is sent
    node.propose("x", 0.0)
    assert storage.journal[-1] == "append 2"
    assert storage.writes == 3


def test_bug3_a_storage_that_forgets_votes_is_caught_by_h1() -> None:
    """Bug 3, mutation check: if votes were not persisted, H1 would fire on this schedule."""

    class ForgetfulStorage(MemoryStorage):
        def save_hard_state(self, state: HardState) -> None:
            super().save_hard_state(HardState(term=state.term, voted_for=None))

    storages = {"n2": ForgetfulStorage()}
    cluster = Cluster(3, config=CLASSIC, storages=storages)
    cluster.cut("n1", "n3")
    cluster.filter = lambda m: not isinstance(m, AppendEntries)  # logs stay empty
    cluster.campaign("n1")  # n1 wins term 1 with n2's vote
    cluster.settle()
    assert cluster.node("n1").role == "leader"
    cluster.crash("n2")
    cluster.restart("n2")
    cluster.cut("n1", "n2")
    # n3 is still at term 0: its campaign is for term 1, and the amnesiac n2 votes again.
    cluster.campaign("n3")
    with pytest.raises(SafetyViolation, match="H1"):
        cluster.settle()


def test_bug13_entries_are_applied_once_in_order_and_again_after_restart() -> None:
    """Bug 13: Ready.committed hands out each entry once; a restart replays from index 1."""
    cluster = Cluster(3, seed=4)
    for value in range(5):
        cluster.one(value, 3)
    node = cluster.node("n1")
    assert node.applied_index == node.commit_index == cluster.checker.max_committed
    assert node.ready().committed == []
    cluster.crash("n1")
    cluster.restart("n1")
    restarted = cluster.node("n1")
    assert (restarted.commit_index, restarted.applied_index) == (0, 0)
    cluster.one("after", 3)
    # The checker saw n1's second incarnation apply 1.. in order, agreeing with the first.
    assert restarted.applied_index == cluster.checker.max_committed


def test_h3_checker_rejects_a_gap_or_a_repeat() -> None:
    """The recorder itself: an apply stream with a gap or a repeat is a violation."""
    cluster = Cluster(1)
    node = cluster.node("n1")
    with pytest.raises(SafetyViolation, match="H3"):
        cluster.checker.observe(node, [Entry(term=1, index=2)])
    cluster.checker.observe(node, [Entry(term=1, index=1)])
    with pytest.raises(SafetyViolation, match="H3"):
        cluster.checker.observe(node, [Entry(term=1, index=1)])
    other = Cluster(1).node("n1")
    cluster.checker.restarted("n1")
    with pytest.raises(SafetyViolation, match="H2"):
        cluster.checker.observe(other, [Entry(term=2, index=1)])


def test_restart_keeps_term_vote_and_log_but_not_commit() -> None:
    """Durable state is the storage; role, leader and commit index start over."""
    storage = voted(7, "n3", terms=[1, 7])
    node = lone_node(3, storage=storage, config=RaftConfig())
    assert (node.term, node.voted_for, node.last_index, node.last_term) == (7, "n3", 2, 7)
    assert (node.role, node.leader_id, node.commit_index) == ("follower", None, 0)

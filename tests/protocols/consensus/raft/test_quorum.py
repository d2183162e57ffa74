"""CheckQuorum and PreVote: R16, R17 and bugs 10, 11 and 12."""

from __future__ import annotations

import pytest

from mabeam.protocols.consensus.raft import (
    AppendEntries,
    AppendEntriesResponse,
    NotLeaderError,
    RaftConfig,
    RequestVote,
    RequestVoteResponse,
)
from mabeam.testing.raft import Cluster, append, lone_node, take

T_MIN = 150.0
T_MAX = 300.0


def test_r16_bug10_leader_steps_down_when_quorum_is_lost() -> None:
    """R16 (etcd TestLeaderStepdownWhenQuorumLost): no answers for an election timeout."""
    node = lone_node(3)
    node.campaign(0.0)
    node.step(RequestVoteResponse(src="n2", dst="n1", term=1, granted=True, pre_vote=True), 0.0)
    node.step(RequestVoteResponse(src="n2", dst="n1", term=1, granted=True), 0.0)
    assert node.role == "leader"
    now = 0.0
    while node.role == "leader" and now < 2 * T_MIN + 1:
        now = node.deadline()
        node.tick(now)
    assert node.role == "follower"
    assert now <= T_MIN + 1  # the first quorum check after election
    assert node.term == 1  # stepping down keeps the term
    with pytest.raises(NotLeaderError):
        node.propose("late", now)


def test_r16_leader_stays_while_heartbeats_are_answered() -> None:
    """R16 (etcd TestLeaderStepdownWhenQuorumActive): answers keep the leader in place."""
    node = lone_node(3)
    node.campaign(0.0)
    node.step(RequestVoteResponse(src="n2", dst="n1", term=1, granted=True, pre_vote=True), 0.0)
    node.step(RequestVoteResponse(src="n2", dst="n1", term=1, granted=True), 0.0)
    now = 0.0
    while now < 10 * T_MAX:
        now = node.deadline()
        node.tick(now)
        for message in take(node):
            if message.dst == "n2" and isinstance(message, AppendEntries):
                match = message.prev_log_index + len(message.entries)
                node.step(
                    AppendEntriesResponse(
                        src="n2", dst="n1", term=1, success=True, match_index=match
                    ),
                    now,
                )
    assert node.role == "leader"


@pytest.mark.parametrize("seed", range(3))
def test_r16_isolated_leader_steps_down_within_two_election_timeouts(seed: int) -> None:
    """R16 (hashicorp TestRaft_LeaderLeaseExpire): the partitioned leader stops leading."""
    cluster = Cluster(3, seed=seed)
    leader = cluster.wait_leader()
    cluster.disconnect(leader)
    cluster.run_for(2 * T_MIN + 1)
    assert cluster.node(leader).role == "follower"
    with pytest.raises(NotLeaderError):
        cluster.propose(leader, "stale write")
    cluster.connect(leader)
    cluster.wait_leader()
    assert len(cluster.leaders()) == 1


@pytest.mark.parametrize("seed", range(3))
def test_bug10_without_check_quorum_the_isolated_leader_keeps_leading(seed: int) -> None:
    """Bug 10, the documented failure: with CheckQuorum off the partitioned leader lingers."""
    cluster = Cluster(3, seed=seed, config=RaftConfig(check_quorum=False))
    leader = cluster.wait_leader()
    cluster.disconnect(leader)
    cluster.run_for(10 * T_MAX)
    assert cluster.node(leader).role == "leader"
    index = cluster.propose(leader, "accepted but never committed")
    cluster.run_for(T_MAX)
    committed = cluster.checker.committed.get(index)
    assert committed is None or committed.data != "accepted but never committed"


@pytest.mark.parametrize("seed", range(3))
def test_r17_bug11_rejoining_follower_with_pre_vote_does_not_disrupt(seed: int) -> None:
    """R17 (etcd TestDisruptiveFollowerPreVote): no term inflation, the leader stays."""
    cluster = Cluster(3, seed=seed)
    leader = cluster.wait_leader()
    term = cluster.node(leader).term
    follower = next(nid for nid in cluster.ids if nid != leader)
    cluster.disconnect(follower)
    cluster.run_for(20 * T_MAX)
    assert cluster.node(follower).term == term
    cluster.connect(follower)
    cluster.run_for(4 * T_MAX)
    assert cluster.leaders() == [leader]
    assert {node.term for node in cluster.alive()} == {term}


@pytest.mark.parametrize("seed", range(3))
def test_r17_bug11_without_pre_vote_the_rejoining_follower_disrupts(seed: int) -> None:
    """R17 (etcd TestDisruptiveFollower): its inflated term makes the leader step down."""
    cluster = Cluster(3, seed=seed, config=RaftConfig(pre_vote=False))
    leader = cluster.wait_leader()
    term = cluster.node(leader).term
    follower = next(nid for nid in cluster.ids if nid != leader)
    cluster.disconnect(follower)
    cluster.run_for(20 * T_MAX)
    inflated = cluster.node(follower).term
    assert inflated > term + 5
    cluster.connect(follower)
    cluster.run_for(T_MAX)
    cluster.wait_leader()
    # The old leader was deposed: the cluster now runs at (at least) the inflated term.
    assert min(node.term for node in cluster.alive()) >= inflated


def test_r17_disruptive_follower_step_by_step() -> None:
    """R17 (etcd TestDisruptiveFollower): the candidate's answer to a late heartbeat deposes."""
    cluster = Cluster(3, config=RaftConfig(pre_vote=False))
    cluster.campaign("n1")
    cluster.settle()
    n1, n3 = cluster.node("n1"), cluster.node("n3")
    assert n1.role == "leader"
    cluster.disconnect("n3")
    cluster.tick_node("n3")  # its election timer fires: candidate at term 2
    assert (n3.role, n3.term) == ("candidate", 2)
    cluster.connect("n3")
    cluster.take_in_flight(lambda m: m.src == "n3")  # its vote requests are still queued
    cluster.deliver_to(append("n1", "n3", 1, 1, 1, commit=1))
    cluster.settle()
    assert (n1.role, n1.term) == ("follower", 2)
    assert (n3.role, n3.term) == ("candidate", 2)


def test_r17_bug12_node_with_smaller_term_can_complete_election() -> None:
    """R17, bug 12 (etcd TestNodeWithSmallerTermCanCompleteElection, etcd-io/etcd#8243)."""
    cluster = Cluster(3, config=RaftConfig(check_quorum=False))
    cluster.cut("n1", "n3")
    cluster.cut("n2", "n3")
    cluster.campaign("n1")
    cluster.settle()
    assert cluster.node("n1").role == "leader"
    cluster.campaign("n3")
    cluster.settle()
    assert cluster.node("n3").role == "pre_candidate"
    cluster.campaign("n2")
    cluster.settle()
    roles = [(n.role, n.term) for n in cluster.alive()]
    assert roles == [("follower", 2), ("leader", 2), ("pre_candidate", 0)]
    # Heal, then lose n2 (as if it crashed): n3, two terms behind, and n1 must elect.
    cluster.heal()
    cluster.cut("n2", "n1")
    cluster.cut("n2", "n3")
    cluster.campaign("n3")
    cluster.settle()
    cluster.campaign("n1")
    cluster.settle()
    assert "leader" in (cluster.node("n1").role, cluster.node("n3").role)


def test_r17_bug12_pre_vote_with_check_quorum_needs_the_pre_candidate_to_forget() -> None:
    """R17, bug 12 (etcd TestPreVoteWithCheckQuorum, etcd PR #8334): the cluster is not stuck."""
    cluster = Cluster(3)
    cluster.campaign("n1")
    cluster.settle()
    cluster.disconnect("n1")
    # n3's pre-vote is ignored by n2 (still in its leader's lease), but n3 forgets n1...
    cluster.campaign("n3")
    cluster.settle()
    assert cluster.node("n3").leader_id is None
    # ...so n2's pre-vote and vote are granted by n3.
    cluster.campaign("n2")
    cluster.settle()
    assert cluster.node("n2").role == "leader"


@pytest.mark.parametrize("seed", range(3))
def test_r17_smaller_term_node_rejoins_and_the_cluster_elects(seed: int) -> None:
    """R17 second run: n3 misses several terms, then the leader crashes; a leader follows."""
    cluster = Cluster(3, seed=seed)
    cluster.wait_leader()
    cluster.disconnect("n3")
    for _ in range(3):
        leader = cluster.wait_leader()
        cluster.crash(leader)
        cluster.restart(leader)
    behind = cluster.node("n3").term
    assert behind < max(node.term for node in cluster.alive())
    cluster.connect("n3")
    cluster.run_for(T_MAX)
    cluster.crash(cluster.wait_leader())
    cluster.wait_leader()
    assert len(cluster.leaders()) == 1


def test_r17_lease_ignores_higher_term_votes_while_a_leader_is_heard() -> None:
    """CheckQuorum lease (etcd): a follower that just heard its leader ignores new (pre-)votes."""
    node = lone_node(3)
    node.step(
        append("n2", "n1", 1, 0, 0, commit=0),
        100.0,
    )
    take(node)
    for pre_vote in (True, False):
        node.step(
            RequestVote(
                src="n3", dst="n1", term=2, last_log_index=9, last_log_term=9, pre_vote=pre_vote
            ),
            100.0 + T_MIN - 1,
        )
        assert take(node) == []
    assert (node.term, node.leader_id) == (1, "n2")
    # After the minimum election timeout the lease is over: the vote is answered.
    node.step(
        RequestVote(src="n3", dst="n1", term=2, last_log_index=9, last_log_term=9), 100.0 + T_MIN
    )
    (response,) = take(node)
    assert isinstance(response, RequestVoteResponse)
    assert response.granted
    assert node.term == 2


def test_bug12_pre_vote_winner_partitioned_before_the_vote_inflates_its_term_once() -> None:
    """Bug 12 (canonical/raft#196): one extra term at most, however long the partition."""
    cluster = Cluster(3)
    cluster.campaign("n1")
    cluster.settle()
    cluster.crash("n1")
    cluster.now += T_MIN  # n2's lease on n1 runs out
    # n3 wins its pre-vote (n2 grants), then its RequestVote is lost.
    cluster.filter = lambda m: not (isinstance(m, RequestVote) and not m.pre_vote)
    cluster.campaign("n3")
    cluster.settle()
    n3 = cluster.node("n3")
    assert (n3.role, n3.term) == ("candidate", 2)
    cluster.filter = None
    cluster.disconnect("n3")
    cluster.restart("n1")
    cluster.run_for(20 * T_MAX)
    assert cluster.node("n3").term == 2
    cluster.connect("n3")
    cluster.wait_leader()
    assert len(cluster.leaders()) == 1

"""Membership changes on the pure node: a learner step first, one change at a time, and
removing the leader."""

from __future__ import annotations

from pathlib import Path

import pytest

from mabeam._errors import ConfigError
from mabeam.protocols.consensus.raft import FileStorage, MemoryStorage, RaftConfig, RaftNode
from mabeam.protocols.consensus.raft.messages import Membership
from mabeam.protocols.consensus.raft.node import MembershipChangeError
from mabeam.testing.raft import Cluster, SafetyViolation

from ._membership import run_membership_schedule


def _ready(cluster: Cluster) -> str:
    """Wait for a leader that has committed an entry of its term (it may change members)."""
    leader = cluster.wait_leader()
    node = cluster.node(leader)
    assert cluster.run_until(lambda: node.term_at(node.commit_index) == node.term, 2_000.0)
    return leader


def _grow(cluster: Cluster, nid: str) -> None:
    cluster.add_member(nid)
    leader = _ready(cluster)
    cluster.change(leader, "add_learner", nid)
    assert cluster.run_until(lambda: not cluster.node(leader).pending_membership, 2_000.0)
    node = cluster.node(leader)
    assert cluster.run_until(lambda: node.match_index(nid) >= node.commit_index, 2_000.0)
    cluster.change(leader, "promote", nid)
    assert cluster.run_until(lambda: not cluster.node(leader).pending_membership, 2_000.0)


def test_a_new_node_catches_up_as_a_learner_then_votes() -> None:
    cluster = Cluster(3, seed=1)
    leader = _ready(cluster)
    for i in range(20):
        cluster.one(i, 3)
    cluster.add_member("n4")
    assert cluster.node("n4").membership.voters == ("n1", "n2", "n3")
    cluster.change(leader, "add_learner", "n4")
    with pytest.raises(MembershipChangeError, match="pending") as caught:
        cluster.change(leader, "add_learner", "n5")
    assert caught.value.retryable
    cluster.run_until(lambda: cluster.node("n4").applied_index >= 22, 2_000.0)
    assert cluster.node("n4").membership == Membership(("n1", "n2", "n3"), ("n4",))
    cluster.change(leader, "promote", "n4")
    cluster.one("after", 4)
    assert cluster.node(leader).membership.voters == ("n1", "n2", "n3", "n4")
    # Four voters: a majority is three, so two nodes down stop commits.
    others = [n for n in cluster.ids if n != leader]
    cluster.crash(others[0])
    cluster.crash(others[1])
    index = cluster.propose(leader, "no quorum")
    cluster.run_for(500.0)
    assert cluster.node(leader).commit_index < index


def test_a_learner_does_not_count_or_campaign() -> None:
    cluster = Cluster(3, seed=2)
    leader = _ready(cluster)
    cluster.add_member("n4")
    cluster.change(leader, "add_learner", "n4")
    cluster.run_for(200.0)
    with pytest.raises(MembershipChangeError, match="not a learner"):
        cluster.change(leader, "promote", "n9")
    # The learner alone with the leader is not a majority of the three voters.
    others = [n for n in ("n1", "n2", "n3") if n != leader]
    for nid in others:
        cluster.crash(nid)
    index = cluster.propose(leader, "x")
    cluster.run_for(1_000.0)
    assert cluster.node(leader).commit_index < index
    assert cluster.node("n4").last_index >= index  # it does get the log
    cluster.crash(leader)
    cluster.run_for(3_000.0)
    assert cluster.node("n4").role == "follower"  # never campaigns


def test_promote_waits_until_the_learner_caught_up() -> None:
    cluster = Cluster(3, seed=3)
    leader = _ready(cluster)
    for i in range(30):
        cluster.one(i, 3)
    cluster.add_member("n4")
    cluster.disconnect("n4")
    cluster.change(leader, "add_learner", "n4")
    cluster.run_until(lambda: not cluster.node(leader).pending_membership, 2_000.0)
    with pytest.raises(MembershipChangeError, match="catching up") as caught:
        cluster.change(leader, "promote", "n4")
    assert caught.value.retryable


def test_removing_the_leader_it_steps_down_after_the_change_commits() -> None:
    cluster = Cluster(5, seed=4)
    leader = _ready(cluster)
    cluster.one("before", 5)
    index = cluster.change(leader, "remove", leader)
    assert index is not None
    assert cluster.node(leader).role == "leader"  # leads until the change commits...
    assert leader not in cluster.node(leader).membership.voters
    cluster.run_until(lambda: cluster.node(leader).role != "leader", 1_000.0)
    assert cluster.node(leader).commit_index >= index  # ...then steps down
    new = cluster.wait_leader()
    assert new != leader
    cluster.crash(leader)
    cluster.one("after", 4)
    cluster.check_logs(complete=True)


def test_removing_a_follower_shrinks_the_quorum() -> None:
    cluster = Cluster(3, seed=5)
    leader = _ready(cluster)
    victim, survivor = [n for n in cluster.ids if n != leader]
    cluster.change(leader, "remove", victim)
    cluster.run_until(lambda: not cluster.node(leader).pending_membership, 1_000.0)
    cluster.crash(victim)
    cluster.crash(survivor)
    # Two voters now: the leader alone is not a majority...
    index = cluster.propose(leader, "x")
    cluster.run_for(500.0)
    assert cluster.node(leader).commit_index < index
    cluster.restart(survivor)
    cluster.run_until(lambda: cluster.node(leader).commit_index >= index, 2_000.0)
    assert cluster.node(leader).commit_index >= index  # ...the survivor makes one


def test_grow_to_five_then_shrink_to_one() -> None:
    cluster = Cluster(3, seed=6, snapshot_every=10)
    _ready(cluster)
    _grow(cluster, "n4")
    _grow(cluster, "n5")
    for i in range(30):
        cluster.one(i, 5)
    for victim in ("n1", "n2", "n3", "n4"):
        leader = _ready(cluster)
        cluster.change(leader, "remove", victim)
        cluster.run_until(
            lambda victim=victim: (
                victim not in cluster.node(cluster.leader() or "n5").membership.voters
                and not cluster.node(cluster.leader() or "n5").pending_membership
            ),
            3_000.0,
        )
        cluster.crash(victim)
    assert cluster.wait_leader() == "n5"
    cluster.one("alone", 1)
    assert cluster.node("n5").membership.voters == ("n5",)


def test_joining_and_peers_are_checked() -> None:
    with pytest.raises(ConfigError, match="joining node"):
        RaftNode(
            "n1",
            ["n1", "n2"],
            MemoryStorage(),
            RaftConfig(),
            __import__("random").Random(0),
            joining=True,
        )
    cluster = Cluster(1, seed=7)
    leader = _ready(cluster)
    with pytest.raises(MembershipChangeError, match="last voter"):
        cluster.change(leader, "remove", leader)
    with pytest.raises(ConfigError, match="action"):
        cluster.change(leader, "grow", "n9")


class _ConcurrentChanges(RaftNode):
    """A planted bug: several membership changes in flight at once."""

    @property
    def pending_membership(self) -> bool:
        return False


def test_the_checker_catches_concurrent_membership_changes() -> None:
    with pytest.raises(SafetyViolation):
        run_membership_schedule(1, node_class=_ConcurrentChanges)


@pytest.mark.parametrize("chunk", range(4))
def test_random_membership_changes_under_faults(chunk: int) -> None:
    """Adds, promotions and removals (the leader too) under crashes, loss and partitions:
    one leader per term, no committed entry lost, every member ends with the last write."""
    proposed = 0
    for seed in range(chunk * 25, chunk * 25 + 25):
        proposed += run_membership_schedule(seed, snapshots=seed % 2 == 1)["proposed"]
    assert proposed > 100


@pytest.mark.slow
@pytest.mark.parametrize("chunk", range(10))
def test_random_membership_changes_many_seeds(chunk: int) -> None:
    for seed in range(1000 + chunk * 300, 1300 + chunk * 300):
        run_membership_schedule(seed, snapshots=seed % 2 == 1)


def test_a_restarted_node_reads_its_configuration_from_file_storage(tmp_path: Path) -> None:
    """Entries come back from FileStorage as dicts: the configuration is still found."""
    storages = {nid: MemoryStorage() for nid in ("n2", "n3")}
    cluster = Cluster(3, seed=8, storages={**storages, "n1": FileStorage(tmp_path, fsync=False)})  # type: ignore[dict-item]
    leader = _ready(cluster)
    cluster.add_member("n4")
    cluster.change(leader, "add_learner", "n4")
    cluster.one("x", 4)
    cluster.crash("n1")
    cluster.storages["n1"] = FileStorage(tmp_path, fsync=False)  # type: ignore[assignment]
    cluster.restart("n1")
    assert cluster.node("n1").membership == Membership(("n1", "n2", "n3"), ("n4",))
    cluster.run_for(500.0)
    assert cluster.node("n1").applied_index >= 3

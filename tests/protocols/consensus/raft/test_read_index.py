"""ReadIndex and lease reads on the pure node (thesis §6.4), and the randomized stale-read check."""

from __future__ import annotations

from typing import Any

import pytest

from mabeam._errors import ConfigError
from mabeam.protocols.consensus.raft import (
    AppendEntriesResponse,
    NotLeaderError,
    RaftConfig,
    RaftNode,
    ReadProbe,
    ReadProbeAck,
    ReadState,
    RequestVoteResponse,
)
from mabeam.testing.raft import CLASSIC, Cluster, SafetyViolation, lone_node, take

from ._churn import run_random_schedule


def test_a_read_is_confirmed_by_one_round_and_served_at_the_commit_index() -> None:
    cluster = Cluster(3, seed=1)
    leader = cluster.wait_leader()
    index = cluster.one("x", 3)
    before = cluster.messages_sent(ReadProbe)
    cluster.read(leader, "r1")
    cluster.read(leader, "r2")
    assert cluster.messages_sent(ReadProbe) - before == 4  # one round per read, 2 peers each
    cluster.settle()
    assert cluster.reads_served == {"r1": index, "r2": index}
    assert cluster.node(leader).last_index == index  # no log entry for a read


def test_only_the_leader_serves_reads() -> None:
    cluster = Cluster(3, seed=2)
    leader = cluster.wait_leader()
    follower = next(nid for nid in cluster.ids if nid != leader)
    with pytest.raises(NotLeaderError) as caught:
        cluster.read(follower, "r")
    assert caught.value.leader_hint == leader


def test_a_new_leader_waits_for_its_own_entry_to_commit() -> None:
    """Until the no-op of its term commits, a new leader's commit index may be stale: a read
    confirmed by a round still waits for it."""
    node = lone_node(config=CLASSIC)
    node.campaign(0.0)
    take(node)
    node.step(RequestVoteResponse(src="n2", dst="n1", term=1, granted=True), 0.0)
    assert node.role == "leader"
    take(node)
    node.read_index("r", 0.0)
    probes = [m for m in take(node) if isinstance(m, ReadProbe)]
    assert [p.dst for p in probes] == ["n2", "n3"]
    node.step(ReadProbeAck(src="n2", dst="n1", term=1, seq=probes[0].seq), 0.0)
    assert node.ready().read_states == []  # confirmed, but the no-op is not committed
    node.step(AppendEntriesResponse(src="n2", dst="n1", term=1, success=True, match_index=1), 0.0)
    assert node.commit_index == 1
    assert node.ready().read_states == [ReadState("r", 1)]


def test_a_partitioned_leader_never_confirms_a_read() -> None:
    config = RaftConfig(check_quorum=False)  # it keeps believing it leads
    cluster = Cluster(5, seed=4, config=config)
    old = cluster.wait_leader()
    cluster.one("x", 5)
    others = [nid for nid in cluster.ids if nid != old]
    cluster.partition([old], others)
    cluster.read(old, "stale?")
    cluster.run_until(lambda: cluster.leader() not in (None, old), 5_000.0)
    cluster.one("y", 4)
    cluster.run_for(1_000.0)
    assert cluster.node(old).role == "leader"
    assert "stale?" not in cluster.reads_served


def test_lease_reads_skip_the_round_while_the_lease_holds() -> None:
    config = RaftConfig(lease_reads=True)
    cluster = Cluster(3, seed=5, config=config)
    leader = cluster.wait_leader()
    cluster.one("x", 3)
    cluster.run_for(config.heartbeat_ms + 10)  # a heartbeat's probe round renews the lease
    before = cluster.messages_sent(ReadProbe)
    cluster.read(leader, "leased")
    assert "leased" in cluster.reads_served
    assert cluster.messages_sent(ReadProbe) == before
    # Cut off, the leader's lease runs out (before any other node can be elected): reads
    # then need a round, which a minority cannot confirm.
    cluster.partition([leader], [n for n in cluster.ids if n != leader])
    lease = config.election_timeout_ms[0] / config.clock_drift_bound
    cluster.run_for(lease)
    if cluster.node(leader).role == "leader":
        cluster.read(leader, "late")
        cluster.run_for(20.0)
        assert "late" not in cluster.reads_served


def test_lease_reads_need_check_quorum() -> None:
    with pytest.raises(ConfigError, match="lease_reads"):
        RaftConfig(lease_reads=True, check_quorum=False)
    with pytest.raises(ConfigError, match="clock_drift_bound"):
        RaftConfig(clock_drift_bound=0.5)


class _EagerReader(RaftNode):
    """A planted bug: a leader that serves reads without confirming its leadership."""

    def read_index(self, ctx: Any, now: float) -> None:
        if self.role != "leader":
            raise NotLeaderError(self.node_id, self.leader_id)
        self._read_states.append(ReadState(ctx, self.commit_index))


def test_the_harness_catches_a_leader_serving_unconfirmed_reads() -> None:
    """The partitioned-leader schedule with the planted bug: the stale read is caught."""
    cluster = Cluster(5, seed=4, config=RaftConfig(check_quorum=False), node_class=_EagerReader)
    old = cluster.wait_leader()
    cluster.one("x", 5)
    others = [nid for nid in cluster.ids if nid != old]
    cluster.partition([old], others)
    cluster.run_until(lambda: cluster.leader() not in (None, old), 5_000.0)
    cluster.one("y", 4)
    with pytest.raises(SafetyViolation, match="stale read"):
        cluster.read(old, "stale")


@pytest.mark.parametrize("chunk", range(4))
def test_random_fault_schedules_with_reads(chunk: int) -> None:
    """Reads at random nodes during random faults (half with snapshots, some with leases):
    none is served at an index below what was committed when it was asked."""
    served = 0
    for seed in range(5000 + chunk * 30, 5030 + chunk * 30):
        served += run_random_schedule(seed, snapshots=seed % 2 == 0, reads=True)["reads_served"]
    assert served > 50


@pytest.mark.slow
@pytest.mark.parametrize("chunk", range(10))
def test_random_fault_schedules_with_reads_many_seeds(chunk: int) -> None:
    for seed in range(10_000 + chunk * 300, 10_300 + chunk * 300):
        run_random_schedule(seed, snapshots=seed % 2 == 0, reads=True)

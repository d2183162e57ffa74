"""Churn and random fault schedules: R18 and the randomized checker of H1-H5."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from mabeam.protocols.consensus.raft import NotLeaderError, RaftConfig
from mabeam.testing.raft import Cluster

from ._churn import run_churn, run_random_schedule

DEFAULT_SCHEDULES = 200
SLOW_SCHEDULES = 5_000


@pytest.mark.parametrize("unreliable", [False, True], ids=["reliable", "unreliable"])
@pytest.mark.parametrize("seed", range(3))
def test_r18_churn_with_three_clients(seed: int, unreliable: bool) -> None:
    """R18 (6.824 TestReliableChurn2C / TestUnreliableChurn2C): H1-H5 under churn."""
    result = run_churn(seed, unreliable=unreliable)
    assert result["acknowledged"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("unreliable", [False, True], ids=["reliable", "unreliable"])
@pytest.mark.parametrize("chunk", range(5))
def test_r18_churn_many_seeds(chunk: int, unreliable: bool) -> None:
    """R18 over 50 more seeds each, 10 per test (slow)."""
    for seed in range(3 + chunk * 10, 13 + chunk * 10):
        run_churn(seed, unreliable=unreliable)


def test_random_fault_schedules() -> None:
    """Randomized checker: hundreds of seeded schedules of crashes, restarts, partitions,
    loss, duplication and delay with proposals; H1-H4 after every event, H5 at the end."""
    results = [run_random_schedule(seed) for seed in range(DEFAULT_SCHEDULES)]
    assert sum(r["proposals"] for r in results) > DEFAULT_SCHEDULES
    assert {r["servers"] for r in results} == {3, 5}


@pytest.mark.slow
@pytest.mark.parametrize("chunk", range(SLOW_SCHEDULES // 250))
def test_random_fault_schedules_many(chunk: int) -> None:
    """The randomized checker over many more, longer schedules (slow; 250 per test)."""
    first = DEFAULT_SCHEDULES + chunk * 250
    for seed in range(first, first + 250):
        run_random_schedule(seed, steps=60)


NODES = st.sampled_from(["n1", "n2", "n3", "n4", "n5"])


class RaftFaults(RuleBasedStateMachine):
    """A 5-node cluster under hypothesis-chosen faults; the harness checks H1-H4 per event."""

    cluster: Cluster

    @initialize(seed=st.integers(0, 2**32 - 1), pre_vote=st.booleans(), check_quorum=st.booleans())
    def start(self, seed: int, pre_vote: bool, check_quorum: bool) -> None:
        config = RaftConfig(pre_vote=pre_vote, check_quorum=check_quorum)
        self.cluster = Cluster(5, seed=seed, config=config)
        self.proposals = 0

    @rule(nid=NODES)
    def crash(self, nid: str) -> None:
        self.cluster.crash(nid)

    @rule(nid=NODES)
    def restart(self, nid: str) -> None:
        self.cluster.restart(nid)

    @rule(nid=NODES)
    def disconnect(self, nid: str) -> None:
        self.cluster.disconnect(nid)

    @rule(nid=NODES)
    def connect(self, nid: str) -> None:
        self.cluster.connect(nid)

    @rule(group=st.sets(NODES, min_size=1, max_size=4))
    def partition(self, group: set[str]) -> None:
        self.cluster.heal()
        self.cluster.partition(sorted(group), sorted(set(self.cluster.ids) - group))

    @rule()
    def heal(self) -> None:
        self.cluster.heal()

    @rule(
        drop=st.sampled_from([0.0, 0.1, 0.3]),
        duplicate=st.sampled_from([0.0, 0.2]),
        spread=st.sampled_from([0.0, 10.0, 100.0]),
    )
    def network(self, drop: float, duplicate: float, spread: float) -> None:
        self.cluster.drop_rate = drop
        self.cluster.duplicate_rate = duplicate
        self.cluster.delay = (1.0, 1.0 + spread)

    @precondition(lambda self: self.cluster.leader() is not None)
    @rule(count=st.integers(1, 3))
    def propose(self, count: int) -> None:
        leader = self.cluster.leader()
        assert leader is not None
        for _ in range(count):
            try:
                self.cluster.propose(leader, self.proposals)
            except NotLeaderError:
                return
            self.proposals += 1

    @rule(ms=st.floats(1.0, 600.0))
    def advance(self, ms: float) -> None:
        self.cluster.run_for(ms)

    @invariant()
    def logs_match(self) -> None:
        if hasattr(self, "cluster"):
            self.cluster.check_logs()

    def teardown(self) -> None:
        if not hasattr(self, "cluster"):
            return
        cluster = self.cluster
        cluster.heal()
        cluster.drop_rate = cluster.duplicate_rate = 0.0
        cluster.delay = (1.0, 3.0)
        for nid in cluster.ids:
            if cluster.nodes[nid] is None:
                cluster.restart(nid)
        cluster.one("final", 5)
        cluster.check_logs(complete=True)


RaftFaults.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_raft_under_hypothesis_faults = RaftFaults.TestCase

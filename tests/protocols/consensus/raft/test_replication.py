"""Log replication: R7-R11, R13, R15 and bugs 1, 2, 5 and 6."""

from __future__ import annotations

import random

import msgspec
import pytest

from mabeam.protocols.consensus.raft import (
    AppendEntries,
    AppendEntriesResponse,
    MemoryStorage,
    NotLeaderError,
    RaftConfig,
    RaftNode,
    RequestVoteResponse,
)
from mabeam.testing.raft import (
    CLASSIC,
    Cluster,
    SafetyViolation,
    append,
    log_of_terms,
    lone_node,
    take,
    voted,
)

T_MAX = 300.0


def test_r7_basic_agreement() -> None:
    """R7 (6.824 TestBasicAgree2B): nothing is committed early; commands commit in order.

    Indices are one past 6.824's: each leader's no-op (etcd ``becomeLeader``) takes index 1.
    """
    cluster = Cluster(3, seed=1)
    cluster.wait_leader()
    assert all(e.data is None for e in cluster.checker.committed.values())
    indices = [cluster.one(command, 3) for command in (101, 102, 103)]
    assert indices == [2, 3, 4]
    for node in cluster.alive():
        assert [e.data for e in node.log] == [None, 101, 102, 103]


def test_r7_each_command_is_sent_to_each_peer_once() -> None:
    """R7 (6.824 TestRPCBytes2B): bytes sent <= servers x payload + 50 kB."""
    cluster = Cluster(3, seed=2)
    cluster.count_bytes = True
    cluster.wait_leader()
    cluster.one(99, 3)
    before = cluster.bytes_sent
    payload = 0
    for i in range(10):
        command = f"{i}" + "x" * 4_999
        payload += len(command)
        cluster.one(command, 3)
    assert cluster.bytes_sent - before <= 3 * payload + 50_000


@pytest.mark.parametrize("seed", range(3))
def test_r8_agreement_despite_a_follower_failure(seed: int) -> None:
    """R8 (6.824 TestFailAgree2B): 2 of 3 commit; the rejoined follower catches up."""
    cluster = Cluster(3, seed=seed)
    cluster.one(101, 3)
    leader = cluster.wait_leader()
    follower = cluster.ids[(cluster.ids.index(leader) + 1) % 3]
    cluster.disconnect(follower)
    for command in (102, 103, 104, 105):
        cluster.one(command, 2)
    cluster.connect(follower)
    cluster.one(106, 3)
    cluster.one(107, 3)
    assert [e.data for e in cluster.node(follower).log if e.data is not None] == list(
        range(101, 108)
    )
    cluster.check_logs(complete=True)


@pytest.mark.parametrize("seed", range(3))
def test_r9_no_agreement_without_a_majority(seed: int) -> None:
    """R9 (6.824 TestFailNoAgree2B): no commit with 3 of 5 gone; then 5 of 5 agree."""
    cluster = Cluster(5, seed=seed)
    cluster.one(10, 5)
    leader = cluster.wait_leader()
    at = cluster.ids.index(leader)
    gone = [cluster.ids[(at + k) % 5] for k in (1, 2, 3)]
    for nid in gone:
        cluster.disconnect(nid)
    index = cluster.propose(leader, 20)
    assert index == 3  # the no-op, 10, then 20
    cluster.run_for(2 * T_MAX)
    assert cluster.n_applied(index) == 0
    assert 20 not in [e.data for e in cluster.checker.committed.values()]
    for nid in gone:
        cluster.connect(nid)
    index2 = cluster.one(30, 5)
    # The majority may have elected its own leader and overwritten index 3 with its no-op.
    assert index2 in (index + 1, index + 2)
    cluster.one(1000, 5)
    cluster.check_logs(complete=True)


@pytest.mark.parametrize("seed", range(3))
def test_r10_partitioned_leader_rejoins(seed: int) -> None:
    """R10 (6.824 TestRejoin2B): the old leader's uncommitted entries are replaced."""
    cluster = Cluster(3, seed=seed)
    cluster.one(101, 3)
    leader1 = cluster.wait_leader()
    old_term = cluster.node(leader1).term
    cluster.disconnect(leader1)
    stale = [cluster.propose(leader1, command) for command in (102, 103, 104)]
    cluster.one(103, 2)
    leader2 = cluster.wait_leader()
    cluster.disconnect(leader2)
    cluster.connect(leader1)
    cluster.one(104, 2)
    cluster.connect(leader2)
    cluster.one(105, 3)
    cluster.check_logs(complete=True)
    # None of the stale leader's entries of its old term survived.
    for node in cluster.alive():
        for index in stale:
            assert node.term_at(index) != old_term


def test_r10_stale_append_entries_leave_the_log_unchanged() -> None:
    """R10 (etcd TestOldMessages): an old leader's AppendEntries is ignored."""
    cluster = Cluster(3, config=CLASSIC)
    for nid in ("n1", "n2", "n1"):
        cluster.campaign(nid)
        cluster.settle()
    n1 = cluster.node("n1")
    assert (n1.role, n1.term) == ("leader", 3)
    cluster.deliver_to(
        AppendEntries(
            src="n2",
            dst="n1",
            term=2,
            prev_log_index=2,
            prev_log_term=2,
            entries=tuple(log_of_terms([1, 2, 2]))[2:],
            leader_commit=2,
        )
    )
    assert [e.term for e in n1.log] == [1, 2, 3]
    cluster.propose("n1", "somedata")
    cluster.settle()
    cluster.run_for(60.0)  # one heartbeat carries the commit index to the followers
    for node in cluster.alive():
        assert [(e.term, e.data) for e in node.log] == [
            (1, None),
            (2, None),
            (3, None),
            (3, "somedata"),
        ]
        assert node.commit_index == 4


@pytest.mark.parametrize("seed", range(2))
def test_r11_fast_log_backtracking(seed: int) -> None:
    """R11 (6.824 TestBackup2B): 50-entry divergent minorities are repaired quickly."""
    rng = random.Random(seed)
    cluster = Cluster(5, seed=seed)
    cluster.one(rng.randrange(10**9), 5)
    leader1 = cluster.wait_leader()
    at = cluster.ids.index(leader1)
    ring = [cluster.ids[(at + k) % 5] for k in range(5)]
    for nid in ring[2:]:
        cluster.disconnect(nid)
    for _ in range(50):
        cluster.propose(leader1, rng.randrange(10**9))
    cluster.run_for(T_MAX / 2)
    for nid in ring[:2]:
        cluster.disconnect(nid)
    for nid in ring[2:]:
        cluster.connect(nid)
    for _ in range(50):
        cluster.one(rng.randrange(10**9), 3)
    leader2 = cluster.wait_leader()
    other = ring[2] if ring[2] != leader2 else cluster.ids[(cluster.ids.index(leader2) + 1) % 5]
    cluster.disconnect(other)
    for _ in range(50):
        cluster.propose(leader2, rng.randrange(10**9))
    cluster.run_for(T_MAX / 2)
    for nid in cluster.ids:
        cluster.disconnect(nid)
    for nid in (*ring[:2], other):
        cluster.connect(nid)
    for _ in range(50):
        cluster.one(rng.randrange(10**9), 3)
    for nid in cluster.ids:
        cluster.connect(nid)
    before = cluster.messages_sent(AppendEntries)
    cluster.one(rng.randrange(10**9), 5, timeout_ms=10_000.0)
    cluster.check_logs(complete=True)
    # Back-off by term: repairing two 50-entry divergences takes a handful of round trips,
    # not one per entry (plus the heartbeats of the wait).
    assert cluster.messages_sent(AppendEntries) - before <= 20


FIG7_LEADER = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6]
FIG7_FOLLOWERS = {
    "a": [1, 1, 1, 4, 4, 5, 5, 6, 6],
    "b": [1, 1, 1, 4],
    "c": [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
    "d": [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
    "e": [1, 1, 1, 4, 4, 4, 4],
    "f": [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
}


@pytest.mark.parametrize("shape", sorted(FIG7_FOLLOWERS))
def test_r11_leader_repairs_every_figure7_follower(shape: str) -> None:
    """R11 (etcd TestLeaderSyncFollowerLog): Fig. 7 logs (a)-(f) become the leader's log."""
    storages = {
        "n1": voted(8, terms=FIG7_LEADER),
        "n2": voted(7, terms=FIG7_FOLLOWERS[shape]),
    }
    cluster = Cluster(3, config=CLASSIC, storages=storages)
    cluster.crash("n3")  # a black hole; its vote is handed to n1 below
    cluster.campaign("n1")
    cluster.settle()
    cluster.deliver_to(RequestVoteResponse(src="n3", dst="n1", term=9, granted=True))
    cluster.settle()
    cluster.propose("n1", "x")
    cluster.settle()
    assert cluster.node("n2").log == cluster.node("n1").log
    assert [e.term for e in cluster.node("n1").log] == [*FIG7_LEADER, 9, 9]
    # One rejection at most (etcd's hint skips whole terms), then the no-op and "x" succeed.
    assert cluster.messages_sent(AppendEntriesResponse) <= 3


@pytest.mark.parametrize(
    ("acked", "commit"),
    [pytest.param(1, 0, id="old-term-1"), pytest.param(2, 0, id="old-term-2"), (3, 3)],
)
def test_r13_bug1_leader_commits_only_entries_of_its_term(acked: int, commit: int) -> None:
    """R13, bug 1 (etcd TestLeaderOnlyCommitsLogFromCurrentTerm): old terms are not counted."""
    storage = voted(2, terms=[1, 2])
    node = lone_node(2, config=CLASSIC, storage=storage)
    node.campaign(0.0)
    node.step(RequestVoteResponse(src="n2", dst="n1", term=3, granted=True), 0.0)
    assert (node.role, node.term, node.last_index) == ("leader", 3, 3)  # with its no-op
    take(node)
    node.step(
        AppendEntriesResponse(src="n2", dst="n1", term=3, success=True, match_index=acked), 0.0
    )
    assert node.commit_index == commit


def test_r13_bug2_cannot_commit_without_a_new_term_entry() -> None:
    """R13, bug 2 (etcd TestCannotCommitWithoutNewTermEntry): commit waits for the no-op."""
    cluster = Cluster(5, config=CLASSIC)
    cluster.campaign("n1")
    cluster.settle()
    for nid in ("n3", "n4", "n5"):
        cluster.cut("n1", nid)
    cluster.propose("n1", "some data")
    cluster.propose("n1", "some data")
    cluster.settle()
    assert cluster.node("n1").commit_index == 1
    cluster.heal()
    cluster.filter = lambda m: not isinstance(m, AppendEntries)
    cluster.campaign("n2")
    cluster.settle()
    n2 = cluster.node("n2")
    assert (n2.role, n2.term) == ("leader", 2)
    assert n2.commit_index == 1
    # The term-1 entries are now on a majority only once AppendEntries flow again; even
    # then they commit only because the no-op of term 2 (index 4) commits with them.
    cluster.filter = None
    cluster.run_for(60.0)
    cluster.propose("n2", "some data")
    cluster.settle()
    assert n2.commit_index == 5


def test_r13_commit_with_the_new_term_no_op() -> None:
    """R13 (etcd TestCommitWithoutNewTermEntry): the new leader's no-op commits 1..4 at once."""
    cluster = Cluster(5, config=CLASSIC)
    cluster.campaign("n1")
    cluster.settle()
    for nid in ("n3", "n4", "n5"):
        cluster.cut("n1", nid)
    cluster.propose("n1", "some data")
    cluster.propose("n1", "some data")
    cluster.settle()
    assert cluster.node("n1").commit_index == 1
    cluster.heal()
    cluster.campaign("n2")
    cluster.settle()
    assert cluster.node("n2").commit_index == 4


def _figure8_old_entry_on_a_majority() -> Cluster:
    """Figure 8 (c): S1, leader of term 5, has put (2, 2) on S1-S3; its no-op is held back."""
    storages = {
        "n1": voted(4, "n1", terms=[1, 2]),
        "n2": voted(4, "n1", terms=[1, 2]),
        "n3": voted(4, "n1", terms=[1]),
        "n4": voted(3, "n5", terms=[1]),
        "n5": voted(3, "n5", terms=[1, 3]),
    }
    config = RaftConfig(pre_vote=False, check_quorum=False, max_entries_per_message=1)
    cluster = Cluster(5, config=config, storages=storages)
    for nid in ("n4", "n5"):
        cluster.disconnect(nid)
    cluster.filter = lambda m: not isinstance(m, AppendEntries)
    cluster.campaign("n1")
    cluster.settle()
    n1 = cluster.node("n1")
    assert (n1.role, n1.term) == ("leader", 5)
    cluster.filter = None
    cluster.tick_node("n1")  # heartbeat: probes (prev 2, [no-op]) to n2 and n3
    probes = cluster.take_in_flight(lambda m: isinstance(m, AppendEntries))
    assert sorted(m.dst for m in probes) == ["n2", "n3"]
    # From now on no AppendEntries carrying the no-op (term 5) gets through; the probes
    # arrive without it.
    cluster.filter = lambda m: (
        not (isinstance(m, AppendEntries) and any(e.term == 5 for e in m.entries))
    )
    for probe in probes:
        assert isinstance(probe, AppendEntries)
        cluster.deliver_to(msgspec.structs.replace(probe, entries=()))
    cluster.settle()
    assert [cluster.node(nid).term_at(2) for nid in ("n1", "n2", "n3")] == [2, 2, 2]
    assert (n1.match_index("n2"), n1.match_index("n3")) == (2, 2)
    return cluster


def _figure8_s5_overwrites(cluster: Cluster) -> None:
    """Figure 8 (d): S1 fails; S5 (last entry (3, 2)) wins term 6 and overwrites index 2."""
    cluster.crash("n1")
    cluster.filter = None
    cluster.heal()
    for _ in range(3):  # term 4: n2, n3 ignore it; 5: they voted; 6: it wins
        cluster.campaign("n5")
        cluster.settle()
    n5 = cluster.node("n5")
    assert (n5.role, n5.term) == ("leader", 6)
    cluster.run_for(60.0)


def test_r13_figure8_old_entry_on_a_majority_is_still_overwritten() -> None:
    """R13 (Figure 8 c-e, etcd-style): an old-term entry on 3 of 5 is not committed.

    As in the paper: S1 led term 2 and put (2, 2) on S1, S2; S5 led term 3 with (3, 2) on
    itself only. Now S1 leads term 5 and spreads (2, 2) to S3 — a majority holds it — while
    its own no-op is held back: (2, 2) must not commit. S1 fails, S5 wins (votes of S2, S3,
    S4) and overwrites index 2 everywhere, which is why counting it would have been unsafe.
    """
    cluster = _figure8_old_entry_on_a_majority()
    assert all(node.commit_index < 2 for node in cluster.alive())
    _figure8_s5_overwrites(cluster)
    for node in cluster.alive():
        assert [node.term_at(i) for i in (1, 2, 3)] == [1, 3, 6]
    assert cluster.checker.committed[2].term == 3


def test_bug1_committing_by_counting_old_terms_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bug 1, mutation check: a leader that counts old-term replicas breaks safety, and the
    recorder reports it on the Figure 8 schedule."""

    def count_any_term(self: RaftNode) -> None:
        matches = sorted(
            [self.last_index, *(p.match for p in self._progress.values())], reverse=True
        )
        self._raft_log.commit_to(matches[self._quorum - 1])

    monkeypatch.setattr(RaftNode, "_maybe_commit", count_any_term)
    cluster = _figure8_old_entry_on_a_majority()
    assert cluster.node("n1").commit_index == 2  # the unsafe commit of (2, 2)
    with pytest.raises(SafetyViolation, match=r"completeness|H2"):
        _figure8_s5_overwrites(cluster)


def test_r15_reordered_append_entries_never_lower_match_index() -> None:
    """R15 (etcd TestLogReplicationWithReorderedMessage): AE#2 before AE#1, stale reject last."""
    cluster = Cluster(2, config=CLASSIC, delay=(1.0, 1.0))
    cluster.campaign("n1")
    cluster.settle()
    n1, n2 = cluster.node("n1"), cluster.node("n2")
    assert n1.match_index("n2") == 1
    cluster.propose("n1", "first")
    cluster.propose("n1", "second")
    ae1, ae2 = cluster.take_in_flight(lambda m: isinstance(m, AppendEntries))
    assert (ae1.prev_log_index, ae2.prev_log_index) == (1, 2)
    cluster.deliver_to(ae2)  # r2 has no entry 2 yet: rejects
    (reject,) = cluster.take_in_flight(lambda m: m.dst == "n1")
    assert isinstance(reject, AppendEntriesResponse)
    assert (reject.success, reject.match_index, reject.reject_hint) == (False, 2, 1)
    cluster.deliver_to(ae1)
    (ok,) = cluster.take_in_flight(lambda m: m.dst == "n1")
    cluster.deliver_to(ok)
    assert n1.match_index("n2") == 2
    cluster.deliver_to(reject)  # stale: it must not lower the match index
    assert n1.match_index("n2") == 2
    cluster.run_for(60.0)  # the next heartbeat resends what is unacknowledged
    assert n1.match_index("n2") == 3
    assert n2.log == n1.log


def test_r15_bug5_duplicate_and_empty_append_entries_keep_matching_entries() -> None:
    """R15, bug 5: duplicated, delayed and empty AppendEntries never truncate matching entries."""
    cluster = Cluster(3, config=CLASSIC)
    cluster.campaign("n1")
    cluster.settle()
    cluster.propose("n1", "a")
    (early,) = cluster.take_in_flight(lambda m: m.dst == "n2")
    cluster.settle()
    cluster.propose("n1", "b")
    cluster.settle()
    n2 = cluster.node("n2")
    before = n2.log
    assert [e.data for e in before] == [None, "a", "b"]
    cluster.deliver_to(early)  # the late copy of the AE carrying only "a"
    cluster.deliver_to(early)
    cluster.deliver_to(append("n1", "n2", 1, 1, 1, commit=0))
    assert n2.log == before


@pytest.mark.parametrize(
    ("prev", "prev_term", "terms", "expected"),
    [
        pytest.param(2, 2, [3], [1, 2, 3], id="append"),
        pytest.param(1, 1, [3, 4], [1, 3, 4], id="conflict-at-2"),
        pytest.param(0, 0, [1], [1, 2], id="matching-prefix-kept"),
        pytest.param(0, 0, [3], [3], id="conflict-at-1"),
    ],
)
def test_r15_follower_truncates_only_at_the_first_conflict(
    prev: int, prev_term: int, terms: list[int], expected: list[int]
) -> None:
    """R15 (etcd TestFollowerAppendEntries): delete only from the first conflicting entry."""
    node = lone_node(3, config=CLASSIC, storage=voted(2, terms=[1, 2]))
    entries = tuple(log_of_terms([0] * prev + terms))[prev:]
    node.step(
        AppendEntries(
            src="n2",
            dst="n1",
            term=2,
            prev_log_index=prev,
            prev_log_term=prev_term,
            entries=entries,
            leader_commit=0,
        ),
        0.0,
    )
    assert [e.term for e in node.log] == expected


@pytest.mark.parametrize(
    ("prev", "prev_term", "commit", "terms", "last", "committed", "success"),
    [
        pytest.param(2, 3, 3, [], 2, 0, False, id="prev-term-mismatch"),
        pytest.param(3, 3, 3, [], 2, 0, False, id="prev-missing"),
        pytest.param(1, 1, 1, [], 2, 1, True, id="heartbeat"),
        pytest.param(0, 0, 1, [2], 1, 1, True, id="replace-first"),
        pytest.param(2, 2, 3, [2, 2], 4, 3, True, id="append-two"),
        pytest.param(2, 2, 4, [2], 3, 3, True, id="commit-to-last-new"),
        pytest.param(1, 1, 4, [2], 2, 2, True, id="commit-capped"),
        pytest.param(1, 1, 3, [], 2, 1, True, id="commit-up-to-prev"),
        pytest.param(2, 2, 4, [], 2, 2, True, id="commit-up-to-last"),
    ],
)
def test_r15_handle_append_entries(
    prev: int,
    prev_term: int,
    commit: int,
    terms: list[int],
    last: int,
    committed: int,
    success: bool,
) -> None:
    """R15 (etcd TestHandleMsgApp): consistency check, append, commit min(leader, last new)."""
    node = lone_node(3, config=CLASSIC, storage=voted(2, terms=[1, 2]))
    entries = tuple(log_of_terms([0] * prev + terms))[prev:]
    node.step(
        AppendEntries(
            src="n2",
            dst="n1",
            term=2,
            prev_log_index=prev,
            prev_log_term=prev_term,
            entries=entries,
            leader_commit=commit,
        ),
        0.0,
    )
    (response,) = take(node)
    assert isinstance(response, AppendEntriesResponse)
    assert (node.last_index, node.commit_index, response.success) == (last, committed, success)


def test_bug6_match_index_is_prev_plus_entries_not_the_follower_log_length() -> None:
    """Bug 6 (raftos): a follower with stale trailing entries reports prev + len(entries)."""
    node = lone_node(3, config=CLASSIC, storage=voted(2, terms=[1, 1, 1, 1, 1]))
    node.step(
        append("n2", "n1", 2, 1, 1, commit=3),
        0.0,
    )
    (response,) = take(node)
    assert isinstance(response, AppendEntriesResponse)
    assert (response.success, response.match_index) == (True, 1)
    # The stale tail is neither truncated (no conflict seen) nor committed past index 1.
    assert (node.last_index, node.commit_index) == (5, 1)


def test_bug6_rejection_hint_skips_a_whole_conflicting_term() -> None:
    """Fast back-off: the follower's hint is the last entry that could match (etcd RejectHint)."""
    node = lone_node(3, config=CLASSIC, storage=voted(3, terms=[1, 2, 2, 2, 2]))
    node.step(
        append("n2", "n1", 3, 6, 3, commit=0),
        0.0,
    )
    (response,) = take(node)
    assert isinstance(response, AppendEntriesResponse)
    assert (response.success, response.match_index) == (False, 6)
    assert (response.reject_hint, response.reject_term) == (5, 2)
    node.step(
        append("n2", "n1", 3, 4, 1, commit=0),
        0.0,
    )
    (response,) = take(node)
    assert isinstance(response, AppendEntriesResponse)
    assert (response.reject_hint, response.reject_term) == (1, 1)


def test_proposals_go_to_the_leader_only() -> None:
    """A follower refuses a proposal and names the leader it knows."""
    cluster = Cluster(3, config=CLASSIC)
    cluster.campaign("n1")
    cluster.settle()
    with pytest.raises(NotLeaderError) as caught:
        cluster.propose("n2", "x")
    assert caught.value.leader_hint == "n1"
    assert "n1" in str(caught.value)


def test_single_node_cluster_commits_alone() -> None:
    """A cluster of one elects itself and commits each proposal at once."""
    cluster = Cluster(1)
    cluster.run_for(400.0)
    assert cluster.leaders() == ["n1"]
    index = cluster.propose("n1", "solo")
    assert cluster.node("n1").commit_index == index
    assert cluster.applied_data(index) == "solo"


def test_memory_storage_rejects_a_gap() -> None:
    """MemoryStorage appends only entries that follow its last index."""
    storage = MemoryStorage()
    with pytest.raises(ValueError, match="does not follow"):
        storage.append(log_of_terms([1, 1])[1:])


def test_propose_many_replicates_a_batch_in_few_messages() -> None:
    """A batch of 200 commands is one append: per follower ceil(200 / 64) AppendEntries,
    not 200 (etcd's MsgProp with many entries); all commit in order on every node."""
    cluster = Cluster(3, seed=4)
    leader = cluster.wait_leader()
    cluster.settle()
    node = cluster.node(leader)
    before = cluster.messages_sent(AppendEntries)
    indices = node.propose_many(list(range(200)), cluster.now)
    first = indices[0]
    assert indices == list(range(first, first + 200))
    cluster._flush(node)
    sent_at_once = cluster.messages_sent(AppendEntries) - before
    assert sent_at_once == 2  # one message per follower, the first 64 entries each
    assert cluster.run_until(lambda: cluster.n_applied(indices[-1]) == 3, 2_000.0)
    for peer in cluster.alive():
        assert [e.data for e in peer.log[first - 1 :]] == list(range(200))
    assert cluster.messages_sent(AppendEntries) - before <= 2 * 4 + 4  # 4 batches + heartbeats


def test_propose_many_off_the_leader_and_empty() -> None:
    """A follower refuses a batch with NotLeaderError; an empty batch appends nothing."""
    cluster = Cluster(3, seed=5)
    leader = cluster.wait_leader()
    follower = next(n for n in cluster.alive() if n.node_id != leader)
    with pytest.raises(NotLeaderError):
        follower.propose_many([1, 2], cluster.now)
    node = cluster.node(leader)
    last = node.last_index
    assert node.propose_many([], cluster.now) == []
    assert node.last_index == last

"""Leader election: R1-R6, the 6.824 message budgets, and bugs 4, 7, 8 and 9."""

from __future__ import annotations

import random

import pytest

from mabeam.protocols.consensus.raft import (
    AppendEntries,
    MemoryStorage,
    RaftConfig,
    RequestVote,
    RequestVoteResponse,
)
from mabeam.testing.raft import CLASSIC, Cluster, log_of_terms, lone_node, take, voted

T_MAX = 300.0
"""The upper end of the default election timeout: the scenarios' T."""


@pytest.mark.parametrize("seed", range(8))
def test_r1_initial_election(seed: int) -> None:
    """R1 (6.824 TestInitialElection2A): one leader within 5T, same term >= 1, stable for 2T."""
    cluster = Cluster(3, seed=seed)
    leader = cluster.wait_leader(timeout_ms=5 * T_MAX)
    terms = {node.term for node in cluster.alive()}
    assert len(terms) == 1
    (term,) = terms
    assert term >= 1
    cluster.run_for(2 * T_MAX)
    assert cluster.leaders() == [leader]
    assert {node.term for node in cluster.alive()} == {term}


@pytest.mark.parametrize("seed", range(20))
def test_budget_first_leader_of_three_takes_at_most_30_messages(seed: int) -> None:
    """6.824 TestCount2B: electing the first leader of 3 nodes takes <= 30 messages."""
    cluster = Cluster(3, seed=seed)
    cluster.wait_leader()
    # Every message counts here, requests and replies alike (labrpc would count half).
    assert cluster.messages_sent() <= 30


@pytest.mark.parametrize("seed", range(4))
def test_budget_eleven_agreements_take_at_most_42_rpcs(seed: int) -> None:
    """6.824 TestCount2B: 12 back-to-back proposals applied everywhere in <= (10+1+3)x3 RPCs."""
    cluster = Cluster(3, seed=seed)
    leader = cluster.wait_leader()
    cluster.one("warm-up", 3)
    before = cluster.rpcs_sent()
    indices = [cluster.propose(leader, i) for i in range(12)]
    assert cluster.run_until(lambda: cluster.n_applied(indices[-1]) == 3, 1_000.0)
    assert [cluster.applied_data(i) for i in indices] == list(range(12))
    assert cluster.rpcs_sent() - before <= (10 + 1 + 3) * 3


@pytest.mark.parametrize("seed", range(4))
def test_budget_idle_cluster_sends_at_most_60_rpcs_per_second(seed: int) -> None:
    """6.824 TestCount2B: an idle 3-node cluster makes <= 60 RPCs per second.

    labrpc counts a call and its reply as one RPC; with 50 ms heartbeats the leader makes 40
    calls a second (80 messages counting the replies), and nothing else is sent.
    """
    cluster = Cluster(3, seed=seed)
    cluster.wait_leader()
    cluster.run_for(500.0)
    rpcs, messages = cluster.rpcs_sent(), cluster.messages_sent()
    cluster.run_for(3_000.0)
    assert (cluster.rpcs_sent() - rpcs) / 3 <= 60
    assert (cluster.messages_sent() - messages) / 3 <= 2 * 40


@pytest.mark.parametrize("seed", range(4))
def test_r2_reelection_and_rejoin(seed: int) -> None:
    """R2 (6.824 TestReElection2A): leaders come and go with the quorum, never two at once."""
    cluster = Cluster(3, seed=seed)
    leader1 = cluster.wait_leader()
    # 1. A new leader appears when the leader is disconnected.
    cluster.disconnect(leader1)
    leader2 = cluster.wait_leader()
    assert leader2 != leader1
    # 2. The old leader rejoins without creating a second leader.
    cluster.connect(leader1)
    cluster.run_for(2 * T_MAX)
    assert len(cluster.leaders()) == 1
    leader2 = cluster.wait_leader()
    # 3. No quorum: no leader after 2T.
    other = cluster.ids[(cluster.ids.index(leader2) + 1) % 3]
    cluster.disconnect(leader2)
    cluster.disconnect(other)
    cluster.run_for(2 * T_MAX)
    assert cluster.leader() is None
    # 4. A quorum again: a leader.
    cluster.connect(other)
    cluster.wait_leader()
    # 5. Everyone back: still exactly one leader.
    cluster.connect(leader2)
    cluster.run_for(2 * T_MAX)
    cluster.wait_leader()
    assert len(cluster.leaders()) == 1


@pytest.mark.parametrize("seed", range(3))
def test_r3_many_elections(seed: int) -> None:
    """R3 (6.824 TestManyElections2A): 7 nodes, 3 disconnected at a time: always a leader."""
    cluster = Cluster(7, seed=seed)
    rng = random.Random(seed)
    cluster.wait_leader()
    for _ in range(10):
        gone = rng.sample(cluster.ids, 3)
        for nid in gone:
            cluster.disconnect(nid)
        cluster.wait_leader()
        for nid in gone:
            cluster.connect(nid)
    cluster.wait_leader()
    # H1 was checked at every event; terms were used at most once each.
    assert len(cluster.checker.leaders) >= 1


@pytest.mark.parametrize(
    ("size", "dead", "config", "role", "term"),
    [
        pytest.param(3, [], CLASSIC, "leader", 1, id="3-none-dead"),
        pytest.param(3, ["n3"], CLASSIC, "leader", 1, id="3-one-dead"),
        pytest.param(3, ["n2", "n3"], CLASSIC, "candidate", 1, id="3-two-dead"),
        pytest.param(4, ["n2", "n3"], CLASSIC, "candidate", 1, id="4-two-dead"),
        pytest.param(5, ["n2", "n3"], CLASSIC, "leader", 1, id="5-two-dead"),
        pytest.param(3, ["n3"], RaftConfig(), "leader", 1, id="prevote-3-one-dead"),
        pytest.param(3, ["n2", "n3"], RaftConfig(), "pre_candidate", 0, id="prevote-3-two-dead"),
        pytest.param(4, ["n2", "n3"], RaftConfig(), "pre_candidate", 0, id="prevote-4-two-dead"),
        pytest.param(5, ["n2", "n3"], RaftConfig(), "leader", 1, id="prevote-5-two-dead"),
    ],
)
def test_r4_election_outcomes_with_black_holes(
    size: int, dead: list[str], config: RaftConfig, role: str, term: int
) -> None:
    """R4 (etcd TestLeaderElection[PreVote]): who wins with some peers replaced by black holes."""
    cluster = Cluster(size, config=config)
    for nid in dead:
        cluster.crash(nid)
    cluster.campaign("n1")
    cluster.settle()
    node = cluster.node("n1")
    assert (node.role, node.term) == (role, term)


@pytest.mark.parametrize("config", [CLASSIC, RaftConfig()], ids=["classic", "prevote"])
def test_r4_candidate_with_a_shorter_log_ends_up_follower(config: RaftConfig) -> None:
    """R4 (etcd TestLeaderElection, last row): 3 of 5 logs are further along; n1 loses."""
    storages = {
        "n2": voted(1, terms=[1]),
        "n3": voted(1, terms=[1]),
        "n4": voted(1, terms=[1, 1]),
    }
    cluster = Cluster(5, config=config, storages=storages)
    cluster.campaign("n1")
    cluster.settle()
    node = cluster.node("n1")
    assert (node.role, node.term) == ("follower", 1)


@pytest.mark.parametrize(
    ("size", "votes", "role"),
    [
        pytest.param(1, {}, "leader", id="1-node"),
        pytest.param(3, {"n2": True, "n3": True}, "leader", id="3-all"),
        pytest.param(3, {"n2": True}, "leader", id="3-majority"),
        pytest.param(5, {"n2": True, "n3": True, "n4": True, "n5": True}, "leader", id="5-all"),
        pytest.param(5, {"n2": True, "n3": True}, "leader", id="5-majority"),
        pytest.param(3, {"n2": False, "n3": False}, "follower", id="3-denied"),
        pytest.param(5, dict.fromkeys(["n2", "n3", "n4", "n5"], False), "follower", id="5-no"),
        pytest.param(5, {"n2": True, **dict.fromkeys(["n3", "n4", "n5"], False)}, "follower"),
        pytest.param(3, {}, "candidate", id="3-no-answer"),
        pytest.param(5, {"n2": True}, "candidate", id="5-one-granted"),
        pytest.param(5, {"n2": False, "n3": False}, "candidate", id="5-two-denied"),
        pytest.param(5, {}, "candidate", id="5-no-answer"),
    ],
)
def test_r4_election_in_one_rpc_round(size: int, votes: dict[str, bool], role: str) -> None:
    """R4 (etcd TestLeaderElectionInOneRoundRPC): win on a majority, lose on a majority of no."""
    node = lone_node(size, config=CLASSIC)
    node.campaign(0.0)
    for src, granted in votes.items():
        node.step(RequestVoteResponse(src=src, dst="n1", term=1, granted=granted), 0.0)
    assert (node.role, node.term) == (role, 1)


@pytest.mark.parametrize(
    ("votes", "role", "term"),
    [
        pytest.param({"n2": True}, "leader", 1, id="majority"),
        pytest.param({"n2": False, "n3": False}, "follower", 0, id="denied"),
        pytest.param({}, "pre_candidate", 0, id="no-answer"),
    ],
)
def test_r4_pre_vote_round_does_not_advance_the_term(
    votes: dict[str, bool], role: str, term: int
) -> None:
    """R4 with PreVote: the term moves only once a majority granted the pre-vote."""
    node = lone_node(3)
    node.campaign(0.0)
    assert (node.role, node.term) == ("pre_candidate", 0)
    requests = take(node)
    assert all(isinstance(m, RequestVote) and m.pre_vote and m.term == 1 for m in requests)
    for src, granted in votes.items():
        node.step(
            RequestVoteResponse(
                src=src, dst="n1", term=1 if granted else 0, granted=granted, pre_vote=True
            ),
            0.0,
        )
    if role == "leader":
        # The pre-vote won: a real campaign at term 1, which n2's vote wins.
        assert (node.role, node.term) == ("candidate", 1)
        node.step(RequestVoteResponse(src="n2", dst="n1", term=1, granted=True), 0.0)
    assert (node.role, node.term) == (role, term)


def test_r5_dueling_candidates() -> None:
    """R5 (etcd TestDuelingCandidates): n3's higher term disrupts, but its short log loses."""
    cluster = Cluster(3, config=CLASSIC)
    cluster.cut("n1", "n3")
    cluster.campaign("n1")
    cluster.settle()
    cluster.campaign("n3")
    cluster.settle()
    assert cluster.node("n1").role == "leader"
    assert cluster.node("n3").role == "candidate"
    cluster.heal()
    cluster.campaign("n3")
    cluster.settle()
    states = [(n.role, n.term, n.last_index) for n in cluster.alive()]
    assert states == [("follower", 2, 1), ("follower", 2, 1), ("follower", 2, 0)]


def test_r5_dueling_pre_candidates_leave_the_leader_alone() -> None:
    """R5 (etcd TestDuelingPreCandidates): with PreVote n3 never disrupts leader n1."""
    cluster = Cluster(3, config=RaftConfig(check_quorum=False))
    cluster.cut("n1", "n3")
    cluster.campaign("n1")
    cluster.settle()
    cluster.campaign("n3")
    cluster.settle()
    assert cluster.node("n3").role == "follower"
    cluster.heal()
    cluster.campaign("n3")
    cluster.settle()
    states = [(n.role, n.term, n.last_index) for n in cluster.alive()]
    assert states == [("leader", 1, 1), ("follower", 1, 1), ("follower", 1, 0)]


@pytest.mark.parametrize("config", [CLASSIC, RaftConfig()], ids=["classic", "prevote"])
def test_r6_election_overwrites_newer_uncommitted_logs(config: RaftConfig) -> None:
    """R6 (etcd TestLeaderElectionOverwriteNewerLogs): fail at term 2, win at 3, logs [t1, t3]."""
    storages = {
        "n1": voted(1, terms=[1]),
        "n2": voted(1, terms=[1]),
        "n3": voted(2, terms=[2]),
        "n4": voted(2, vote="n3"),
        "n5": voted(2, vote="n3"),
    }
    cluster = Cluster(5, config=config, storages=storages)
    cluster.campaign("n1")
    cluster.settle()
    n1 = cluster.node("n1")
    assert (n1.role, n1.term) == ("follower", 2)
    cluster.campaign("n1")
    cluster.settle()
    assert (n1.role, n1.term) == ("leader", 3)
    for node in cluster.alive():
        assert [e.term for e in node.log] == [1, 3]


@pytest.mark.parametrize(
    ("terms", "last_term", "last_index", "granted"),
    [
        pytest.param([1], 1, 1, True, id="same-term-same-length"),
        pytest.param([1], 1, 2, True, id="same-term-longer"),
        pytest.param([1, 1], 1, 1, False, id="same-term-shorter"),
        pytest.param([1], 2, 1, True, id="candidate-higher-term"),
        pytest.param([1], 2, 2, True, id="candidate-higher-term-longer"),
        pytest.param([1, 1], 2, 1, True, id="candidate-higher-term-shorter"),
        pytest.param([2], 1, 1, False, id="voter-higher-term"),
        pytest.param([2], 1, 2, False, id="voter-higher-term-shorter-candidate"),
        pytest.param([2, 1], 1, 1, False, id="voter-higher-term-mixed"),
    ],
)
def test_r6_voter_denies_a_less_up_to_date_candidate(
    terms: list[int], last_term: int, last_index: int, granted: bool
) -> None:
    """R6 (etcd TestVoter): grant iff (lastTerm, lastIndex) is not lexicographically smaller."""
    node = lone_node(2, config=CLASSIC, storage=MemoryStorage(log=log_of_terms(terms)))
    node.step(
        RequestVote(src="n2", dst="n1", term=3, last_log_index=last_index, last_log_term=last_term),
        0.0,
    )
    (response,) = take(node)
    assert isinstance(response, RequestVoteResponse)
    assert response.granted is granted
    assert node.voted_for == ("n2" if granted else None)


def test_bug4_term_bump_clears_the_vote() -> None:
    """Bug 4 (raftos validate_term): a node that voted in term 1 can vote again in term 2."""
    node = lone_node(3, config=CLASSIC, storage=voted(1, vote="n2"))
    node.step(RequestVote(src="n3", dst="n1", term=2, last_log_index=0, last_log_term=0), 0.0)
    (response,) = take(node)
    assert isinstance(response, RequestVoteResponse)
    assert response.granted
    assert (node.term, node.voted_for) == (2, "n3")


def test_bug4_one_vote_per_term() -> None:
    """Fig. 2: a node grants at most one vote per term (a repeat to the same candidate is fine)."""
    node = lone_node(3, config=CLASSIC)
    for src, expected in [("n2", True), ("n3", False), ("n2", True)]:
        node.step(RequestVote(src=src, dst="n1", term=1, last_log_index=0, last_log_term=0), 0.0)
        (response,) = take(node)
        assert isinstance(response, RequestVoteResponse)
        assert response.granted is expected


def test_bug7_stale_term_messages_are_ignored() -> None:
    """Bug 7 (etcd TestStepIgnoreOldTermMsg): a lower-term vote or answer changes nothing."""
    node = lone_node(3, config=CLASSIC, storage=voted(2))
    node.campaign(0.0)  # candidate at term 3
    take(node)
    # A grant from an older term must not count toward this election.
    node.step(RequestVoteResponse(src="n2", dst="n1", term=2, granted=True), 0.0)
    node.step(RequestVoteResponse(src="n3", dst="n1", term=1, granted=True), 0.0)
    assert (node.role, node.term) == ("candidate", 3)
    assert take(node) == []


def test_bug7_no_self_vote_after_the_election_was_lost() -> None:
    """Bug 7 (etcd TestCandidateSelfVoteAfterLostElection): late grants after losing do nothing."""
    node = lone_node(3, config=CLASSIC)
    node.campaign(0.0)
    take(node)
    node.step(_heartbeat(term=1), 1.0)
    assert (node.role, node.leader_id) == ("follower", "n2")
    node.step(RequestVoteResponse(src="n3", dst="n1", term=1, granted=True), 2.0)
    assert node.role == "follower"


@pytest.mark.parametrize("term", [1, 2], ids=["same-term", "higher-term"])
def test_bug8_candidate_falls_back_on_append_entries(term: int) -> None:
    """Bug 8 (etcd TestCandidateFallback): AppendEntries with term >= own makes a follower."""
    node = lone_node(3, config=CLASSIC)
    node.campaign(0.0)
    assert (node.role, node.term) == ("candidate", 1)
    node.step(
        AppendEntries(
            src="n2",
            dst="n1",
            term=term,
            prev_log_index=0,
            prev_log_term=0,
            entries=(),
            leader_commit=0,
        ),
        1.0,
    )
    assert (node.role, node.term, node.leader_id) == ("follower", term, "n2")


def _heartbeat(term: int, src: str = "n2") -> AppendEntries:
    return AppendEntries(
        src=src, dst="n1", term=term, prev_log_index=0, prev_log_term=0, entries=(), leader_commit=0
    )


def test_bug9_timer_resets_only_on_leader_contact_or_granted_vote() -> None:
    """Bug 9: stray messages do not push the election back; leader contact and a vote do."""
    node = lone_node(3, config=CLASSIC, storage=voted(2, vote="n2"))
    first = node.deadline()
    # A stale AppendEntries, a refused vote request and an unsolicited vote answer: no reset.
    node.step(_heartbeat(term=1), 10.0)
    node.step(RequestVote(src="n3", dst="n1", term=2, last_log_index=0, last_log_term=1), 20.0)
    node.step(RequestVoteResponse(src="n3", dst="n1", term=2, granted=True), 30.0)
    assert [getattr(m, "granted", None) for m in take(node)] == [False]
    assert node.deadline() == first
    # An AppendEntries from the current leader resets it (to a fresh random timeout).
    node.step(_heartbeat(term=2), 40.0)
    assert 40.0 + 150.0 <= node.deadline() < 40.0 + 300.0
    # So does granting a vote.
    node = lone_node(3, config=CLASSIC, storage=voted(2))
    node.step(RequestVote(src="n3", dst="n1", term=2, last_log_index=0, last_log_term=0), 50.0)
    assert node.voted_for == "n3"
    assert 50.0 + 150.0 <= node.deadline() < 50.0 + 300.0


def test_bug9_election_timeouts_are_randomised_per_reset() -> None:
    """Bug 9 (Fig. 16): every reset draws a new timeout in [150, 300) from the injected rng."""
    node = lone_node(3, config=CLASSIC, seed=7)
    timeouts = []
    for i in range(50):
        node.step(_heartbeat(term=1), float(i * 1000))
        timeouts.append(node.deadline() - i * 1000)
    assert all(150.0 <= t < 300.0 for t in timeouts)
    assert len(set(timeouts)) == 50
    # The same seed gives the same draws: the node takes randomness only from its rng.
    again = lone_node(3, config=CLASSIC, seed=7)
    assert again.deadline() == lone_node(3, config=CLASSIC, seed=7).deadline()


def test_late_votes_still_elect_a_candidate_back_in_pre_vote() -> None:
    """Deviation from etcd: votes for the node's own term that arrive after its timeout count."""
    node = lone_node(3)
    node.campaign(0.0)
    node.step(RequestVoteResponse(src="n2", dst="n1", term=1, granted=True, pre_vote=True), 0.0)
    assert (node.role, node.term) == ("candidate", 1)
    node.tick(node.deadline())  # no vote arrived in time: a new pre-vote round, same term
    assert (node.role, node.term) == ("pre_candidate", 1)
    node.step(RequestVoteResponse(src="n2", dst="n1", term=1, granted=True), 1.0)
    assert (node.role, node.term) == ("leader", 1)


def test_late_refusals_do_not_end_the_new_pre_vote_round() -> None:
    """A majority of late refusals for the old term leaves the pre-vote round running."""
    node = lone_node(5)
    node.campaign(0.0)
    for src in ("n2", "n3"):
        node.step(RequestVoteResponse(src=src, dst="n1", term=1, granted=True, pre_vote=True), 0.0)
    node.tick(node.deadline())
    assert (node.role, node.term) == ("pre_candidate", 1)
    for src in ("n2", "n3", "n4"):
        node.step(RequestVoteResponse(src=src, dst="n1", term=1, granted=False), 1.0)
    assert node.role == "pre_candidate"


def test_late_votes_of_an_older_term_do_not_count() -> None:
    """Without PreVote a timed-out candidate moves to a new term; older votes are stale."""
    node = lone_node(3, config=CLASSIC)
    node.campaign(0.0)
    node.tick(node.deadline())
    assert (node.role, node.term) == ("candidate", 2)
    node.step(RequestVoteResponse(src="n2", dst="n1", term=1, granted=True), 1.0)
    assert node.role == "candidate"


def test_a_lost_election_is_not_revived_by_late_votes() -> None:
    """Once a candidate lost its term (majority refused), late grants for it do nothing."""
    node = lone_node(5)
    node.campaign(0.0)
    for src in ("n2", "n3"):
        node.step(RequestVoteResponse(src=src, dst="n1", term=1, granted=True, pre_vote=True), 0.0)
    for src in ("n2", "n3", "n4"):
        node.step(RequestVoteResponse(src=src, dst="n1", term=1, granted=False), 0.0)
    assert (node.role, node.term) == ("follower", 1)
    node.tick(node.deadline())
    assert node.role == "pre_candidate"
    node.step(RequestVoteResponse(src="n5", dst="n1", term=1, granted=True), 1.0)
    assert (node.role, node.term) == ("pre_candidate", 1)

"""6.824's ``TestFigure8Unreliable2C`` on the pure harness (R14), callable from the benchmark,
and the paper's Figure 8 as a targeted schedule (:func:`run_figure8_targeted`): random
schedules never produced that interleaving in 2,600 seeds.

Five nodes on an unreliable network with labrpc's parameters: requests delayed 0-26 ms, 10% of
requests and 10% of replies dropped, and from iteration 200 on "long reordering": about 2/3 of
replies delayed 200-2200 ms. Each iteration proposes on every node, sleeps 0-13 ms (10% of the
time up to T/2), disconnects the leader with probability (T/2)/1000 and reconnects a random
node while fewer than 3 are up; T is the tester's election timeout, 1000 ms in 6.824. The
harness checks H1-H4 after every event; at the end every node is reconnected and a final
command must commit on all 5 within 10 s.
"""

from __future__ import annotations

import random
import time
from typing import Any

from mabeam.protocols.consensus.raft import (
    AppendEntries,
    NotLeaderError,
    RaftConfig,
    RaftMessage,
    RaftNode,
    RequestVote,
)

from .raft import Cluster

TESTER_ELECTION_TIMEOUT_MS = 1_000
"""6.824's ``RaftElectionTimeout``: the tester's T, used for the sleeps and disconnects."""


def _labrpc_delay(long_reordering: list[bool]) -> Any:
    def delay(message: RaftMessage, rng: random.Random) -> float:
        if isinstance(message, RequestVote | AppendEntries):
            return float(rng.randrange(27))
        if long_reordering[0] and rng.randrange(900) < 600:
            return float(200 + rng.randrange(1 + rng.randrange(2000)))
        return 0.0

    return delay


def run_figure8(iterations: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Run the scenario; raises on any safety violation; returns counts and wall time."""
    started = time.perf_counter()
    servers = 5
    cluster = Cluster(servers, seed=seed)
    rng = random.Random(seed)
    long_reordering = [False]
    cluster.delay_fn = _labrpc_delay(long_reordering)
    cluster.drop_rate = 0.1
    half_t = TESTER_ELECTION_TIMEOUT_MS // 2
    cluster.one(rng.randrange(10_000), 1)
    up = servers
    proposals = 0
    for iteration in range(iterations):
        if iteration == 200:
            long_reordering[0] = True
        leader = None
        for nid in cluster.ids:
            try:
                cluster.propose(nid, rng.randrange(10_000))
            except NotLeaderError:
                continue
            proposals += 1
            if nid not in cluster.down:
                leader = nid
        if rng.randrange(1000) < 100:
            cluster.run_for(float(rng.randrange(half_t)))
        else:
            cluster.run_for(float(rng.randrange(13)))
        if leader is not None and rng.randrange(1000) < half_t:
            cluster.disconnect(leader)
            up -= 1
        if up < 3:
            target = cluster.ids[rng.randrange(servers)]
            if target in cluster.down:
                cluster.connect(target)
                up += 1
    cluster.heal()
    before_final = cluster.now
    final_index = cluster.one(rng.randrange(10_000), servers, timeout_ms=10_000.0)
    cluster.check_logs(complete=True)
    return {
        "iterations": iterations,
        "seed": seed,
        "wall_s": round(time.perf_counter() - started, 3),
        "virtual_s": round(cluster.now / 1000.0, 3),
        "final_commit_ms": round(cluster.now - before_final, 1),
        "final_index": final_index,
        "proposals_accepted": proposals,
        "committed_entries": cluster.checker.max_committed,
        "terms": max(node.term for node in cluster.alive()),
        "leaders_elected": len(cluster.checker.leaders),
        "messages_sent": cluster.messages_sent(),
        "messages_delivered": cluster.delivered,
        "events": cluster.events,
    }


def run_figure8_crashes(iterations: int = 1000, seed: int = 0) -> dict[str, Any]:
    """6.824's ``TestFigure82C`` (R13/R12): a reliable network, but every leader crashes.

    Each iteration proposes on every running node, sleeps as above, crashes the leader if
    one accepted, and restarts a random crashed node while fewer than 3 run; a final
    command must then commit on all 5.
    """
    started = time.perf_counter()
    servers = 5
    cluster = Cluster(servers, seed=seed)
    rng = random.Random(seed)
    half_t = TESTER_ELECTION_TIMEOUT_MS // 2
    cluster.one(rng.randrange(10_000), 1)
    up = servers
    crashes = 0
    for _ in range(iterations):
        leader = None
        for nid in cluster.ids:
            if cluster.nodes[nid] is None:
                continue
            try:
                cluster.propose(nid, rng.randrange(10_000))
            except NotLeaderError:
                continue
            leader = nid
        if rng.randrange(1000) < 100:
            cluster.run_for(float(rng.randrange(half_t)))
        else:
            cluster.run_for(float(rng.randrange(13)))
        if leader is not None:
            cluster.crash(leader)
            crashes += 1
            up -= 1
        if up < 3:
            target = cluster.ids[rng.randrange(servers)]
            if cluster.nodes[target] is None:
                cluster.restart(target)
                up += 1
    for nid in cluster.ids:
        if cluster.nodes[nid] is None:
            cluster.restart(nid)
    final_index = cluster.one(rng.randrange(10_000), servers, timeout_ms=10_000.0)
    cluster.check_logs(complete=True)
    return {
        "iterations": iterations,
        "seed": seed,
        "wall_s": round(time.perf_counter() - started, 3),
        "virtual_s": round(cluster.now / 1000.0, 3),
        "crashes": crashes,
        "final_index": final_index,
        "committed_entries": cluster.checker.max_committed,
        "leaders_elected": len(cluster.checker.leaders),
    }


FIGURE8_CONFIG = RaftConfig(pre_vote=False, check_quorum=False, max_entries_per_message=1)
"""Elections by hand only (no timer ever fires: every step is campaign + settle)."""


def _elect(cluster: Cluster, nid: str, attempts: int = 4) -> None:
    """Campaign at ``nid`` (raising its term each time) until it leads."""
    for _ in range(attempts):
        cluster.campaign(nid)
        cluster.settle()
        if cluster.node(nid).role == "leader":
            return
    raise AssertionError(f"{nid} did not win ({cluster.roles()})")


def run_figure8_targeted(
    *, safe_ending: bool = False, node_class: type[RaftNode] = RaftNode
) -> dict[str, Any]:
    """The extended paper's Figure 8, step by step, on 5 nodes (S1..S5 = n1..n5).

    (a) n1 leads term 1 and replicates "x" at index 2 to n2 only. (b) n1 crashes; n5 wins
    term 2 with n3 and n4 and appends its no-op at index 2 on itself only, then crashes.
    (c) n1 restarts, wins term 3 with n2 and n3, and gets "x" (term 1) onto n3: index 2
    is now on a majority, but its own no-op (index 3, term 3) on n3 is held back. A leader
    that commits by counting replicas of an old-term entry commits "x" here. (d) n1
    crashes; n5 restarts and wins term 4 with n3 and n4 (its last term, 2, beats their 1),
    so it overwrites index 2: "x" must never have been applied anywhere (H2). With
    ``safe_ending`` (e) instead n1's no-op reaches a majority: it commits "x" and n5
    cannot win. Returns what happened; raises :class:`SafetyViolation` on a violation.
    """
    cluster = Cluster(5, seed=0, config=FIGURE8_CONFIG, node_class=node_class)
    _elect(cluster, "n1")
    # (a)
    cluster.partition(["n1", "n2"], ["n3", "n4", "n5"])
    cluster.propose("n1", "x")
    cluster.settle()
    # (b)
    cluster.crash("n1")
    cluster.filter = lambda m: not (isinstance(m, AppendEntries) and m.src == "n5")
    _elect(cluster, "n5")
    cluster.crash("n5")
    cluster.filter = None
    # (c)
    cluster.restart("n1")
    cluster.heal()
    cluster.partition(["n1", "n2", "n3"], ["n4"], ["n5"])

    def hold_back_own_term(message: RaftMessage) -> bool:
        n3_has_x = cluster.nodes["n3"] is not None and cluster.node("n3").last_index >= 2
        own = isinstance(message, AppendEntries) and any(
            entry.term == message.term for entry in message.entries
        )
        return not (own and message.dst == "n3" and n3_has_x)

    cluster.filter = hold_back_own_term
    _elect(cluster, "n1")
    leader_term = cluster.node("n1").term
    cluster.tick_node("n1")  # a heartbeat: probes and back-off bring "x" to n3
    cluster.settle()
    assert cluster.node("n3").term_at(2) == 1, "x did not reach n3"
    x_committed_in_c = cluster.node("n1").commit_index >= 2
    if safe_ending:
        # (e) the no-op of term 3 reaches n3: "x" commits with it, n5 can never win.
        cluster.filter = None
        cluster.tick_node("n1")
        cluster.settle()
        cluster.crash("n1")
        cluster.restart("n5")
        cluster.heal()
        cluster.partition(["n2", "n3", "n4", "n5"], ["n1"])
        for _ in range(3):
            cluster.campaign("n5")
            cluster.settle()
        n5_won = cluster.node("n5").role == "leader"
    else:
        # (d)
        cluster.filter = None
        cluster.crash("n1")
        cluster.restart("n5")
        cluster.heal()
        cluster.partition(["n2", "n3", "n4", "n5"], ["n1"])
        _elect(cluster, "n5")
        cluster.tick_node("n5")
        cluster.settle()
        n5_won = True
    cluster.heal()
    for nid in cluster.ids:
        if cluster.nodes[nid] is None:
            cluster.restart(nid)
    last = cluster.one("final", 5)
    cluster.check_logs(complete=True)
    return {
        "leader_term_c": leader_term,
        "x_committed_in_c": x_committed_in_c,
        "n5_won": n5_won,
        "index2": cluster.applied_data(2),
        "final_index": last,
    }

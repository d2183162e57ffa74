"""6.824's ``TestFigure8Unreliable2C`` on the pure harness (R14), callable from the benchmark.

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
    RaftMessage,
    RequestVote,
)

from ._harness import Cluster

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

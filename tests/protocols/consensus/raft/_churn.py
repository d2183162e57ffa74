"""6.824's churn tests (R18) and a randomized fault-schedule checker, on the pure harness.

Clients are generators that yield how long they sleep, so they run on the harness's virtual
clock between fault events.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from mabeam.protocols.consensus.raft import NotLeaderError, RaftConfig
from mabeam.testing.raft import Cluster


@dataclass
class _Client:
    """6.824's churn client: propose on every node, then poll for the commit a few times."""

    me: int
    cluster: Cluster
    rng: random.Random
    stop: bool = False
    seen: list[int] = field(default_factory=list)

    def run(self) -> Iterator[float]:
        cluster = self.cluster
        while not self.stop:
            x = self.rng.randrange(2**40)
            index = 0
            for nid in cluster.ids:
                if cluster.nodes[nid] is None:
                    continue
                try:
                    index = cluster.propose(nid, x)
                except NotLeaderError:
                    continue
            if not index:
                yield 79.0 + self.me * 17
                continue
            for wait in (10.0, 20.0, 50.0, 100.0, 200.0):
                if index in cluster.checker.committed:
                    entry = cluster.checker.committed[index]
                    if entry.data == x:
                        self.seen.append(x)
                        cluster.checker.acked[index] = entry
                    break
                yield wait


def _run_with_clients(cluster: Cluster, clients: list[_Client], ms: float) -> None:
    """Advance ``ms`` of virtual time, waking each client when its sleep ends."""
    end = cluster.now + ms
    wakes = [(cluster.now, i) for i in range(len(clients))]
    runs = [client.run() for client in clients]
    while True:
        wakes.sort()
        at, i = wakes[0]
        if at >= end:
            break
        cluster.run_for(at - cluster.now)
        try:
            wakes[0] = (cluster.now + next(runs[i]), i)
        except StopIteration:
            wakes[0] = (float("inf"), i)
    cluster.run_for(end - cluster.now)


def run_churn(
    seed: int, *, unreliable: bool, rounds: int = 20, t_ms: float = 300.0
) -> dict[str, Any]:
    """R18: 5 nodes, 3 clients, ``rounds`` rounds of disconnect / restart / crash every 0.7 T.

    Returns counts; raises on any violation of H1-H5 (H5: every value a client saw
    committed is in every final log).
    """
    servers = 5
    cluster = Cluster(servers, seed=seed)
    rng = random.Random(seed)
    if unreliable:
        cluster.drop_rate = 0.1
        cluster.delay = (0.0, 26.0)
    clients = [_Client(me, cluster, random.Random(f"{seed}/client/{me}")) for me in range(3)]
    for _ in range(rounds):
        if rng.randrange(1000) < 200:
            cluster.disconnect(cluster.ids[rng.randrange(servers)])
        if rng.randrange(1000) < 500:
            nid = cluster.ids[rng.randrange(servers)]
            if cluster.nodes[nid] is None:
                cluster.restart(nid)
            cluster.connect(nid)
        if rng.randrange(1000) < 200:
            nid = cluster.ids[rng.randrange(servers)]
            if cluster.nodes[nid] is not None:
                cluster.crash(nid)
        _run_with_clients(cluster, clients, 0.7 * t_ms)
    _run_with_clients(cluster, clients, t_ms)
    cluster.drop_rate = 0.0
    cluster.delay = (1.0, 3.0)
    for nid in cluster.ids:
        if cluster.nodes[nid] is None:
            cluster.restart(nid)
        cluster.connect(nid)
    for client in clients:
        client.stop = True
    _run_with_clients(cluster, clients, t_ms)
    last = cluster.one(rng.randrange(2**40), servers)
    assert cluster.run_until(lambda: cluster.n_applied(last) == servers, 10_000.0)
    cluster.check_logs(complete=True)
    final = {cluster.applied_data(i) for i in range(1, last + 1)}
    seen = [x for client in clients for x in client.seen]
    missing = [x for x in seen if x not in final]
    assert not missing, f"H5: values seen committed but not in the final log: {missing}"
    return {"seed": seed, "acknowledged": len(seen), "final_index": last}


def run_random_schedule(
    seed: int, steps: int = 40, *, snapshots: bool = False, reads: bool = False
) -> dict[str, Any]:
    """One random fault schedule: H1-H4 after every event, H5 and Log Matching at the end.

    The cluster size (3 or 5), PreVote and CheckQuorum are drawn from the seed; each step is
    one of: crash, restart, disconnect, reconnect, partition into two groups, heal, change the
    loss / duplication / delay rates, propose (on the leader or on any node), and let
    10-500 ms pass. At the end every fault is lifted and one last write must reach every node.

    With ``snapshots`` every node also compacts every 2-12 applied entries and snapshots go
    in chunks of 4-40 bytes, so nodes that fell behind catch up by InstallSnapshot (in
    several chunks, lost, duplicated and reordered like the rest) during the faults.

    With ``reads`` every step also asks a random node for a ReadIndex read (lease reads in
    half the seeds that run CheckQuorum); the harness fails a read served at an index below
    what was committed when it was asked (a stale read).
    """
    rng = random.Random(seed)
    servers = rng.choice((3, 5))
    config = RaftConfig(pre_vote=rng.random() < 0.7, check_quorum=rng.random() < 0.7)
    every = 0
    if snapshots:
        every = rng.randrange(2, 13)
        config = RaftConfig(
            pre_vote=config.pre_vote,
            check_quorum=config.check_quorum,
            snapshot_chunk_bytes=rng.randrange(4, 41),
        )
    if reads and config.check_quorum and rng.random() < 0.5:
        config = RaftConfig(
            pre_vote=config.pre_vote,
            check_quorum=True,
            snapshot_chunk_bytes=config.snapshot_chunk_bytes,
            lease_reads=True,
        )
    cluster = Cluster(servers, seed=seed, config=config, snapshot_every=every)
    asked = 0
    proposals = 0
    for _ in range(steps):
        action = rng.randrange(13)
        nid = cluster.ids[rng.randrange(servers)]
        if action == 0:
            cluster.crash(nid)
        elif action == 1:
            cluster.restart(nid)
        elif action == 2:
            cluster.disconnect(nid)
        elif action == 3:
            cluster.connect(nid)
        elif action == 4:
            shuffled = rng.sample(cluster.ids, servers)
            cut = rng.randrange(1, servers)
            cluster.heal()
            cluster.partition(shuffled[:cut], shuffled[cut:])
        elif action == 5:
            cluster.heal()
        elif action == 6:
            cluster.drop_rate = rng.choice((0.0, 0.05, 0.2, 0.4))
            cluster.duplicate_rate = rng.choice((0.0, 0.1, 0.3))
            low = rng.uniform(0.0, 5.0)
            cluster.delay = (low, low + rng.choice((0.0, 5.0, 40.0, 200.0)))
        elif action in (7, 8, 9):
            target = cluster.leader() if action != 9 else nid
            for _ in range(rng.randrange(1, 4)):
                if target is None or cluster.nodes[target] is None:
                    break
                try:
                    cluster.propose(target, f"s{seed}-{proposals}")
                except NotLeaderError:
                    break
                proposals += 1
        if reads:
            reader = cluster.ids[rng.randrange(servers)]
            if cluster.nodes[reader] is not None:
                with contextlib.suppress(NotLeaderError):
                    cluster.read(reader, asked)
                asked += 1
        cluster.run_for(rng.uniform(10.0, 500.0))
        if rng.random() < 0.1:
            cluster.check_logs()
    cluster.heal()
    cluster.drop_rate = cluster.duplicate_rate = 0.0
    cluster.delay = (1.0, 3.0)
    for nid in cluster.ids:
        if cluster.nodes[nid] is None:
            cluster.restart(nid)
    last = cluster.one(f"s{seed}-final", servers)
    cluster.check_logs(complete=True)
    return {
        "seed": seed,
        "servers": servers,
        "proposals": proposals,
        "final_index": last,
        "leaders": len(cluster.checker.leaders),
        "events": cluster.events,
        "snapshots_taken": cluster.snapshots_taken,
        "snapshots_loaded": cluster.checker.snapshots_loaded,
        "snapshot_chunks": cluster.sent["InstallSnapshot"],
        "reads_served": len(cluster.reads_served),
        "lease_reads": config.lease_reads,
    }

"""Randomized membership changes under crashes, loss and partitions, on the pure harness.

Each schedule starts 3 nodes and mixes the fault steps of the random checker with adding
nodes (a new empty node, then ``add_learner``, later ``promote``) and removing members (the
leader too). The harness checks H1-H4 after every event — one leader per term across every
configuration — and at the end, with faults lifted and removed nodes shut down, one last
write must reach every member and every acknowledged write must be in every member's log.
"""

from __future__ import annotations

import contextlib
import random
from typing import Any

from mabeam.protocols.consensus.raft import NotLeaderError, RaftConfig, RaftNode
from mabeam.protocols.consensus.raft.node import MembershipChangeError
from mabeam.testing.raft import Cluster


def run_membership_schedule(
    seed: int,
    steps: int = 60,
    *,
    snapshots: bool = False,
    node_class: type[RaftNode] = RaftNode,
) -> dict[str, Any]:
    """One random schedule of membership changes and faults; returns counts."""
    rng = random.Random(seed)
    config = RaftConfig(
        pre_vote=rng.random() < 0.7,
        check_quorum=rng.random() < 0.7,
        snapshot_chunk_bytes=rng.randrange(4, 41),
    )
    every = rng.randrange(3, 15) if snapshots else 0
    cluster = Cluster(3, seed=seed, config=config, snapshot_every=every, node_class=node_class)
    next_id = 4
    changes = {"proposed": 0, "refused": 0}
    proposals = 0
    for _ in range(steps):
        action = rng.randrange(16)
        nid = cluster.ids[rng.randrange(len(cluster.ids))]
        leader = cluster.leader()
        if action == 0:
            cluster.crash(nid)
        elif action == 1:
            cluster.restart(nid)
        elif action == 2:
            cluster.disconnect(nid)
        elif action == 3:
            cluster.connect(nid)
        elif action == 4:
            shuffled = rng.sample(cluster.ids, len(cluster.ids))
            cut = rng.randrange(1, len(shuffled))
            cluster.heal()
            cluster.partition(shuffled[:cut], shuffled[cut:])
        elif action == 5:
            cluster.heal()
        elif action == 6:
            cluster.drop_rate = rng.choice((0.0, 0.05, 0.2))
            cluster.duplicate_rate = rng.choice((0.0, 0.1))
            low = rng.uniform(0.0, 5.0)
            cluster.delay = (low, low + rng.choice((0.0, 5.0, 40.0)))
        elif action in (7, 8, 9) and leader is not None:
            for _ in range(rng.randrange(1, 4)):
                with contextlib.suppress(NotLeaderError):
                    cluster.propose(leader, f"m{seed}-{proposals}")
                    proposals += 1
        elif action in (10, 11, 12, 13, 14, 15) and leader is not None:
            membership = cluster.node(leader).membership
            if action in (10, 11) and len(membership.voters) + len(membership.learners) < 6:
                target = f"n{next_id}"
                next_id += 1
                cluster.add_member(target)
                change = "add_learner"
            elif action in (12, 13) and membership.learners:
                target = rng.choice(membership.learners)
                change = "promote"
            elif action in (14, 15) and len(membership.voters) > 1:
                target = rng.choice((*membership.voters, *membership.learners))
                change = "remove"
            else:
                target = ""
                change = ""
            if change:
                try:
                    cluster.change(leader, change, target)
                    changes["proposed"] += 1
                except (NotLeaderError, MembershipChangeError):
                    changes["refused"] += 1
        cluster.run_for(rng.uniform(10.0, 400.0))
        if rng.random() < 0.1:
            cluster.check_logs()
    # Lift the faults, restart everyone, let a leader settle, shut down removed nodes.
    cluster.heal()
    cluster.drop_rate = cluster.duplicate_rate = 0.0
    cluster.delay = (1.0, 3.0)
    for nid in cluster.ids:
        if cluster.nodes[nid] is None:
            cluster.restart(nid)
    leader = cluster.wait_leader(10_000.0)
    cluster.run_for(500.0)
    leader = cluster.wait_leader(10_000.0)
    membership = cluster.node(leader).membership
    members = {*membership.voters, *membership.learners}
    for nid in cluster.ids:
        if nid not in members and cluster.nodes[nid] is not None:
            cluster.crash(nid)
    last = cluster.one(f"m{seed}-final", len(members), timeout_ms=20_000.0)
    cluster.check_logs(complete=True)
    return {
        "seed": seed,
        "members": sorted(members),
        "voters": len(membership.voters),
        "nodes_ever": len(cluster.ids),
        "final_index": last,
        "leaders": len(cluster.checker.leaders),
        **changes,
    }

"""The randomized fault checker: safety always, liveness within a stated bound once faults
heal (Castro & Liskov §4.4-§4.5, the issue "PBFT keeps going after faults").

Each seed draws a schedule on the in-memory harness (n = 4 or 7, virtual time):

- up to f *faulty* replicas: each byzantine (a behaviour of :mod:`..byzantine`) or
  crash-prone (it crashes and restarts at random, empty or from its persisted checkpoint);
  every other replica is correct throughout;
- for ``CHAOS_MS`` of virtual time: message loss up to 30%, duplication up to 10%,
  latency 0.5..(up to 40) ms (so reordering), random symmetric partitions that come and
  go, crashes and restarts of the crash-prone replicas, and a client pipelining requests;
- then the faults heal: no loss, duplication or partition, crashed replicas restart
  (byzantine ones stay byzantine), and one new request is submitted.

Safety is checked after every event (no two correct replicas execute different batches at
one sequence number, none executes one twice or out of order). Liveness: the new request,
and every request before it, completes within ``BOUND_MS`` of virtual time after healing.
The bound: a view-change timeout doubles per failed view and is capped at 2^6 x 100 ms =
6.4 s; after healing at most one capped timeout plus a view change of two rounds (to the
next correct primary, n = 7: possibly twice) and state transfer are needed: 15 s.
"""

from __future__ import annotations

import random

import pytest

from mabeam.protocols.consensus.kv import Add
from mabeam.protocols.consensus.pbft import PbftConfig, faults_tolerated
from mabeam.protocols.consensus.pbft.byzantine import BEHAVIORS
from mabeam.testing.pbft import Net

CHAOS_MS = 1_500.0
BOUND_MS = 15_000.0


def run_schedule(seed: int, n: int) -> float:
    """One randomized schedule; returns the virtual ms from healing to the new request's
    completion (raises if unsafe, or if it takes longer than ``BOUND_MS``)."""
    rng = random.Random(seed)
    f = faults_tolerated(n)
    net = Net(
        n,
        seed=seed,
        latency=(0.5, rng.choice([1.0, 5.0, 20.0, 40.0])),
        retransmit_ms=150,
        persist=rng.random() < 0.5,
        config=PbftConfig(
            checkpoint_interval=rng.choice([2, 4, 10]),
            view_change_timeout_ms=100,
            batch_max=rng.choice([1, 4]),
        ),
    )
    faulty = rng.sample(net.ids, rng.randint(0, f))
    crash_prone = []
    for rid in faulty:
        behavior = rng.choice([*BEHAVIORS, "crash", "crash"])
        if behavior == "crash":
            crash_prone.append(rid)
        else:
            net.make_byzantine(rid, behavior)
    net.drop_rate = rng.uniform(0.0, 0.3)
    net.dup_rate = rng.uniform(0.0, 0.1)
    end = net.now + CHAOS_MS
    while net.now < end:
        event = rng.random()
        if event < 0.15 and crash_prone:
            rid = rng.choice(crash_prone)
            if rid in net.crashed:
                net.restart(rid)
            else:
                net.crash(rid)
        elif event < 0.25:
            shuffled = net.ids[:]
            rng.shuffle(shuffled)
            cut = rng.randint(1, n - 1)
            net.partition(set(shuffled[:cut]), set(shuffled[cut:]))
        elif event < 0.35:
            net.groups = None
        elif event < 0.4:
            net.drop_rate = rng.uniform(0.0, 0.3)
        else:
            for _ in range(rng.randint(1, 3)):
                net.submit(Add("k", 1))
        net.run_for(rng.uniform(5, 80))
    net.heal()
    for rid in sorted(net.crashed):
        net.restart(rid)
    healed = net.now
    timestamp = net.submit(Add("k", 1))
    done = net.run_until(net.done, BOUND_MS)
    assert done, f"seed {seed} n {n}: stuck {BOUND_MS} ms after healing"
    elapsed = net.now - healed
    results = net.results["c"]
    # Every request executed exactly once (pipelined requests may execute in any order).
    assert sorted(results.values()) == list(range(1, len(results) + 1)), f"seed {seed}"
    assert timestamp in results
    net.check_all()
    return elapsed


@pytest.mark.parametrize("n", [4, 7])
def test_randomized_liveness_fast(n: int) -> None:
    """A fast count of the checker (the slow suite runs thousands)."""
    worst = max(run_schedule(seed, n) for seed in range(6 if n == 4 else 2))
    assert worst <= BOUND_MS


@pytest.mark.slow
@pytest.mark.parametrize("chunk", range(40))
def test_randomized_liveness_many_n4(chunk: int) -> None:
    """2,000 seeds of n = 4 (40 chunks of 50): 0 stuck, 0 unsafe."""
    for seed in range(10_000 + chunk * 50, 10_000 + (chunk + 1) * 50):
        run_schedule(seed, 4)


@pytest.mark.slow
@pytest.mark.parametrize("chunk", range(50))
def test_randomized_liveness_many_n7(chunk: int) -> None:
    """1,000 seeds of n = 7 (50 chunks of 20): 0 stuck, 0 unsafe."""
    for seed in range(20_000 + chunk * 20, 20_000 + (chunk + 1) * 20):
        run_schedule(seed, 7)

"""PBFT properties: the quorum intersection over n = 4..10, garbage never crashes a replica,
and the randomized fault-schedule checker (crashes, loss, delay, byzantine on <= f)."""

from __future__ import annotations

import itertools
import random

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mabeam.protocols.consensus.kv import Add
from mabeam.protocols.consensus.pbft import (
    Checkpoint,
    Commit,
    Keyring,
    NewView,
    PbftConfig,
    PbftReplica,
    Prepare,
    PrePrepare,
    Request,
    ViewChange,
    faults_tolerated,
    quorum,
)
from mabeam.protocols.consensus.pbft.byzantine import BEHAVIORS
from mabeam.protocols.consensus.pbft.messages import Help, Status
from mabeam.testing.pbft import Net


@pytest.mark.parametrize("n", range(4, 11))
def test_quorum_property(n: int) -> None:
    """Any two quorums share a correct replica whatever f replicas are faulty; a quorum of
    correct replicas exists with f faulty (q <= n - f); for n = 3f + 1, q = 2f + 1."""
    f = faults_tolerated(n)
    q = quorum(n)
    assert q <= n - f
    if n == 3 * f + 1:
        assert q == 2 * f + 1
    quorums = [frozenset(c) for c in itertools.combinations(range(n), q)]
    for a in quorums:
        for b in quorums:
            # >= f + 1 shared: whichever f replicas are faulty, one shared replica is correct.
            assert len(a & b) >= f + 1
    # 2f + 1 is not enough when n != 3f + 1: two quorums could share only a faulty replica.
    if n in (5, 6):
        assert 2 * (2 * f + 1) - n <= f
    if n == 6:
        assert q == 4
        assert 2 * f + 1 == 3


def test_mac_is_the_last_field() -> None:
    """auth.canonical() covers every field but the last: the MAC (a request's authenticator)."""
    from mabeam.protocols.consensus.pbft import Reply

    for kind in (PrePrepare, Prepare, Commit, Checkpoint, ViewChange, NewView, Reply, Status, Help):
        assert kind.__struct_fields__[-1] == "mac"
    assert Request.__struct_fields__[-1] == "auth"


_FIELDS = st.one_of(
    st.none(), st.integers(-3, 300), st.text(max_size=4), st.binary(max_size=4), st.floats()
)


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(
        [PrePrepare, Prepare, Commit, Checkpoint, ViewChange, NewView, Request, Status, Help]
    ),
    values=st.lists(_FIELDS, min_size=9, max_size=9),
    src=st.sampled_from(["r0", "r2", "r9", "c"]),
)
def test_garbage_never_crashes_a_replica(kind: type, values: list[object], src: str) -> None:
    """Any struct with nonsense fields, from any sender, is counted and dropped."""
    keyring = Keyring(1)
    replica = PbftReplica("r1", ["r0", "r1", "r2", "r3"], keyring)
    fields = list(kind.__struct_fields__)
    args = dict(zip(fields, values, strict=False))
    if "src" in args:
        args["src"] = src
    if "dst" in args:
        args["dst"] = "r1"
    message = kind(**args)
    with_mac = message
    if "mac" in fields:
        try:
            with_mac = keyring.seal(message)
        except (TypeError, ValueError, msgspec.EncodeError):
            with_mac = message
    for candidate in (message, with_mac, values, None, "junk"):
        replica.step(candidate, 1.0)
    assert replica.last_executed == 0
    assert sum(replica.dropped.values()) >= 3


def test_random_behavior_garbage_is_counted() -> None:
    """A replica spewing garbage: correct replicas count it and work on."""
    net = Net(4, seed=5)
    net.make_byzantine("r3", "random")
    for _ in range(5):
        net.submit(Add("k", 1))
    assert net.run_until(net.done)
    dropped = {k: v for r in net.correct() for k, v in net.replicas[r].dropped.items()}
    assert dropped


def _random_run(seed: int, n: int, requests: int) -> None:
    rng = random.Random(seed)
    f = faults_tolerated(n)
    net = Net(
        n,
        seed=seed,
        latency=(0.5, rng.choice([1.0, 5.0, 20.0])),
        drop_rate=rng.choice([0.0, 0.02, 0.1]),
        retransmit_ms=150,
        config=PbftConfig(checkpoint_interval=rng.choice([2, 5, 100]), view_change_timeout_ms=100),
    )
    faulty = rng.sample(net.ids, rng.randint(0, f))
    behaviors = []
    for rid in faulty:
        behavior = rng.choice([*BEHAVIORS, "crash"])
        behaviors.append(behavior)
        if behavior == "crash":
            net.crash(rid)
        else:
            net.make_byzantine(rid, behavior)
    for i in range(requests):
        net.submit(Add("k", 1))
        net.run_for(rng.uniform(0, 30))
        if i == requests // 2:
            net.drop_rate = 0.0  # eventually reliable
    net.drop_rate = 0.0
    assert net.run_until(net.done, 60_000), f"seed {seed}: no liveness"
    results = sorted(net.results["c"].values())
    assert results == list(range(1, requests + 1)), f"seed {seed}: {results}"
    net.check_all()
    if "random" not in behaviors:
        # Only garbage is malformed: a well-formed message never trips a replica's guard.
        for rid in net.correct():
            assert "malformed" not in net.replicas[rid].dropped, (seed, rid)


def test_randomized_schedules() -> None:
    """Safety always, liveness once the network is reliable, over 120 seeds (n = 4 and 7)."""
    for seed in range(120):
        _random_run(seed, 4 if seed % 3 else 7, 6)


@pytest.mark.slow
@pytest.mark.parametrize("chunk", range(15))
def test_randomized_schedules_many(chunk: int) -> None:
    """The same over 1,500 seeds (15 chunks of 100), n = 4, 5 and 7, longer runs."""
    for seed in range(1000 + 100 * chunk, 1100 + 100 * chunk):
        _random_run(seed, (4, 5, 7)[seed % 3], 12)

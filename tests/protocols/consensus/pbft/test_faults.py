"""PBFT under faults: the scenarios of Castro & Liskov §4 (P2..P10)."""

from __future__ import annotations

import pytest

from mabeam.protocols.consensus.kv import Add, Put
from mabeam.protocols.consensus.pbft import PbftConfig, PrePrepare
from mabeam.testing.pbft import Net


def _all_execute(net: Net, count: int) -> bool:
    return all(net.replicas[r].last_executed >= count for r in net.correct())


def test_p2_f_crashed_backups() -> None:
    """P2: with f backups crashed (n = 4: one; n = 7: two) requests still complete."""
    for n, crashed in ((4, ["r3"]), (7, ["r5", "r6"])):
        net = Net(n)
        for rid in crashed:
            net.crash(rid)
        stamps = [net.submit(Add("k", 1)) for _ in range(3)]
        assert net.run_until(net.done)
        assert [net.results["c"][t] for t in stamps] == [1, 2, 3]
        assert all(net.replicas[r].view == 0 for r in net.correct())


@pytest.mark.parametrize("behavior", ["wrong_digest", "equivocate", "forge_sender", "random"])
def test_p3_f_byzantine_backups(behavior: str) -> None:
    """P3: f byzantine backups (conflicting digests, forged senders, garbage) change nothing:
    correct replicas agree, the client accepts the right results, no view change."""
    for n, bad in ((4, ["r1"]), (7, ["r2", "r5"])):
        net = Net(n, seed=3)
        for rid in bad:
            net.make_byzantine(rid, behavior)
        stamps = [net.submit(Add("k", 2)) for _ in range(4)]
        assert net.run_until(net.done)
        assert [net.results["c"][t] for t in stamps] == [2, 4, 6, 8]
        assert net.run_until(lambda net=net: _all_execute(net, 4))
        for rid in net.correct():
            replica = net.replicas[rid]
            assert replica.view == 0
            assert replica.machine.data == {"k": 8}
        if behavior == "forge_sender":
            assert sum(net.replicas[r].dropped.get("bad_mac", 0) for r in net.correct()) > 0
        if behavior == "random":
            dropped = sum(sum(net.replicas[r].dropped.values()) for r in net.correct())
            assert dropped > 0


def test_p4_prepare_counting_excludes_primary_and_duplicates() -> None:
    """P4: a prepare claiming to come from the primary is dropped, a repeated prepare
    counts once, and prepares for another digest do not count."""
    net = Net(4)
    # Only r1 hears r2's prepare; r3's prepares are lost: r1 cannot prepare with 2 votes
    # unless something is counted wrongly.
    net.filter = lambda m, src, dst: src == "r3" and type(m).__name__ == "Prepare"
    net.submit(Put("x", 1))
    net.run_for(5)
    r1 = net.replicas["r1"]
    slot_digest = r1._slots[1].pre_prepare.digest
    assert len(r1._prepares[(0, 1, slot_digest)]) == 2  # own + r2: q - 1 = 2 -> prepared
    assert r1._slots[1].prepared
    # A prepare forged as from the primary, and a replay of r2's, are dropped.
    keyring = net.keyring
    from mabeam.protocols.consensus.pbft import Prepare

    forged = keyring.seal(keyring.sign(Prepare("r0", "r1", 0, 1, slot_digest)))
    r1.step(forged, net.now)
    assert r1.dropped["prepare_from_primary"] == 1
    replay = keyring.seal(keyring.sign(Prepare("r2", "r1", 0, 1, slot_digest)))
    r1.step(replay, net.now)
    assert r1.dropped["duplicate"] == 1
    other = keyring.seal(keyring.sign(Prepare("r3", "r1", 0, 1, "f" * 64)))
    r1.step(other, net.now)
    assert len(r1._prepares[(0, 1, slot_digest)]) == 2


def test_p4_one_prepare_is_not_enough() -> None:
    """P4: with only its own prepare (the other backups' lost), a backup never prepares."""
    net = Net(4)
    net.filter = lambda m, src, dst: type(m).__name__ == "Prepare" and dst == "r1"
    net.submit(Put("x", 1))
    net.run_for(5)
    assert not net.replicas["r1"]._slots[1].prepared
    assert net.replicas["r2"]._slots[1].prepared


def test_p5_equivocating_primary_forces_view_1_executed_once() -> None:
    """P5: a primary sending different pre-prepares to different backups: no quorum forms,
    the client retransmits, backups change to view 1, the request executes exactly once."""
    net = Net(4, retransmit_ms=100)
    net.make_byzantine("r0", "equivocate")
    ts = net.submit(Add("k", 5))
    assert net.run_until(net.done, 5_000)
    assert net.results["c"][ts] == 5
    assert net.run_until(lambda: _all_execute(net, 1))
    net.run_for(500)
    for rid in net.correct():
        replica = net.replicas[rid]
        assert replica.view == 1
        assert replica.machine.data == {"k": 5}
        assert replica.executed_requests == [replica.executed_requests[0]]
    assert all(count == 1 for count in net.executions.values())
    assert net.clients["c"].view == 1


def test_p6_silent_primary() -> None:
    """P6: a silent primary: view change to view 1 (r1 primary), then normal operation."""
    net = Net(4, retransmit_ms=100)
    net.make_byzantine("r0", "silent")
    stamps = [net.submit(Add("k", 1)) for _ in range(3)]
    assert net.run_until(net.done, 5_000)
    assert sorted(net.results["c"][t] for t in stamps) == [1, 2, 3]
    for rid in net.correct():
        assert net.replicas[rid].view == 1
        assert net.replicas[rid].primary() == "r1"
    # Later requests go straight to the new primary: no more view changes.
    ts = net.submit(Add("k", 1))
    assert net.run_until(net.done)
    assert net.results["c"][ts] == 4
    assert all(net.replicas[r].view == 1 for r in net.correct())


def test_p6_view_change_keeps_prepared_request_and_fills_gaps_with_null() -> None:
    """P6: the new primary re-proposes what prepared (digest of the highest view) and a null
    request for a gap; nothing executes twice."""
    net = Net(4, retransmit_ms=100)
    # Seq 1 commits everywhere; for seq 2 the commits are lost, so it is only prepared;
    # seq 3's pre-prepare reaches nobody: the primary then dies.
    net.submit(Add("k", 1))
    assert net.run_until(net.done)
    net.filter = lambda m, src, dst: type(m).__name__ == "Commit"
    net.submit(Add("k", 10))
    net.run_for(10)
    assert all(net.replicas[r]._slots[2].prepared for r in ("r1", "r2", "r3"))
    net.filter = lambda m, src, dst: src == "r0" and type(m).__name__ == "PrePrepare"
    net.submit(Add("k", 100))
    net.run_for(5)
    net.crash("r0")
    net.filter = None
    assert net.run_until(net.done, 10_000)
    net.run_for(200)
    for rid in net.correct():
        replica = net.replicas[rid]
        assert replica.view >= 1
        assert replica.machine.data == {"k": 111}
        assert [seq for seq, _ in replica.history] == list(range(1, replica.last_executed + 1))
    assert all(count == 1 for count in net.executions.values())


def test_p7_f_plus_one_faults_no_progress_no_safety_violation() -> None:
    """P7: f + 1 crashed replicas: nothing executes (no quorum), nothing unsafe happens."""
    net = Net(4, retransmit_ms=100)
    net.crash("r2")
    net.crash("r3")
    net.submit(Put("x", 1))
    net.run_for(3_000)
    assert not net.done()
    assert all(net.replicas[r].last_executed == 0 for r in ("r0", "r1"))


def test_p7_f_plus_one_byzantine_no_progress() -> None:
    """P7: f + 1 byzantine replicas sending wrong digests: the correct replicas never reach a
    quorum, so they execute nothing (and never diverge). Beyond f, the guarantees are gone:
    the two liars agree on a forged reply, which f + 1 matching replies make the client take.
    """
    net = Net(4, retransmit_ms=100)
    net.make_byzantine("r2", "wrong_digest")
    net.make_byzantine("r3", "wrong_digest")
    ts = net.submit(Put("x", 1))
    net.run_for(3_000)
    assert net.replicas["r0"].last_executed == 0
    assert net.replicas["r1"].last_executed == 0
    assert net.results["c"][ts] == "forged:None"


def test_p8_checkpoints_and_water_marks() -> None:
    """P8: a checkpoint every 4 sequence numbers becomes stable; h advances; sequence
    numbers outside (h, H] are rejected."""
    net = Net(4, config=PbftConfig(checkpoint_interval=4, window=8))
    for _ in range(10):
        net.submit(Add("k", 1))
    assert net.run_until(net.done)
    net.run_for(20)
    for replica in net.replicas.values():
        assert replica.low == 8
        assert replica.high == 16
        assert min(replica._slots, default=9) > 8
    r1 = net.replicas["r1"]
    keyring = net.keyring
    before = r1.dropped.get("out_of_window", 0)
    for seq in (8, 17):
        pp = keyring.seal(keyring.sign(PrePrepare("r0", "r1", 0, seq, "0" * 64)))
        r1.step(pp, net.now)
    assert r1.dropped["out_of_window"] == before + 2


def test_p8_primary_waits_at_high_water_mark() -> None:
    """P8: the primary never assigns beyond H: with checkpoints lost, it stops at H."""
    net = Net(4, config=PbftConfig(checkpoint_interval=2, window=4))
    net.filter = lambda m, src, dst: type(m).__name__ == "Checkpoint"
    for _ in range(6):
        net.submit(Add("k", 1))
    net.run_for(100)
    assert net.replicas["r0"].next_seq == 5
    assert net.replicas["r0"].last_executed == 4
    net.filter = None
    assert net.replicas["r0"].low == 0


def test_p9_two_consecutive_faulty_primaries_n7() -> None:
    """P9: n = 7, primaries of views 0 and 1 silent: view 2 (r2) makes progress."""
    net = Net(7, retransmit_ms=100)
    net.make_byzantine("r0", "silent")
    net.make_byzantine("r1", "silent")
    stamps = [net.submit(Add("k", 1)) for _ in range(2)]
    assert net.run_until(net.done, 20_000)
    assert sorted(net.results["c"][t] for t in stamps) == [1, 2]
    for rid in net.correct():
        assert net.replicas[rid].view == 2
        assert net.replicas[rid].machine.data == {"k": 2}


def test_p10_replays_and_stale_views_ignored() -> None:
    """P10: a replayed request is answered from the cache, not executed again; messages of
    an old view are dropped."""
    net = Net(4, retransmit_ms=100)
    ts = net.submit(Add("k", 1))
    assert net.run_until(net.done)
    net.run_for(20)
    request = net.request("c", ts, Add("k", 1))
    sent = net.sent["Reply"]
    for rid in net.ids:
        net.replicas[rid].step(request, net.now)
        net._flush_replica(rid)
    net.run_for(20)
    assert net.sent["Reply"] == sent + 4
    assert all(r.machine.data == {"k": 1} for r in net.replicas.values())
    # Force view 1, then replay a view-0 pre-prepare and prepare.
    net.make_byzantine("r0", "silent")
    ts2 = net.submit(Add("k", 1))
    assert net.run_until(net.done, 5_000)
    assert net.results["c"][ts2] == 2
    r2 = net.replicas["r2"]
    assert r2.view == 1
    keyring = net.keyring
    from mabeam.protocols.consensus.pbft import Prepare

    old_pp = keyring.seal(keyring.sign(PrePrepare("r0", "r2", 0, 5, "0" * 64)))
    old_prepare = keyring.seal(keyring.sign(Prepare("r1", "r2", 0, 5, "0" * 64)))
    r2.step(old_pp, net.now)
    r2.step(old_prepare, net.now)
    assert r2.dropped["stale_view"] >= 2
    # A request with an unknown client MAC is refused.
    bad = net.request("c", 99, Add("k", 1))
    import msgspec

    r2.step(msgspec.structs.replace(bad, timestamp=98), net.now)
    assert r2.dropped["bad_mac"] >= 1

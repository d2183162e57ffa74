"""The sans-IO core's rules for long runs (Castro & Liskov §4.3, §4.4, §5.3): checkpoint
stability, water marks, state transfer verified against the checkpoint digest, Ed25519
certificates, view-change resend timing."""

from __future__ import annotations

import hashlib

import msgspec
import pytest

from mabeam.protocols.consensus.kv import Add
from mabeam.protocols.consensus.pbft import (
    Checkpoint,
    Keyring,
    PbftConfig,
    PbftReplica,
    ViewChange,
)
from mabeam.protocols.consensus.pbft.messages import Help, Status
from mabeam.testing.pbft import Net

replace = msgspec.structs.replace
IDS = ["r0", "r1", "r2", "r3"]


def _signed_checkpoint(keyring: Keyring, src: str, dst: str, seq: int, state: str) -> Checkpoint:
    return keyring.seal(keyring.sign(Checkpoint(src, dst, seq, state)))


def test_checkpoint_becomes_stable_with_a_quorum_of_matching_digests() -> None:
    """q = 3 matching signed checkpoints make seq stable; a mismatching one or a repeat
    does not count; h advances, H = h + L, and the log at or below h is dropped."""
    keyring = Keyring(1)
    replica = PbftReplica("r1", IDS, keyring, PbftConfig(checkpoint_interval=4, window=8))
    replica._stabilize(0, ())  # no-op: nothing below 0
    state = "a" * 64
    replica.step(_signed_checkpoint(keyring, "r0", "r1", 4, state), 1.0)
    replica.step(_signed_checkpoint(keyring, "r2", "r1", 4, "b" * 64), 1.0)
    replica.step(_signed_checkpoint(keyring, "r0", "r1", 4, state), 1.0)
    assert replica.low == 0
    assert replica.dropped["duplicate"] == 1
    replica.step(_signed_checkpoint(keyring, "r3", "r1", 4, state), 1.0)
    assert replica.low == 0  # two matching: not yet
    forged = replace(Checkpoint("r2", "r1", 4, state), sig=b"\0" * 64)
    replica.step(keyring.seal(forged), 1.0)
    assert replica.dropped["bad_signature"] == 1
    assert replica.low == 0


def test_checkpoints_stabilize_and_collect_garbage() -> None:
    """Every K = 4 requests a checkpoint; h advances to 8 after 10 requests, H = 16, and
    nothing at or below h stays in the log."""
    net = Net(4, config=PbftConfig(checkpoint_interval=4, window=8))
    for _ in range(10):
        net.submit(Add("k", 1))
    assert net.run_until(net.done)
    net.run_for(20)
    for replica in net.replicas.values():
        assert (replica.low, replica.high) == (8, 16)
        assert all(seq > 8 for seq in replica._committed)
        assert all(seq > 8 for seq in replica._snapshots)
        assert replica._stable_snapshot is not None
        assert replica._stable_snapshot[0] == 8
        # The checkpoint digest is the SHA-256 of the snapshot: anyone can check a state.
        assert hashlib.sha256(replica._stable_snapshot[1]).hexdigest() == (
            replica._stable_proof[0].state
        )


def _behind_net() -> tuple[Net, PbftReplica]:
    """r3 crashed while 10 requests ran (stable checkpoint 8), then restarted empty."""
    net = Net(4, config=PbftConfig(checkpoint_interval=4, view_change_timeout_ms=100))
    net.crash("r3")
    for _ in range(10):
        net.submit(Add("k", 1))
    assert net.run_until(net.done)
    net.run_for(20)
    assert net.replicas["r0"].low == 8
    net.crashed.discard("r3")
    fresh = PbftReplica("r3", net.ids, net.keyring, net.config, now=net.now)
    net.replicas["r3"] = fresh
    return net, fresh


def test_state_transfer_refuses_a_poisoned_state() -> None:
    """A byzantine replica answers with the real stable proof but another state: the digest
    does not match, the state is refused; the correct state is then taken and verified."""
    net, r3 = _behind_net()
    r0 = net.replicas["r0"]
    proof = r0._stable_proof
    assert r0._stable_snapshot is not None
    good = r0._stable_snapshot[1]
    keyring = net.keyring
    poisoned = good.replace(b"k", b"x")
    assert poisoned != good
    r3.step(keyring.seal(Help("r2", "r3", stable=proof, snapshot=poisoned)), net.now)
    assert r3.dropped["bad_state"] == 1
    assert r3.last_executed == 0
    assert r3.machine.data == {}
    assert r3.low == 8  # the proof itself is good: the window moves, the state waits
    # A proof with one signature forged (r3's key signing for another) is refused.
    by_r3 = keyring.sign(replace(proof[2], src="r3")).sig
    forged = (proof[0], proof[1], replace(proof[2], sig=by_r3))
    r3b = PbftReplica("r3", net.ids, keyring, net.config, now=net.now)
    r3b.step(keyring.seal(Help("r2", "r3", stable=forged, snapshot=good)), net.now)
    assert r3b.dropped["bad_checkpoint_proof"] == 1
    assert r3b.last_executed == 0
    # The correct state: taken, and it is r0's.
    r3.step(keyring.seal(Help("r1", "r3", stable=proof, snapshot=good)), net.now)
    assert r3.last_executed == 8
    assert r3.transfers == [8]
    assert r3.machine.data == {"k": 8}
    assert r3.snapshot(8) == good


def test_restarted_replica_asks_and_catches_up() -> None:
    """A restarted replica sends Status; the others answer with the stable checkpoint's
    state and the batches after it; it ends where they are."""
    net = Net(4, config=PbftConfig(checkpoint_interval=4, view_change_timeout_ms=100))
    for _ in range(3):
        net.submit(Add("k", 1))
    assert net.run_until(net.done)
    net.crash("r3")
    for _ in range(7):
        net.submit(Add("k", 1))
    assert net.run_until(net.done)
    net.run_for(20)
    net.restart("r3")
    r3 = net.replicas["r3"]
    assert r3.rejoining
    assert net.run_until(lambda: r3.last_executed == 10, 2_000)
    assert r3.transfers == [8]
    assert r3.machine.data == {"k": 10}
    assert not r3.rejoining
    assert net.sent["Status"] >= 3
    assert net.sent["Help"] >= 3


def test_view_change_resend_and_timer_from_the_start() -> None:
    """A replica changing views: its timer runs from the start (T), it resends its view
    change every T/2 until the new view; after T without a quorum for the view it stays
    (and keeps resending); with a quorum it moves on, the timeout doubled."""
    net = Net(4)
    config = PbftConfig(view_change_timeout_ms=100)
    replica = PbftReplica("r2", IDS, net.keyring, config)  # view 1's primary r1 is silent
    replica._start_view_change(1)
    first = [m for m in replica.ready().messages if isinstance(m, ViewChange)]
    assert len(first) == 3
    assert replica._timer == 100.0
    assert replica.deadline() == 50.0
    replica.tick(50.0)
    again = replica.ready().messages
    assert sorted(m.dst for m in again if isinstance(m, ViewChange)) == ["r0", "r1", "r3"]
    assert sorted(m.dst for m in again if isinstance(m, Status)) == ["r0", "r1", "r3"]
    assert replica.deadline() == 100.0
    replica.tick(100.0)
    assert replica.view == 1  # alone in view 1: it waits there
    assert replica._timer == 200.0
    replica.ready()
    # Two more view changes for view 1: a quorum; at the next expiry it moves to view 2.
    for src in ("r0", "r3"):
        other = net.replicas[src]
        other._start_view_change(1)
        for message in other.ready().messages:
            if isinstance(message, ViewChange) and message.dst == "r2":
                replica.step(message, 120.0)
    replica.tick(200.0)
    assert replica.view == 2
    assert not replica.active
    assert replica._timer == 200.0 + 200.0  # doubled: second view change in a row


def test_forged_view_change_signature_is_refused() -> None:
    """Ed25519: a byzantine replica holding every public key cannot sign as another; its
    HMAC-era trick (signing with a shared key) no longer works."""
    net = Net(4)
    keyring = net.keyring
    target = net.replicas["r1"]
    honest = keyring.sign(ViewChange("r2", "", 1, 0))
    assert keyring.verify(honest)
    # r3 signs the same view change with its own key but claims r2.
    by_r3 = keyring.private_key("r3").sign(
        msgspec.msgpack.encode(replace(honest, sig=b"", mac=b"", dst=""))
    )
    forged = replace(honest, sig=by_r3, dst="r1")
    target.step(keyring.seal(forged), 0.0)
    assert target.dropped["bad_view_change"] == 1
    assert not keyring.verify(replace(honest, sig=b"\1" * 64))
    assert not keyring.verify(replace(honest, src="r3"))
    assert len(honest.sig) == 64  # an Ed25519 signature


@pytest.mark.parametrize("seed", range(25))
def test_lost_view_changes_never_wedge(seed: int) -> None:
    """The issue's wedge: four correct replicas, the primary silent for a while, 30% loss
    for 1.5 s, then a perfect network: every request completes."""
    net = Net(4, seed=seed, retransmit_ms=150, config=PbftConfig(view_change_timeout_ms=100))
    net.drop_rate = 0.3
    silent = net.replicas["r0"]
    net.crash("r0")
    for _ in range(5):
        net.submit(Add("k", 1))
        net.run_for(300)
    net.crashed.discard("r0")
    assert silent is net.replicas["r0"]
    net.heal()
    assert net.run_until(net.done, 10_000), f"seed {seed}: wedged"
    assert sorted(net.results["c"].values()) == [1, 2, 3, 4, 5]


def test_a_new_view_is_forwarded_by_whoever_has_it() -> None:
    """A replica still waiting for view 1's new view asks; r2 entered view 1 and has since
    moved on to view 2, yet it forwards view 1's new view (signed by r1, the primary): the
    asker verifies and installs it."""
    net = Net(4, retransmit_ms=100, config=PbftConfig(view_change_timeout_ms=100))
    net.make_byzantine("r0", "silent")
    net.submit(Add("k", 1))
    assert net.run_until(net.done, 5_000)
    r2, r3 = net.replicas["r2"], net.replicas["r3"]
    assert r2.view == 1
    assert r2._new_view is not None
    r2._start_view_change(2)
    r2.ready()
    waiting = PbftReplica("r3", net.ids, net.keyring, net.config, now=net.now)
    waiting._start_view_change(1)
    waiting.ready()
    status = Status("r3", "r2", 1, False, waiting.low, waiting.last_executed)
    r2.step(net.keyring.seal(status), net.now)
    helps = [m for m in r2.ready().messages if isinstance(m, Help)]
    assert len(helps) == 1
    assert helps[0].new_view is not None
    assert helps[0].new_view.view == 1
    assert helps[0].new_view.src == "r1"
    waiting.step(helps[0], net.now)
    assert waiting.view == 1
    assert waiting.active
    assert r3.view == 1

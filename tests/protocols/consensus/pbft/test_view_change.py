"""View-change and new-view validation (§4.4): forged certificates and a tampered set O
are refused; configuration errors are ConfigErrors."""

from __future__ import annotations

import msgspec
import pytest

from mabeam import ConfigError
from mabeam.protocols.consensus.kv import Add
from mabeam.protocols.consensus.pbft import (
    Checkpoint,
    Keyring,
    NewView,
    PbftConfig,
    PbftReplica,
    PrePrepare,
    ViewChange,
)
from mabeam.protocols.consensus.pbft.replica import NULL_DIGEST
from mabeam.testing.pbft import Net

replace = msgspec.structs.replace


def _prepared_net() -> Net:
    """Seq 1 prepared (not committed) at every replica: commits are lost."""
    net = Net(4)
    net.filter = lambda m, src, dst: type(m).__name__ == "Commit"
    net.submit(Add("k", 1))
    net.run_for(10)
    assert all(net.replicas[r]._slots[1].prepared for r in net.ids)
    return net


def _view_change_of(net: Net, rid: str) -> ViewChange:
    replica = net.replicas[rid]
    replica._start_view_change(1)
    messages = replica.ready().messages
    vc = next(m for m in messages if isinstance(m, ViewChange))
    assert vc.prepared
    return vc


def test_forged_view_changes_are_refused() -> None:
    """A view change whose certificate or checkpoint proof does not hold is dropped."""
    net = _prepared_net()
    vc = _view_change_of(net, "r1")
    keyring = net.keyring
    target = net.replicas["r3"]
    cert = vc.prepared[0]
    prepares = cert.prepares
    bad_certs = [
        replace(cert, digest=NULL_DIGEST),  # digest not the batch's
        replace(cert, view=1),  # not below the new view
        replace(cert, seq=500),  # beyond the water marks
        replace(cert, pre_prepare_sig=b"x" * 32),  # the primary never signed it
        replace(cert, prepares=prepares[:1]),  # too few prepares
        replace(cert, prepares=(prepares[0], prepares[0])),  # one sender twice
        replace(cert, prepares=(*prepares[:1], replace(prepares[1], src="r0"))),  # primary
        replace(cert, prepares=(*prepares[:1], replace(prepares[1], seq=2))),  # mismatch
        replace(cert, prepares=(*prepares[:1], replace(prepares[1], sig=b"y" * 32))),
    ]
    forged = [replace(vc, prepared=(c,)) for c in bad_certs]
    forged.append(replace(vc, prepared=(cert, cert)))  # one sequence number twice
    checkpoint = keyring.sign(Checkpoint("r1", "", 5, "s"))
    other = keyring.sign(Checkpoint("r2", "", 5, "t"))
    forged.append(replace(vc, stable_seq=5, prepared=()))  # no proof
    forged.append(replace(vc, stable_seq=5, prepared=(), checkpoint_proof=(checkpoint,) * 3))
    forged.append(replace(vc, stable_seq=5, prepared=(), checkpoint_proof=(checkpoint, other)))
    forged.append(
        replace(vc, stable_seq=5, prepared=(), checkpoint_proof=(replace(checkpoint, seq=4),))
    )
    for bad in forged:
        target.step(keyring.seal(keyring.sign(replace(bad, dst="r3"))), net.now)
    unsigned = keyring.seal(replace(vc, dst="r3", sig=b"z" * 32))
    target.step(unsigned, net.now)
    assert target.dropped["bad_view_change"] == len(forged) + 1
    assert target.view == 0
    assert target.active


def test_tampered_new_view_is_refused_and_the_real_one_installs() -> None:
    """A new view whose O differs from what its view changes imply, or with too few or
    repeated view changes, or not from the new primary, is dropped; the genuine one puts
    the replica in view 1 with the prepared request kept at seq 1."""
    net = _prepared_net()
    keyring = net.keyring
    changes = [_view_change_of(net, r) for r in ("r1", "r2", "r3")]
    chosen = tuple(replace(vc, dst="", mac=b"") for vc in changes)
    primary = net.replicas["r1"]
    pre_prepares = tuple(keyring.sign(pp) for pp in primary._derive(1, chosen))
    assert [pp.seq for pp in pre_prepares] == [1]
    assert pre_prepares[0].digest != NULL_DIGEST
    genuine = keyring.sign(NewView("r1", "", 1, chosen, pre_prepares))
    null = keyring.sign(PrePrepare("r1", "", 1, 1, NULL_DIGEST, ()))
    tampered = [
        replace(genuine, pre_prepares=(null,)),
        replace(genuine, pre_prepares=()),
        replace(genuine, view_changes=chosen[:2]),
        replace(genuine, view_changes=(chosen[0], chosen[0], chosen[1])),
        replace(genuine, view_changes=(*chosen[:2], replace(chosen[2], new_view=2))),
        replace(genuine, view_changes=(*chosen[:2], replace(chosen[2], src="r9"))),
        replace(genuine, view_changes=(*chosen[:2], replace(chosen[2], sig=b"q" * 32))),
    ]
    target = net.replicas["r0"]
    for bad in tampered:
        target.step(keyring.seal(keyring.sign(replace(bad, dst="r0"))), net.now)
    impostor = keyring.seal(keyring.sign(replace(genuine, src="r2", dst="r0")))
    target.step(impostor, net.now)
    assert target.dropped["bad_new_view"] == len(tampered) + 1
    assert target.view == 0
    target.step(keyring.seal(replace(genuine, dst="r0")), net.now)
    assert (target.view, target.active) == (1, True)
    assert target._slots[1].pre_prepare.digest == pre_prepares[0].digest
    # The same new view again is stale now.
    target.step(keyring.seal(replace(genuine, dst="r0")), net.now)
    assert target.dropped["stale_view"] >= 1


def test_config_errors() -> None:
    """Bad tuning or membership: ConfigError naming the field."""
    for kwargs, field in (
        ({"checkpoint_interval": 0}, "checkpoint_interval"),
        ({"batch_max": 0}, "batch_max"),
        ({"window": 5, "checkpoint_interval": 10}, "window"),
        ({"view_change_timeout_ms": 0}, "view_change_timeout_ms"),
    ):
        with pytest.raises(ConfigError) as info:
            PbftConfig(**kwargs)  # type: ignore[arg-type]
        assert info.value.field == field
    with pytest.raises(ConfigError):
        PbftReplica("x", ["a", "b"], Keyring(0))
    with pytest.raises(ConfigError):
        PbftReplica("a", ["a", "a"], Keyring(0))

"""Block hashing, seals and tampering (B6)."""

from __future__ import annotations

import random

import msgspec
import pytest

from mabeam.protocols.consensus.chain import (
    Block,
    BlockTree,
    ChainConfig,
    Keyring,
    NewBlock,
    Tx,
    Validator,
    block_hash,
    genesis,
)

IDS = ["v1", "v2", "v3", "v4", "v5"]


def sealed() -> tuple[Keyring, Block]:
    keyring = Keyring.from_seed(7, IDS)
    return keyring, keyring.sign(genesis(), "v2", (Tx("a", 1), Tx("b", {"k": [1, 2]})))


def test_hash_covers_parent_height_signer_proposals() -> None:
    """B6: the hash is SHA-256 of the canonical (parent, height, signer, proposals) encoding."""
    _, block = sealed()
    assert block.hash == block_hash(block.parent, 1, "v2", block.proposals)
    assert len(block.hash) == 64
    assert block_hash(block.parent, 2, "v2", block.proposals) != block.hash
    assert block_hash(block.parent, 1, "v3", block.proposals) != block.hash
    assert block_hash(block.parent, 1, "v2", block.proposals[:1]) != block.hash
    assert block_hash("1" * 64, 1, "v2", block.proposals) != block.hash


def test_map_order_does_not_change_the_hash() -> None:
    """The encoding is canonical: a proposal's dict keys are hashed in sorted order."""
    one = block_hash("p", 1, "v1", (Tx("a", {"x": 1, "y": 2}),))
    two = block_hash("p", 1, "v1", (Tx("a", {"y": 2, "x": 1}),))
    assert one == two


def test_keys_come_from_the_seed() -> None:
    """The same seed gives the same seals, another seed other seals."""
    digest = genesis().hash
    assert Keyring.from_seed(7, IDS).seal("v1", digest) == Keyring.from_seed(7, IDS).seal(
        "v1", digest
    )
    assert Keyring.from_seed(7, IDS).seal("v1", digest) != Keyring.from_seed(8, IDS).seal(
        "v1", digest
    )
    assert Keyring.from_seed(7, IDS).validators == tuple(IDS)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        pytest.param({"proposals": (Tx("a", 2),)}, "bad_hash", id="proposals"),
        pytest.param({"parent": "f" * 64}, "bad_hash", id="parent"),
        pytest.param({"height": 2}, "bad_hash", id="height"),
        pytest.param({"signer": "v3"}, "bad_hash", id="signer"),
        pytest.param({"signer": "mallory"}, "unknown_signer", id="outsider"),
        pytest.param({"signature": "0" * 64}, "bad_signature", id="seal"),
        pytest.param({"height": "1"}, "malformed", id="height-type"),
        pytest.param({"proposals": ["a"]}, "malformed", id="proposals-type"),
        pytest.param({"proposals": (Tx("a", object()),)}, "malformed", id="unencodable"),
    ],
)
def test_tampered_block_fails_verification(changes: dict[str, object], reason: str) -> None:
    """B6: any change to a sealed block (or a seal not the signer's) is caught, with why."""
    keyring, block = sealed()
    assert keyring.verify(block) is None
    assert keyring.verify(msgspec.structs.replace(block, **changes)) == reason


def test_rehashed_block_with_a_foreign_seal_is_rejected() -> None:
    """B6: recomputing the hash after tampering does not help without the signer's key."""
    keyring, block = sealed()
    proposals = (Tx("evil", 0),)
    digest = block_hash(block.parent, 1, "v2", proposals)
    forged = msgspec.structs.replace(block, proposals=proposals, hash=digest)
    assert keyring.verify(forged) == "bad_signature"
    other = Keyring.from_seed(8, IDS).sign(genesis(), "v2", proposals)
    assert keyring.verify(other) == "bad_signature"


def test_validator_rejects_and_counts_a_tampered_block() -> None:
    """B6: a validator refuses a tampered block: not stored, counted, reported with reason."""
    keyring, block = sealed()
    tree = BlockTree(IDS)
    validator = Validator("v1", tree, keyring, ChainConfig(), random.Random(1))
    tampered = msgspec.structs.replace(block, proposals=(Tx("a", 99),))
    validator.step(NewBlock("v2", tampered), 1.0)
    ready = validator.ready()
    assert [r.reason for r in ready.rejected] == ["bad_hash"]
    assert validator.rejections == 1
    assert tampered.hash not in tree
    validator.step(NewBlock("v2", block), 2.0)
    assert tree.head == block

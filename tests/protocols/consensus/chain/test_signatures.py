"""Ed25519 seals (issue 20): a validator holding its own key cannot seal as another, and a
byzantine validator's forged seal is refused by every honest one."""

from __future__ import annotations

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mabeam.protocols.consensus.chain import Block, Keyring, NewBlock, Tx, block_hash, genesis
from mabeam.protocols.consensus.chain.block import SealError
from mabeam.testing.chain import PureChain

IDS = ["v1", "v2", "v3", "v4"]


def test_seals_are_ed25519_signatures_over_the_header_hash() -> None:
    keys = Keyring.from_seed(3, IDS)
    block = keys.sign(genesis(), "v2", (Tx("a", 1),))
    assert len(bytes.fromhex(block.signature)) == 64
    # Anyone can check it with v2's public key alone (raises if it does not verify).
    Ed25519PublicKey.from_public_bytes(keys.public_key("v2")).verify(
        bytes.fromhex(block.signature), bytes.fromhex(block.hash)
    )
    again = Keyring.from_seed(3, IDS).sign(genesis(), "v2", (Tx("a", 1),))
    assert again == block  # reproducible from the seed
    assert Keyring.from_seed(4, IDS).public_key("v2") != keys.public_key("v2")


def test_a_validator_keyring_seals_only_as_its_own_validator() -> None:
    own = Keyring.from_seed(3, IDS).for_signer("v1")
    assert own.signers == ("v1",)
    assert own.validators == tuple(IDS)
    own.sign(genesis(), "v1", ())
    with pytest.raises(SealError, match="v2"):
        own.sign(genesis(), "v2", ())
    assert own.verify(Keyring.from_seed(3, IDS).sign(genesis(), "v2", ())) is None


def forged(keys: Keyring, parent: Block, forger: str, victim: str) -> Block:
    """A block claiming ``victim`` as signer, sealed with ``forger``'s key."""
    digest = block_hash(parent.hash, parent.height + 1, victim, (Tx("stolen", 1),))
    seal = keys.for_signer(forger).seal(forger, digest)
    return Block(parent.hash, parent.height + 1, victim, (Tx("stolen", 1),), digest, seal)


def test_a_byzantine_validator_forging_a_seal_is_refused() -> None:
    """v4 (byzantine) forges v1's seal with its own key, and replays v2's seal on other
    contents: every honest validator refuses both (bad_signature) and never holds them."""
    chain = PureChain(4, seed=11)
    head = chain.trees["v1"].head
    forgery = forged(chain.keyring, head, "v4", "v1")
    genuine = chain.keyring.sign(head, "v2", ())
    replayed = msgspec.structs.replace(
        forgery, signer="v2", signature=genuine.signature
    )  # v2's real seal over another header
    replayed = msgspec.structs.replace(
        replayed, hash=block_hash(head.hash, head.height + 1, "v2", replayed.proposals)
    )
    for node_id in ("v1", "v2", "v3"):
        chain.inject(node_id, NewBlock("v4", forgery), src="v4")
        chain.inject(node_id, NewBlock("v4", replayed), src="v4")
    chain.run_until(5.0)
    for node_id in ("v1", "v2", "v3"):
        validator = chain.nodes[node_id]
        assert forgery.hash not in chain.trees[node_id]
        assert replayed.hash not in chain.trees[node_id]
        assert validator.rejections >= 2
    assert chain.keyring.verify(forgery) == "bad_signature"
    assert chain.keyring.verify(replayed) == "bad_signature"

"""Block hashing, sealing and verification.

The hash is SHA-256 over the canonical msgpack encoding (msgspec, deterministic map order)
of the fixed-order array ``[parent, height, signer, proposals]``, each proposal an array
``[id, value]``. A block is sealed with HMAC-SHA256 under its signer's key: in simulation
this stands in for Clique's ECDSA signature (every validator holds every verification key,
which a real deployment would replace by public keys). The keys are derived from one
secret (in scenarios, drawn from the run seed) with HMAC(secret, validator id), so a run
is reproducible and a tampered block (changed parent, height, signer, proposals, hash or
seal) fails verification.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

import msgspec

from .messages import Block, Tx

ZERO_HASH = "0" * 64
"""Genesis's parent."""

_ENCODER = msgspec.msgpack.Encoder(order="deterministic")


class _Preimage(msgspec.Struct, frozen=True, array_like=True):
    parent: str
    height: int
    signer: str
    proposals: tuple[Tx, ...]


def block_hash(parent: str, height: int, signer: str, proposals: tuple[Tx, ...]) -> str:
    """SHA-256 (hex) of the canonical encoding of (parent, height, signer, proposals)."""
    preimage = _ENCODER.encode(_Preimage(parent, height, signer, proposals))
    return hashlib.sha256(preimage).hexdigest()


def encodable(tx: Tx) -> bool:
    """Whether a proposal can be hashed (msgpack-encodable: no arbitrary objects)."""
    try:
        _ENCODER.encode(tx)
    except (TypeError, ValueError, OverflowError):
        return False
    return True


def genesis() -> Block:
    """The common first block: height 0, no signer, no proposals, no seal."""
    return Block(ZERO_HASH, 0, "", (), block_hash(ZERO_HASH, 0, "", ()), "")


class Keyring:
    """Per-validator HMAC keys derived from one secret (see the module docstring)."""

    def __init__(self, secret: bytes, validators: Iterable[str]) -> None:
        self._keys = {v: hmac.new(secret, v.encode(), hashlib.sha256).digest() for v in validators}

    @classmethod
    def from_seed(cls, seed: int | str, validators: Iterable[str]) -> Keyring:
        """The keyring of a run: the secret is SHA-256 of the seed's text."""
        return cls(hashlib.sha256(f"chain-keys:{seed}".encode()).digest(), validators)

    @property
    def validators(self) -> tuple[str, ...]:
        """The validators holding a key, in the order given."""
        return tuple(self._keys)

    def __contains__(self, validator: object) -> bool:
        return validator in self._keys

    def seal(self, signer: str, digest: str) -> str:
        """``signer``'s seal over the block hash ``digest``."""
        return hmac.new(self._keys[signer], digest.encode(), hashlib.sha256).hexdigest()

    def sign(self, parent: Block, signer: str, proposals: tuple[Tx, ...]) -> Block:
        """A new block on ``parent`` sealed by ``signer``."""
        height = parent.height + 1
        digest = block_hash(parent.hash, height, signer, proposals)
        return Block(parent.hash, height, signer, proposals, digest, self.seal(signer, digest))

    def verify(self, block: Block) -> str | None:
        """Why ``block`` is not authentic (malformed, hash or seal wrong), or None if it is."""
        if not _well_formed(block):
            return "malformed"
        if block.signer not in self._keys:
            return "unknown_signer"
        try:
            digest = block_hash(block.parent, block.height, block.signer, block.proposals)
        except (TypeError, ValueError, OverflowError):
            return "malformed"
        if not hmac.compare_digest(digest, block.hash):
            return "bad_hash"
        if not hmac.compare_digest(self.seal(block.signer, digest), block.signature):
            return "bad_signature"
        return None


def _well_formed(block: Block) -> bool:
    return (
        isinstance(block.parent, str)
        and type(block.height) is int
        and isinstance(block.signer, str)
        and isinstance(block.hash, str)
        and isinstance(block.signature, str)
        and isinstance(block.proposals, tuple)
        and all(isinstance(tx, Tx) and isinstance(tx.id, str) for tx in block.proposals)
    )

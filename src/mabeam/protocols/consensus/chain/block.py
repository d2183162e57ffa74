"""Block hashing, sealing and verification.

The hash is SHA-256 over the canonical msgpack encoding (msgspec, deterministic map order)
of the fixed-order array ``[parent, height, signer, proposals]``, each proposal an array
``[id, value]``. A block is sealed, as Clique seals headers, with its signer's signature
over that header hash: Ed25519 (RFC 8032, from the ``cryptography`` package), so only the
holder of a validator's private key can seal as that validator, and every validator checks
seals with public keys alone. The private keys are derived from one secret (in scenarios,
drawn from the run seed) with HMAC-SHA256(secret, validator id) as the 32-byte Ed25519
seed, and Ed25519 signatures are deterministic: a run is reproducible from its seed. A
tampered block (changed parent, height, signer, proposals, hash or seal) fails
verification.

A :class:`Keyring` made from the secret holds every private key (a test harness or a
cluster that hosts all validators); :meth:`Keyring.for_signer` gives a validator a keyring
holding its own private key and everyone's public keys, which cannot seal as anyone else.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ...._errors import SealError as SealError
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


_VERIFIED_CACHE = 65_536


class Keyring:
    """Ed25519 keys of the validators, derived from one secret (see the module docstring).

    ``signers`` (default: every validator) are the validators whose private keys are kept;
    the others' public keys only. Keyrings derived with :meth:`for_signer` share one cache
    of verified seals, so a block announced to every validator is checked once.
    """

    def __init__(
        self,
        secret: bytes,
        validators: Iterable[str],
        *,
        signers: Iterable[str] | None = None,
    ) -> None:
        ids = list(validators)
        private = {
            v: Ed25519PrivateKey.from_private_bytes(
                hmac.new(secret, v.encode(), hashlib.sha256).digest()
            )
            for v in ids
        }
        self._public: dict[str, Ed25519PublicKey] = {v: k.public_key() for v, k in private.items()}
        keep = set(ids) if signers is None else set(signers)
        self._private = {v: k for v, k in private.items() if v in keep}
        self._verified: dict[tuple[str, str, str], bool] = {}

    @classmethod
    def from_seed(cls, seed: int | str, validators: Iterable[str]) -> Keyring:
        """The keyring of a run: the secret is SHA-256 of the seed's text."""
        return cls(hashlib.sha256(f"chain-keys:{seed}".encode()).digest(), validators)

    def for_signer(self, signer: str | None) -> Keyring:
        """A keyring with ``signer``'s private key only (None: none), everyone's public keys."""
        other = Keyring.__new__(Keyring)
        other._public = self._public
        other._private = {
            v: k for v, k in self._private.items() if signer is not None and v == signer
        }
        other._verified = self._verified
        return other

    @property
    def validators(self) -> tuple[str, ...]:
        """The validators holding a key, in the order given."""
        return tuple(self._public)

    @property
    def signers(self) -> tuple[str, ...]:
        """The validators whose private key this keyring holds."""
        return tuple(self._private)

    def __contains__(self, validator: object) -> bool:
        return validator in self._public

    def public_key(self, validator: str) -> bytes:
        """``validator``'s raw 32-byte Ed25519 public key."""
        return self._public[validator].public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    def seal(self, signer: str, digest: str) -> str:
        """``signer``'s Ed25519 signature (hex) over the block hash ``digest``."""
        key = self._private.get(signer)
        if key is None:
            raise SealError(f"cannot seal as {signer!r}: this keyring holds no private key for it")
        return key.sign(bytes.fromhex(digest)).hex()

    def sign(self, parent: Block, signer: str, proposals: tuple[Tx, ...]) -> Block:
        """A new block on ``parent`` sealed by ``signer``."""
        height = parent.height + 1
        digest = block_hash(parent.hash, height, signer, proposals)
        return Block(parent.hash, height, signer, proposals, digest, self.seal(signer, digest))

    def verify(self, block: Block) -> str | None:
        """Why ``block`` is not authentic (malformed, hash or seal wrong), or None if it is."""
        if not _well_formed(block):
            return "malformed"
        if block.signer not in self._public:
            return "unknown_signer"
        try:
            digest = block_hash(block.parent, block.height, block.signer, block.proposals)
        except (TypeError, ValueError, OverflowError):
            return "malformed"
        if not hmac.compare_digest(digest, block.hash):
            return "bad_hash"
        if not self._check_seal(block.signer, digest, block.signature):
            return "bad_signature"
        return None

    def _check_seal(self, signer: str, digest: str, signature: str) -> bool:
        key = (signer, digest, signature)
        known = self._verified.get(key)
        if known is not None:
            return known
        try:
            self._public[signer].verify(bytes.fromhex(signature), bytes.fromhex(digest))
            ok = True
        except (InvalidSignature, ValueError):
            ok = False
        if len(self._verified) >= _VERIFIED_CACHE:
            self._verified.clear()
        self._verified[key] = ok
        return ok


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

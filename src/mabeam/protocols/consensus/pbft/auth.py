"""Message authentication: HMAC-SHA256 per pair of parties, and signatures.

Keys come from a run seed: the key of the pair {i, j} is SHA-256(seed, "pair", min, max).
Two kinds of signature:

- **Ed25519** (the ``cryptography`` package) for what must convince third parties and be
  non-repudiable: checkpoints (their proofs travel in view changes and state transfers),
  view changes and new views. The private key of i is the Ed25519 key whose seed is
  SHA-256(seed, "ed25519", i); anyone verifies with i's *public* key, so holding every
  public key does not let a replica sign as another.
- the normal case (pre-prepares, prepares) keeps the paper's cheap symmetric scheme, a
  per-sender HMAC key SHA-256(seed, "sign", i) standing for a signature: it is checked on
  every request, where a public-key signature would cost ~100 µs per message.

A replica's core holds a :class:`Keyring` and uses it only for its own keys and to *verify*
others, so a byzantine replica cannot produce another's MAC or signature: a message claiming
another sender fails verification and is dropped and counted.

The MAC covers the message's canonical encoding (msgpack of the Struct with ``mac`` empty);
a signature covers the fields that make it a vote (see :func:`signed_fields`).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .messages import Checkpoint, NewView, Prepare, PrePrepare, Request, ViewChange

_encode = msgspec.msgpack.Encoder().encode


def canonical(message: Any) -> bytes:
    """The bytes a MAC covers: the message's type and every field but the last (``mac``;
    for a request, its authenticator ``auth``)."""
    return _encode((type(message).__name__, *msgspec.structs.astuple(message)[:-1]))


def signed_fields(message: Any) -> bytes:
    """The bytes a signature covers: what the message asserts, independent of its receiver."""
    if isinstance(message, PrePrepare):
        return _encode(("pre-prepare", message.src, message.view, message.seq, message.digest))
    if isinstance(message, Prepare):
        return _encode(("prepare", message.src, message.view, message.seq, message.digest))
    if isinstance(message, Checkpoint):
        return _encode(("checkpoint", message.src, message.seq, message.state))
    if isinstance(message, ViewChange | NewView):
        return _encode(msgspec.structs.replace(message, dst="", sig=b"", mac=b""))
    raise TypeError(f"{type(message).__name__} is not signed")


_VERIFIED_MAX = 4096
_PUBLIC_KEY_SIGNED = (Checkpoint, ViewChange, NewView)
"""Messages signed with Ed25519 (their proofs are shown to third parties)."""


class Keyring:
    """Every key of a run, derived from ``seed`` (see the module docstring)."""

    def __init__(self, seed: int | str) -> None:
        self.seed = str(seed)
        self._pairs: dict[tuple[str, str], bytes] = {}
        self._signing: dict[str, bytes] = {}
        self._private: dict[str, Ed25519PrivateKey] = {}
        self._public: dict[str, Ed25519PublicKey] = {}
        self._verified: dict[tuple[str, bytes, bytes], bool] = {}
        """Ed25519 checks done: the same certificate arrives many times (in view changes,
        new views, state transfers); the answer is a function of these exact bytes."""

    def pair_key(self, a: str, b: str) -> bytes:
        """The key shared by ``a`` and ``b`` (symmetric)."""
        pair = (a, b) if a <= b else (b, a)
        key = self._pairs.get(pair)
        if key is None:
            material = _encode((self.seed, "pair", pair[0], pair[1]))
            key = self._pairs[pair] = hashlib.sha256(material).digest()
        return key

    def _sign_key(self, party: str) -> bytes:
        key = self._signing.get(party)
        if key is None:
            key = self._signing[party] = hashlib.sha256(
                _encode((self.seed, "sign", party))
            ).digest()
        return key

    def private_key(self, party: str) -> Ed25519PrivateKey:
        """``party``'s Ed25519 signing key (only ``party`` itself uses it)."""
        key = self._private.get(party)
        if key is None:
            seed = hashlib.sha256(_encode((self.seed, "ed25519", party))).digest()
            key = self._private[party] = Ed25519PrivateKey.from_private_bytes(seed)
        return key

    def public_key(self, party: str) -> Ed25519PublicKey:
        """``party``'s Ed25519 verification key."""
        key = self._public.get(party)
        if key is None:
            key = self._public[party] = self.private_key(party).public_key()
        return key

    def mac_bytes(self, src: str, dst: str, data: bytes) -> bytes:
        """HMAC-SHA256 of ``data`` under the pair key of ``src`` and ``dst``."""
        return hmac.digest(self.pair_key(src, dst), data, "sha256")

    def seal(self, message: Any) -> Any:
        """``message`` with its ``mac`` set for its (src, dst)."""
        mac = self.mac_bytes(message.src, message.dst, canonical(message))
        return msgspec.structs.replace(message, mac=mac)

    def check(self, message: Any) -> bool:
        """Whether ``message.mac`` is the MAC of its claimed sender for its receiver."""
        mac = self.mac_bytes(message.src, message.dst, canonical(message))
        return hmac.compare_digest(mac, message.mac)

    def sign(self, message: Any) -> Any:
        """``message`` with ``sig`` set by its ``src`` (only the sender's own key is used)."""
        data = signed_fields(message)
        if isinstance(message, _PUBLIC_KEY_SIGNED):
            sig = self.private_key(message.src).sign(data)
        else:
            sig = hmac.digest(self._sign_key(message.src), data, "sha256")
        return msgspec.structs.replace(message, sig=sig)

    def verify(self, message: Any) -> bool:
        """Whether ``message.sig`` is its ``src``'s signature (Ed25519 with its public key
        for checkpoints, view changes and new views)."""
        data = signed_fields(message)
        if isinstance(message, _PUBLIC_KEY_SIGNED):
            if not isinstance(message.sig, bytes) or not isinstance(message.src, str):
                return False
            key = (message.src, message.sig, data)
            known = self._verified.get(key)
            if known is None:
                try:
                    self.public_key(message.src).verify(message.sig, data)
                    known = True
                except InvalidSignature:
                    known = False
                if len(self._verified) >= _VERIFIED_MAX:
                    self._verified.clear()
                self._verified[key] = known
            return known
        sig = hmac.digest(self._sign_key(message.src), data, "sha256")
        return hmac.compare_digest(sig, message.sig)

    def authenticator(self, request: Request, replicas: tuple[str, ...]) -> Request:
        """``request`` with one MAC per replica (the client's authenticator)."""
        data = canonical(request)
        auth = tuple(self.mac_bytes(request.client, r, data) for r in replicas)
        return msgspec.structs.replace(request, auth=auth)

    def check_request(self, request: Request, replica: str, position: int) -> bool:
        """Whether the client's MAC for ``replica`` (at ``position``) is right."""
        if not 0 <= position < len(request.auth):
            return False
        mac = self.mac_bytes(request.client, replica, canonical(request))
        return hmac.compare_digest(mac, request.auth[position])

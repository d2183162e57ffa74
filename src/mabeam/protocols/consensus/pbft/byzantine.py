"""Byzantine replicas as network interceptors: ``(payload, receiver) -> payload | DROP``.

A byzantine replica holds its own keys (it may MAC and sign whatever it likes as itself) but
not anyone else's. Behaviours (PROTOCOLS.md ``behavior``):

- ``silent``: sends nothing.
- ``equivocate``: as primary, sends the real batch to some backups and a different one (the
  null request) to the others; as backup, sends its prepares and commits with a different
  digest to every other receiver.
- ``wrong_digest``: every pre-prepare, prepare and commit carries a wrong digest, every
  reply a wrong result and every batch it reports executed (state transfer) a wrong
  digest (all properly authenticated as itself).
- ``forge_sender``: claims to be another replica (its MAC cannot match: dropped, counted).
- ``random``: sends garbage instead of each message (never crashes a correct replica).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import Any

import msgspec

from ...._errors import ConfigError
from ....sim import DROP, Interceptor
from .auth import Keyring, canonical
from .messages import Commit, Help, Prepare, PrePrepare, Reply
from .replica import NULL_DIGEST

BEHAVIORS = ("silent", "equivocate", "wrong_digest", "forge_sender", "random")


def _wrong(digest: str) -> str:
    return hashlib.sha256(f"wrong:{digest}".encode()).hexdigest()


def _reseal(keyring: Keyring, message: Any) -> Any:
    if isinstance(message, PrePrepare | Prepare):
        message = keyring.sign(message)
    return keyring.seal(message)


def interceptor(
    behavior: str,
    agent: str,
    replicas: Sequence[str],
    keyring: Keyring,
    rng: random.Random,
) -> Interceptor:
    """The interceptor for ``agent`` behaving as ``behavior`` (see the module docstring)."""
    replicas = tuple(replicas)
    replace = msgspec.structs.replace
    if behavior == "silent":
        return lambda payload, receiver: DROP
    if behavior == "random":
        return lambda payload, receiver: _garbage(rng, agent, receiver)
    if behavior == "wrong_digest":

        def wrong_digest(payload: Any, receiver: str) -> Any:
            if isinstance(payload, PrePrepare | Prepare | Commit):
                return _reseal(keyring, replace(payload, digest=_wrong(payload.digest)))
            if isinstance(payload, Reply):
                forged = tuple(
                    replace(entry, result=f"forged:{entry.result!r}") for entry in payload.results
                )
                return keyring.seal(replace(payload, results=forged))
            if isinstance(payload, Help) and payload.batches:
                lies = tuple(replace(b, digest=_wrong(b.digest)) for b in payload.batches)
                return keyring.seal(replace(payload, batches=lies))
            return payload

        return wrong_digest
    if behavior == "equivocate":

        def equivocate(payload: Any, receiver: str) -> Any:
            odd = receiver in replicas and replicas.index(receiver) % 2 == 1
            if isinstance(payload, PrePrepare) and odd and payload.requests:
                return _reseal(keyring, replace(payload, digest=NULL_DIGEST, requests=()))
            if isinstance(payload, Prepare | Commit) and odd:
                return _reseal(keyring, replace(payload, digest=_wrong(payload.digest)))
            return payload

        return equivocate
    if behavior == "forge_sender":

        def forge(payload: Any, receiver: str) -> Any:
            src = getattr(payload, "src", None)
            if not isinstance(src, str) or src != agent:
                return payload
            others = [r for r in replicas if r not in (agent, receiver)]
            if not others:
                return payload
            forged = replace(payload, src=others[0], mac=b"")
            mac = keyring.mac_bytes(agent, receiver, canonical(forged))
            return replace(forged, mac=mac)

        return forge
    raise ConfigError(
        "behavior", f"unknown byzantine behavior {behavior!r}", allowed=", ".join(BEHAVIORS)
    )


def _garbage(rng: random.Random, agent: str, receiver: str) -> Any:
    """Something that is not a valid message (bytes, junk structs, wrong types)."""
    choice = rng.randrange(6)
    if choice == 0:
        return rng.randbytes(8).hex()
    if choice == 1:
        return {"type": "Prepare", "view": "x"}
    if choice == 2:
        return Prepare(agent, receiver, rng.randrange(-5, 5), rng.randrange(-5, 500), "00")
    if choice == 3:
        return Commit(agent, receiver, 0, 1, rng.randbytes(4).hex(), mac=rng.randbytes(32))
    if choice == 4:
        return PrePrepare(agent, receiver, "view", None, 3)  # type: ignore[arg-type]
    return None

"""What proof-of-authority validators exchange: blocks, announcements, sync, submissions.

All are frozen msgspec Structs that cross actor boundaries as values. A :class:`Block`
carries its own hash and its signer's seal; receivers recompute and check both (see
:mod:`.block`), so the fields are never trusted as sent.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import msgspec


class Tx(msgspec.Struct, frozen=True, array_like=True):
    """One proposal (transaction) in a block: a submitter-chosen unique ``id`` and a value."""

    id: str
    value: Any = None


class Block(msgspec.Struct, frozen=True, tag=True):
    """A sealed block: ``hash`` = SHA-256 over (parent, height, signer, proposals).

    ``signature`` is the signer's Ed25519 signature (hex) over ``hash``, as Clique seals
    headers (see :mod:`.block`). Genesis has height 0, no signer,
    no seal.
    """

    parent: str
    height: int
    signer: str
    proposals: tuple[Tx, ...]
    hash: str
    signature: str


class NewBlock(msgspec.Struct, frozen=True, tag=True):
    """Validator -> validators: a block it sealed (or adopted), announced once."""

    sender: str
    block: Block


class BlockRequest(msgspec.Struct, frozen=True, tag=True):
    """Sync: send me the block ``hash`` and up to ``count - 1`` of its ancestors."""

    sender: str
    hash: str
    count: int


class Blocks(msgspec.Struct, frozen=True, tag=True):
    """Sync answer: a run of blocks, oldest first, ending at the requested hash."""

    sender: str
    blocks: tuple[Block, ...]


class Submit(msgspec.Struct, frozen=True, tag=True):
    """Client -> validator: include this proposal in a block you seal."""

    tx: Tx


ChainMessage: TypeAlias = NewBlock | BlockRequest | Blocks | Submit
"""Every message a validator accepts from the network."""

"""A proof-of-authority validator as a pure core: ``step``, ``tick``, ``deadline``, ``ready``.

Sans-IO in the style of the Raft node next door: feed it messages with
``step(message, now)`` and time with ``tick(now)`` (milliseconds), arm one timer at
``deadline()``, then take what it produced with ``ready()`` (messages to send, blocks made
final, blocks rejected). Chain rules live in :mod:`.tree`, hashing and seals in
:mod:`.block`.

Sealing schedule (Clique's, on virtual time): when its head changes to block h - 1, a
validator that may seal block h (the signing limit) waits ``period_ms`` if it is h's
in-turn signer, else ``period_ms + wiggle_ms * (1 + u * (floor(N/2) + 1))`` with ``u``
uniform in [0, 1) from the injected ``random.Random`` (Clique: a random wiggle of up to
``(N/2 + 1) * 500 ms``; here the out-of-turn signers also always give the in-turn one at
least one ``wiggle_ms`` head start). It then seals the pending proposals its chain does
not hold yet and announces the block to every peer. A head unchanged for ``resync_ms``
(default ``5 * period_ms``) is announced again, so a lost announcement or sync answer
cannot stall the chain (every validator may be waiting on the signing limit). A block
whose parent is unknown is kept aside and its oldest missing ancestor asked from the
sender (:class:`BlockRequest`, answered with up to ``sync_batch`` blocks), so a node that
was cut off catches up. Anything that is not a chain message, or a block that fails
verification or the chain rules, is counted and dropped: a byzantine peer can never
crash a correct validator.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import msgspec

from ...._errors import ConfigError
from .block import Keyring, encodable
from .messages import Block, BlockRequest, Blocks, NewBlock, Submit, Tx
from .tree import BlockTree


class ChainConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Timing and limits of the validators (milliseconds)."""

    period_ms: float = 20.0
    wiggle_ms: float = 10.0
    finality_depth: int | None = None  # blocks after the lock; None: floor(N/2) + 1
    sync_batch: int = 64
    max_orphans: int = 4096
    max_block_proposals: int = 1024
    max_pending: int = 65_536
    resync_ms: float | None = None  # None: 5 * period_ms


class Outbound(msgspec.Struct, frozen=True):
    """A message for the validator registered as ``dst``."""

    dst: str
    message: NewBlock | BlockRequest | Blocks


class Rejected(msgspec.Struct, frozen=True):
    """A block refused: its hash as sent, its signer as sent, why."""

    hash: str
    signer: str
    reason: str


class Ready(msgspec.Struct):
    """What the core produced since the last ``ready()``."""

    messages: list[Outbound]
    finalized: list[Block]
    rejected: list[Rejected]
    sealed: list[Block]

    def outbox(self) -> list[tuple[str, Any]]:
        """``messages`` as (validator, message) pairs: what an actor shell sends."""
        return [(out.dst, out.message) for out in self.messages]


class Validator:
    """One validator (see the module docstring); ``tree`` is its durable state."""

    def __init__(
        self,
        node_id: str,
        tree: BlockTree,
        keyring: Keyring,
        config: ChainConfig,
        rng: random.Random,
        *,
        now: float = 0.0,
    ) -> None:
        if node_id not in tree.index:
            raise ConfigError("node_id", f"{node_id!r} is not a validator")
        self.node_id = node_id
        self.tree = tree
        self.keyring = keyring.for_signer(node_id)  # seals as itself, no one else
        self.config = config
        self.rng = rng
        self.peers = tuple(v for v in tree.validators if v != node_id)
        self.pending: dict[str, Tx] = {}
        self.garbage = 0
        self.rejections = 0
        self._orphans: dict[str, list[tuple[str, Block]]] = {}
        self._orphan_count = 0
        self._orphan_hashes: dict[str, str] = {}  # waiting block -> its parent
        self._requested: dict[str, float] = {}
        self._out: list[Outbound] = []
        self._final: list[Block] = []
        self._rejected: list[Rejected] = []
        self._sealed: list[Block] = []
        self._seal_at = math.inf
        self._scheduled_on = ""
        self._resync = config.resync_ms if config.resync_ms is not None else 5 * config.period_ms
        self._announce_at = now + self._resync
        self._schedule(now)

    # ------------------------------------------------------------------ inputs

    def step(self, message: Any, now: float) -> None:
        """Take one message from the network (anything else is counted as garbage)."""
        if isinstance(message, NewBlock) and isinstance(message.block, Block):
            self._receive(message.block, str(message.sender), now)
        elif isinstance(message, Blocks) and isinstance(message.blocks, tuple):
            for block in message.blocks:
                if isinstance(block, Block):
                    self._receive(block, str(message.sender), now)
                else:
                    self.garbage += 1
        elif isinstance(message, BlockRequest) and isinstance(message.hash, str):
            self._answer(message)
        elif isinstance(message, Submit) and isinstance(message.tx, Tx):
            self.submit(message.tx, now)
        else:
            self.garbage += 1

    def submit(self, tx: Tx, now: float) -> None:
        """Queue a proposal for the next block this validator seals (once per id)."""
        if not isinstance(tx.id, str) or tx.id in self.tree.included(self.tree.head.hash):
            return
        if tx.id not in self.pending and not encodable(tx):
            self.garbage += 1  # a block holding it could not be hashed
            return
        if tx.id not in self.pending and len(self.pending) < self.config.max_pending:
            self.pending[tx.id] = tx

    def tick(self, now: float) -> None:
        """Seal a block if the time has come; announce the head again if it is stale."""
        if now >= self._announce_at:
            self._announce_at = now + self._resync
            head = self.tree.head
            if head.height > 0:
                announce = NewBlock(self.node_id, head)
                self._out.extend(Outbound(peer, announce) for peer in self.peers)
        if now < self._seal_at:
            return
        tree = self.tree
        head = tree.head
        if self._scheduled_on != head.hash or not tree.may_seal(head, self.node_id):
            self._schedule(now)
            return
        included = tree.included(head.hash)
        proposals = tuple(tx for tx in self.pending.values() if tx.id not in included)[
            : self.config.max_block_proposals
        ]
        block = self.keyring.sign(head, self.node_id, proposals)
        tree.sealed(block)
        self._sealed.append(block)
        self._accept(block, now)
        announce = NewBlock(self.node_id, block)
        self._out.extend(Outbound(peer, announce) for peer in self.peers)

    def deadline(self) -> float:
        """When ``tick`` next has something to do."""
        return min(self._seal_at, self._announce_at)

    def ready(self) -> Ready:
        """Take the messages, final blocks, rejections and sealed blocks produced so far."""
        ready = Ready(self._out, self._final, self._rejected, self._sealed)
        self._out, self._final, self._rejected, self._sealed = [], [], [], []
        return ready

    # ------------------------------------------------------------------ blocks

    def _receive(self, block: Block, sender: str, now: float) -> None:
        tree = self.tree
        if isinstance(block.hash, str) and block.hash in tree:
            return
        reason = self.keyring.verify(block)
        if reason is None and block.height <= tree.finalized.height:
            return  # not above this node's final block: it cannot change anything
        if reason is None and block.parent not in tree:
            self._orphan(block, sender, now)
            return
        if reason is None:
            reason = tree.check(block)
        if reason is not None:
            self.rejections += 1
            self._rejected.append(Rejected(str(block.hash), str(block.signer), reason))
            return
        self._accept(block, now)

    def _accept(self, block: Block, now: float) -> None:
        """Add a valid block, then the orphans waiting for it; reschedule if the head moved."""
        tree = self.tree
        head = tree.head.hash
        queue = [block]
        while queue:
            current = queue.pop()
            final = tree.add(current)
            if final:
                self._final.extend(final)
                self._drop_included()
            self._requested.pop(current.hash, None)
            waiting = self._orphans.pop(current.hash, None)
            if waiting:
                self._orphan_count -= len(waiting)
                for _sender, orphan in waiting:
                    self._orphan_hashes.pop(orphan.hash, None)
                    if orphan.hash in tree:
                        continue
                    reason = tree.check(orphan)
                    if reason is None:
                        queue.append(orphan)
                    else:
                        self.rejections += 1
                        self._rejected.append(Rejected(orphan.hash, orphan.signer, reason))
        if tree.head.hash != head:
            self._schedule(now)

    def _drop_included(self) -> None:
        if not self.pending:
            return
        included = self.tree.included(self.tree.finalized.hash)
        for tx_id in [i for i in self.pending if i in included]:
            del self.pending[tx_id]

    def _orphan(self, block: Block, sender: str, now: float) -> None:
        """Keep a block whose parent is unknown; ask the sender for the missing ancestry.

        Only the oldest missing link of the waiting run is asked for, the same hash again
        only after ``4 * period_ms``. At ``max_orphans`` the
        waiting blocks are forgotten (the next announcement starts a fresh sync).
        """
        if block.hash not in self._orphan_hashes:
            if self._orphan_count >= self.config.max_orphans:
                self._orphans.clear()
                self._orphan_hashes.clear()
                self._orphan_count = 0
            self._orphans.setdefault(block.parent, []).append((sender, block))
            self._orphan_hashes[block.hash] = block.parent
            self._orphan_count += 1
        if sender not in self.tree.index:
            return
        missing = block.parent
        while missing in self._orphan_hashes:
            missing = self._orphan_hashes[missing]
        asked = self._requested.get(missing)
        if asked is not None and now - asked < 4.0 * self.config.period_ms:
            return
        self._requested[missing] = now
        request = BlockRequest(self.node_id, missing, self.config.sync_batch)
        self._out.append(Outbound(sender, request))

    def _answer(self, request: BlockRequest) -> None:
        sender = request.sender
        if not isinstance(sender, str) or sender not in self.tree.index:
            self.garbage += 1
            return
        count = request.count if type(request.count) is int else 1
        count = max(1, min(count, self.config.sync_batch))
        blocks = self.tree.ancestors(request.hash, count)
        if blocks:
            self._out.append(Outbound(sender, Blocks(self.node_id, tuple(blocks))))

    # ------------------------------------------------------------------ schedule

    def _schedule(self, now: float) -> None:
        tree = self.tree
        head = tree.head
        self._scheduled_on = head.hash
        self._announce_at = now + self._resync
        if not tree.may_seal(head, self.node_id):
            self._seal_at = math.inf
            return
        config = self.config
        delay = config.period_ms
        if not tree.in_turn(head.height + 1, self.node_id):
            spread = len(tree.validators) // 2 + 1
            delay += config.wiggle_ms * (1.0 + self.rng.random() * spread)
        self._seal_at = now + delay


def make_validators(
    node_ids: Sequence[str], keyring: Keyring, config: ChainConfig, seed: int | str
) -> dict[str, Validator]:
    """One validator per id, each with its own tree and a Random seeded from ``seed``."""
    return {
        node_id: Validator(
            node_id,
            BlockTree(node_ids, config.finality_depth),
            keyring,
            config,
            random.Random(f"{seed}:{node_id}"),
        )
        for node_id in node_ids
    }

"""The block tree: every accepted block, fork choice and finality (pure, no I/O).

Rules (Clique, EIP-225, as PROTOCOLS.md states them):

- block h's in-turn signer is the validator at position ``h mod N``: weight 2; any other
  validator's block weighs 1. A chain's weight is the sum of its blocks' weights.
- the signing limit: a validator signs at most one of any ``floor(N/2) + 1`` consecutive
  blocks, so a block is valid only if its signer sealed none of the ``floor(N/2)``
  blocks before it.
- fork choice: the heaviest chain; equal weights go to the smaller head hash. The choice
  is a function of the set of blocks held, never of their arrival order.
- finality (Clique itself has none; PROTOCOLS.md asks for a depth). Depth alone is not
  safe: with message loss a validator may seal on one fork, switch to a heavier one and
  seal there too, so two forks can each reach any depth (seed 3023 of the randomized
  checker finalized two blocks at height 1 that way). So finality has two steps, after
  Casper FFG's justify-then-finalize:

  1. *lock*: a block with ``L = floor(N/2) + 1`` blocks on top of it on the chosen chain
     has been built on by L distinct validators (the signing limit makes any L
     consecutive blocks distinct signers: a majority). The deepest such block of the
     head chain is the node's lock; fork choice only considers chains through the lock,
     so a validator never leaves a locked block again.
  2. *final*: a block is final once ``finality_depth`` more blocks (default L) are built
     on top of the point where it was locked: head height >= its height + L +
     finality_depth. Those blocks were sealed by validators already locked on it, at
     least L distinct ones (a majority) when ``finality_depth >= L``; two conflicting
     final blocks would need an honest validator locked on both.

  A minority of at most ``floor(N/2)`` validators extends a fork by at most that many
  blocks: it can neither lock nor finalize on its own, and it rejoins the majority's
  chain once healed. The price of the lock is liveness under heavy loss: validators
  locked on a fork that lost (two forks each built on by a majority, which takes
  validators sealing on both) stay on it; they finalize nothing wrong, but stop helping
  (in the random checker with 5-30 % loss, a minority of validators in about 3 % of
  runs). Casper-style unlocking to a higher lock would need slashing-style rules.

A :class:`BlockTree` is a node's durable state: a restarted validator keeps it.
"""

from __future__ import annotations

from collections.abc import Sequence

from .block import genesis
from .messages import Block


class _Entry:
    """A connected block with what its chain implies (weight, recent signers, proposals)."""

    __slots__ = ("block", "included", "parent", "recent", "weight")

    def __init__(
        self,
        block: Block,
        parent: _Entry | None,
        weight: int,
        recent: tuple[str, ...],
        included: frozenset[str],
    ) -> None:
        self.block = block
        self.parent = parent
        self.weight = weight
        self.recent = recent
        self.included = included


def signing_limit(validators: int) -> int:
    """A validator signs at most one of any ``floor(N/2) + 1`` consecutive blocks."""
    return validators // 2 + 1


class BlockTree:
    """Accepted blocks, the chosen head and the last final block (see the module docstring)."""

    def __init__(
        self,
        validators: Sequence[str],
        finality_depth: int | None = None,
        *,
        lock_depth: int | None = None,
    ) -> None:
        if not validators:
            raise ValueError("validators: at least one is needed")
        self.validators = tuple(validators)
        self.index = {v: i for i, v in enumerate(self.validators)}
        limit = signing_limit(len(self.validators))
        self.window = limit - 1
        self.finality_depth = limit if finality_depth is None else finality_depth
        if self.finality_depth < 1:
            raise ValueError("finality_depth: must be >= 1")
        self.lock_depth = limit if lock_depth is None else lock_depth
        """Blocks on top that lock a block (L; a huge value: plain heaviest chain)."""
        if self.lock_depth < 1:
            raise ValueError("lock_depth: must be >= 1")
        root = genesis()
        entry = _Entry(root, None, 0, (), frozenset())
        self._entries: dict[str, _Entry] = {root.hash: entry}
        self.genesis = root
        self._head = entry
        self._lock = entry
        self._final = entry

    # ------------------------------------------------------------------ queries

    def __contains__(self, digest: object) -> bool:
        return digest in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def blocks(self) -> list[Block]:
        """Every block held (forks too), in the order they were added, genesis first."""
        return [entry.block for entry in self._entries.values()]

    def get(self, digest: str) -> Block | None:
        entry = self._entries.get(digest)
        return None if entry is None else entry.block

    @property
    def head(self) -> Block:
        return self._head.block

    @property
    def head_weight(self) -> int:
        return self._head.weight

    @property
    def finalized(self) -> Block:
        return self._final.block

    @property
    def locked(self) -> Block:
        """The deepest block with ``lock_depth`` blocks on top on the head chain."""
        return self._lock.block

    def weight(self, digest: str) -> int:
        return self._entries[digest].weight

    def in_turn(self, height: int, signer: str) -> bool:
        """Whether ``signer`` is block ``height``'s in-turn signer."""
        return self.index.get(signer) == height % len(self.validators)

    def may_sign(self, parent: Block, signer: str) -> bool:
        """Whether ``signer`` may seal the block after ``parent`` (the signing limit)."""
        return signer in self.index and signer not in self._entries[parent.hash].recent

    def included(self, digest: str) -> frozenset[str]:
        """Ids of the proposals in the chain ending at ``digest``."""
        return self._entries[digest].included

    def chain(self, digest: str | None = None, since: int = 0) -> list[Block]:
        """The blocks of the chain ending at ``digest`` (default: the head) from ``since``."""
        entry: _Entry | None = self._entries[digest] if digest is not None else self._head
        out: list[Block] = []
        while entry is not None and entry.block.height >= since:
            out.append(entry.block)
            entry = entry.parent
        out.reverse()
        return out

    def ancestors(self, digest: str, count: int) -> list[Block]:
        """Up to ``count`` blocks ending at ``digest``, oldest first (genesis excluded)."""
        entry: _Entry | None = self._entries.get(digest)
        out: list[Block] = []
        while entry is not None and entry.block.height > 0 and len(out) < count:
            out.append(entry.block)
            entry = entry.parent
        out.reverse()
        return out

    # ------------------------------------------------------------------ updates

    def check(self, block: Block) -> str | None:
        """Why ``block`` (authentic, parent held) breaks the chain rules, or None."""
        parent = self._entries[block.parent]
        if block.height != parent.block.height + 1:
            return "bad_height"
        if block.signer in parent.recent:
            return "signing_limit"
        ids = [tx.id for tx in block.proposals]
        if len(set(ids)) != len(ids) or not parent.included.isdisjoint(ids):
            return "duplicate_proposal"
        if block.height <= self._lock.block.height:
            return "below_lock"
        return None

    def add(self, block: Block) -> list[Block]:
        """Store a checked block (parent held); re-choose the head; return blocks made final.

        The caller has verified the seal and :meth:`check` passed.
        """
        if block.hash in self._entries:
            return []
        parent = self._entries[block.parent]
        weight = parent.weight + (2 if self.in_turn(block.height, block.signer) else 1)
        recent = (*parent.recent, block.signer)[-self.window :] if self.window else ()
        included = parent.included
        if block.proposals:
            included = included | {tx.id for tx in block.proposals}
        entry = _Entry(block, parent, weight, recent, included)
        self._entries[block.hash] = entry
        if not self._better(entry, self._head) or not self._extends(entry, self._lock):
            return []
        self._head = entry
        self._lock = self._ancestor(entry, entry.block.height - self.lock_depth, self._lock)
        return self._finalize()

    @staticmethod
    def _better(a: _Entry, b: _Entry) -> bool:
        """Heavier, or as heavy with the smaller head hash."""
        return a.weight > b.weight or (a.weight == b.weight and a.block.hash < b.block.hash)

    @staticmethod
    def _extends(entry: _Entry, base: _Entry) -> bool:
        """Whether ``base`` is ``entry`` or one of its ancestors."""
        height = base.block.height
        node: _Entry | None = entry
        while node is not None and node.block.height > height:
            node = node.parent
        return node is base

    @staticmethod
    def _ancestor(entry: _Entry, height: int, floor: _Entry) -> _Entry:
        """``entry``'s ancestor at ``height``, or ``floor`` if that is not above it."""
        if height <= floor.block.height:
            return floor
        node = entry
        while node.block.height > height and node.parent is not None:
            node = node.parent
        return node

    def _finalize(self) -> list[Block]:
        target = self._head.block.height - self.lock_depth - self.finality_depth
        if target <= self._final.block.height:
            return []
        newly: list[Block] = []
        node: _Entry | None = self._head
        while node is not None and node is not self._final:
            if node.block.height <= target:
                newly.append(node.block)
            node = node.parent
        newly.reverse()
        self._final = self._entries[newly[-1].hash]
        return newly

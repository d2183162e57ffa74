"""The block tree: every accepted block, fork choice and finality (pure, no I/O).

Rules (Clique, EIP-225, as PROTOCOLS.md states them):

- block h's in-turn signer is the validator at position ``h mod N``: weight 2; any other
  validator's block weighs 1. A chain's weight is the sum of its blocks' weights.
- the signing limit: a validator signs at most one of any ``floor(N/2) + 1`` consecutive
  blocks, so a block is valid only if its signer sealed none of the ``floor(N/2)``
  blocks before it.
- fork choice: the heaviest chain; equal weights go to the smaller head hash. The choice
  is a function of the set of blocks held, never of their arrival order.
- finality: a block is final once ``finality_depth`` blocks are built on it on the chosen
  chain (head height >= its height + depth). A final block is never given up: fork choice
  only considers chains through the last final block. (Clique itself has no finality; the
  signing limit is what makes this safe: a minority of at most ``floor(N/2)`` validators
  can extend a fork by at most ``floor(N/2)`` blocks, fewer than the default depth.)

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

    def __init__(self, validators: Sequence[str], finality_depth: int | None = None) -> None:
        if not validators:
            raise ValueError("validators: at least one is needed")
        self.validators = tuple(validators)
        self.index = {v: i for i, v in enumerate(self.validators)}
        self.window = signing_limit(len(self.validators)) - 1
        self.finality_depth = (
            signing_limit(len(self.validators)) if finality_depth is None else finality_depth
        )
        if self.finality_depth < 1:
            raise ValueError("finality_depth: must be >= 1")
        root = genesis()
        entry = _Entry(root, None, 0, (), frozenset())
        self._entries: dict[str, _Entry] = {root.hash: entry}
        self.genesis = root
        self._head = entry
        self._final = entry

    # ------------------------------------------------------------------ queries

    def __contains__(self, digest: object) -> bool:
        return digest in self._entries

    def __len__(self) -> int:
        return len(self._entries)

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
        if block.height <= self._final.block.height:
            return "below_finality"
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
        if self._better(entry, self._head) and self._extends_final(entry):
            self._head = entry
            return self._finalize()
        return []

    @staticmethod
    def _better(a: _Entry, b: _Entry) -> bool:
        """Heavier, or as heavy with the smaller head hash."""
        return a.weight > b.weight or (a.weight == b.weight and a.block.hash < b.block.hash)

    def _extends_final(self, entry: _Entry) -> bool:
        final = self._final
        height = final.block.height
        node: _Entry | None = entry
        while node is not None and node.block.height > height:
            node = node.parent
        return node is final

    def _finalize(self) -> list[Block]:
        target = self._head.block.height - self.finality_depth
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

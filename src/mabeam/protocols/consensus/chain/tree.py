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
  seal there too, so two forks can each reach any depth. So finality has two steps, after
  Casper FFG's justify-then-finalize, with ``L = floor(N/2) + 1`` (``lock_depth``) and
  ``F`` (``finality_depth``, default L):

  1. *commit (the lock)*: when a validator seals a block on parent P it commits to the
     ancestor of P at height ``P.height - L`` (a block built on by L distinct validators,
     a majority: the signing limit makes any L consecutive blocks distinct signers).
     Its commit only moves up, and fork choice only considers chains through it (and
     through the last final block). A validator also never seals at a height at or
     below one it already sealed (so its seals are ordered in time by height).
  2. *final*: a block X is final once ``F`` more blocks are built above the point where
     it was locked: head height >= ``X.height + L + F``. The blocks at heights
     ``X.height + L + 1 .. X.height + L + F`` were sealed by validators committed to X
     (or above it): at least L distinct ones when F >= L.
  3. *unlock (escape)*: a validator committed to C may leave C for a chain Q that does not
     contain C only if Q holds blocks above height ``C.height + L + F`` sealed by at
     least L distinct validators (a later, conflicting chain built on by a majority).
     Its commit drops to the fork point; its next seal commits it again.

  Safety (docs/consensus-chain.md has the full argument): if X is final, the earliest
  escape away from X by a validator committed above X needs a majority sealing on a
  chain without X above ``X.height + L + F``; that majority meets X's finality window
  signers in an honest validator u, whose later seal (higher height) on a chain without
  X means u left X earlier: a contradiction. A minority locked on a losing fork comes
  back as soon as the majority's chain passes the escape height.

A :class:`BlockTree` is a node's durable state: a restarted validator keeps it.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...._errors import ConfigError
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
            raise ConfigError("validators", "at least one is needed")
        self.validators = tuple(validators)
        self.index = {v: i for i, v in enumerate(self.validators)}
        limit = signing_limit(len(self.validators))
        self.window = limit - 1
        self.finality_depth = limit if finality_depth is None else finality_depth
        if self.finality_depth < 1:
            raise ConfigError("finality_depth", "must be >= 1")
        self.lock_depth = limit if lock_depth is None else lock_depth
        """Blocks on top that lock a block (L; a huge value: plain heaviest chain)."""
        if self.lock_depth < 1:
            raise ConfigError("lock_depth", "must be >= 1")
        root = genesis()
        entry = _Entry(root, None, 0, (), frozenset())
        self._entries: dict[str, _Entry] = {root.hash: entry}
        self.genesis = root
        self._head = entry
        self._commit = entry
        self._final = entry
        self.last_sealed = 0
        """The highest height this node sealed (it never seals at or below it again)."""
        self.escapes = 0
        """How often this node left its commit for a conflicting majority chain."""

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
        """This node's commit: the lock it sealed on last (fork choice never leaves it)."""
        return self._commit.block

    def weight(self, digest: str) -> int:
        return self._entries[digest].weight

    def in_turn(self, height: int, signer: str) -> bool:
        """Whether ``signer`` is block ``height``'s in-turn signer."""
        return self.index.get(signer) == height % len(self.validators)

    def may_sign(self, parent: Block, signer: str) -> bool:
        """Whether ``signer`` may seal the block after ``parent`` (the signing limit)."""
        return signer in self.index and signer not in self._entries[parent.hash].recent

    def may_seal(self, parent: Block, signer: str) -> bool:
        """:meth:`may_sign`, and above every height this node sealed before."""
        return parent.height >= self.last_sealed and self.may_sign(parent, signer)

    def sealed(self, block: Block) -> None:
        """This node sealed ``block`` (its parent is the head): commit to its lock."""
        parent = self._entries[block.parent]
        self.last_sealed = max(self.last_sealed, block.height)
        self._commit = self._ancestor(parent, parent.block.height - self.lock_depth, self._commit)

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
            return "below_final"
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
        if not self._better(entry, self._head) or not self._eligible(entry):
            return []
        if not self._extends(entry, self._commit):
            self._escape(entry)
        else:
            self._head = entry
        return self._finalize()

    def _eligible(self, entry: _Entry) -> bool:
        """Through the final block, and through the commit or a majority chain past it."""
        if not self._extends(entry, self._final):
            return False
        return self._extends(entry, self._commit) or self._escape_proof(entry)

    def _escape_proof(self, entry: _Entry) -> bool:
        """L distinct signers above ``commit + L + F`` on ``entry``'s chain."""
        floor = self._commit.block.height + self.lock_depth + self.finality_depth
        signers: set[str] = set()
        node: _Entry | None = entry
        while node is not None and node.block.height > floor:
            signers.add(node.block.signer)
            if len(signers) >= self.lock_depth:
                return True
            node = node.parent
        return False

    def _escape(self, entry: _Entry) -> None:
        """Leave the commit for ``entry``'s chain: the commit drops to the fork point."""
        self.escapes += 1
        a: _Entry | None = entry
        b: _Entry | None = self._commit
        while a is not None and b is not None and a is not b:
            if a.block.height >= b.block.height:
                a = a.parent
            else:
                b = b.parent
        assert a is not None
        self._commit = a
        # Chains refused while the commit was higher may be eligible now: choose again.
        best = entry
        for other in self._entries.values():
            if self._better(other, best) and self._eligible(other):
                best = other
        self._head = best

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

"""Chain rules of the block tree: signing limit (B3), fork choice (B8), lock and finality."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mabeam.protocols.consensus.chain import (
    Block,
    BlockTree,
    ChainConfig,
    Keyring,
    NewBlock,
    Tx,
    Validator,
    signing_limit,
)

IDS = ["v1", "v2", "v3", "v4", "v5"]
KEYS = Keyring.from_seed(3, IDS)
NEVER = 10**9
"""A lock / finality depth no test chain reaches: plain heaviest-chain fork choice."""


def extend(tree: BlockTree, signers: list[str], parent: Block | None = None) -> list[Block]:
    """Seal one block per signer on ``parent`` (default: the head) and add them."""
    blocks = []
    parent = tree.head if parent is None else parent
    for signer in signers:
        block = KEYS.sign(parent, signer, ())
        assert tree.check(block) is None, signer
        tree.add(block)
        blocks.append(block)
        parent = block
    return blocks


def test_signing_limit_is_floor_half_plus_one() -> None:
    """A validator signs at most one of any floor(N/2) + 1 consecutive blocks."""
    assert [signing_limit(n) for n in (1, 2, 3, 4, 5, 6, 7)] == [1, 2, 2, 3, 3, 4, 4]


def test_second_block_within_the_window_is_rejected() -> None:
    """B3: on N = 5 a signer of one of the last 2 blocks may not seal the next one."""
    tree = BlockTree(IDS)
    extend(tree, ["v2", "v3"])
    for signer in ("v2", "v3"):
        assert not tree.may_sign(tree.head, signer)
        assert tree.check(KEYS.sign(tree.head, signer, ())) == "signing_limit"
    assert tree.may_sign(tree.head, "v4")
    extend(tree, ["v4"])
    assert tree.may_sign(tree.head, "v2")  # v2 sealed 3 blocks ago: allowed again
    assert tree.check(KEYS.sign(tree.head, "v2", ())) is None


def test_validator_rejects_a_block_over_the_signing_limit() -> None:
    """B3: another validator refuses the second block, sealed validly, within the window."""
    tree = BlockTree(IDS)
    validator = Validator("v1", tree, KEYS, ChainConfig(), random.Random(1))
    first = KEYS.sign(tree.head, "v2", ())
    second = KEYS.sign(first, "v2", ())
    validator.step(NewBlock("v2", first), 1.0)
    validator.step(NewBlock("v2", second), 2.0)
    ready = validator.ready()
    assert [(r.hash, r.reason) for r in ready.rejected] == [(second.hash, "signing_limit")]
    assert tree.head == first


def test_duplicate_proposal_and_bad_height_are_rejected() -> None:
    """A proposal already on the chain, or twice in a block, or a wrong height is refused."""
    tree = BlockTree(IDS)
    first = KEYS.sign(tree.head, "v2", (Tx("a"),))
    tree.add(first)
    assert tree.check(KEYS.sign(first, "v3", (Tx("a"),))) == "duplicate_proposal"
    assert tree.check(KEYS.sign(first, "v3", (Tx("b"), Tx("b")))) == "duplicate_proposal"
    wrong = KEYS.sign(Block(first.hash, 5, "", (), first.hash, ""), "v3", ())
    assert tree.check(wrong) == "bad_height"
    assert tree.included(first.hash) == frozenset({"a"})


def test_weights_in_turn_two_out_of_turn_one() -> None:
    """Block h's in-turn signer (position h mod N) adds 2 to the chain's weight, others 1."""
    tree = BlockTree(IDS)
    one, two = extend(tree, ["v2", "v4"])  # v2 in turn at 1, v4 out of turn at 2
    assert tree.weight(one.hash) == 2
    assert tree.weight(two.hash) == 3
    assert tree.head_weight == 3


def test_heavier_fork_wins_and_ties_go_to_the_smaller_hash() -> None:
    """Fork choice: the heaviest chain; equal weight: the smaller head hash, whatever came first."""
    tree = BlockTree(IDS, NEVER, lock_depth=NEVER)
    root = tree.head
    out_of_turn = extend(tree, ["v3"], root)[0]  # weight 1
    in_turn = extend(tree, ["v2"], root)[0]  # weight 2
    assert tree.head == in_turn
    twins = [KEYS.sign(in_turn, signer, ()) for signer in ("v1", "v4", "v5")]
    for twin in twins:
        tree.add(twin)
    assert tree.head.hash == min(t.hash for t in twins)
    assert out_of_turn.hash in tree


def test_lock_then_finality_depth() -> None:
    """N = 5: locked at 3 blocks on top, final after finality_depth (3) more: depth 6."""
    tree = BlockTree(IDS)
    blocks = extend(tree, ["v2", "v3", "v4", "v5", "v1"])
    assert tree.locked == tree.genesis  # a node commits only when it seals
    assert tree.finalized.height == 0
    finals = []
    for signer in ["v2", "v3", "v4"]:
        block = KEYS.sign(tree.head, signer, ())
        if signer == "v2":
            tree.sealed(block)  # this node seals on height 5: committed to height 2
            assert tree.locked == blocks[1]
            assert tree.last_sealed == 6
            assert not tree.may_seal(blocks[3], "v2")  # never again at or below 6
        finals += tree.add(block)
    assert [b.height for b in finals] == [1, 2]
    assert tree.finalized == blocks[1]
    assert [b.height for b in tree.chain(since=7)] == [7, 8]
    assert [b.height for b in tree.ancestors(tree.head.hash, 2)] == [7, 8]


def test_a_locked_block_is_never_left() -> None:
    """A heavier fork that does not contain the lock is stored but not chosen."""
    tree = BlockTree(IDS, lock_depth=2)
    root = tree.head
    mine = extend(tree, ["v3", "v4", "v5"], root)  # out of turn, in turn, in turn: 5
    own = KEYS.sign(tree.head, "v1", ())
    tree.sealed(own)
    tree.add(own)  # 6
    assert tree.locked == mine[0]
    heavier = extend_free(tree, root, ["v2", "v3", "v4", "v5"])  # 2 + 2 + 2 + 2 = 8
    assert tree.weight(heavier[-1].hash) > tree.head_weight
    assert tree.head == own
    assert tree.escapes == 0


def test_a_commit_is_left_for_a_later_majority_chain() -> None:
    """Escape: a conflicting chain with L distinct signers above commit + L + F wins."""
    tree = BlockTree(IDS, lock_depth=2)  # L = 2, F = 3: escape above height 1 + 2 + 3
    root = tree.head
    extend(tree, ["v3", "v4", "v5"], root)
    own = KEYS.sign(tree.head, "v1", ())
    tree.sealed(own)
    tree.add(own)
    other = extend_free(tree, root, ["v2", "v3", "v4", "v5", "v1", "v2"])  # heights 1..6
    first = extend_free(tree, other[-1], ["v3"])  # height 7
    assert tree.head == own  # only one signer (v3) above height 6 so far
    later = extend_free(tree, first[-1], ["v4"])  # height 8: v3 and v4 above 6
    assert tree.head == later[-1]
    assert tree.escapes == 1
    assert tree.locked == tree.genesis  # the fork point


def extend_free(tree: BlockTree, parent: Block, signers: list[str]) -> list[Block]:
    blocks = []
    for signer in signers:
        block = KEYS.sign(parent, signer, ())
        tree.add(block)
        blocks.append(block)
        parent = block
    return blocks


def test_bad_arguments_are_refused() -> None:
    """No validators, or depths below 1, are refused."""
    with pytest.raises(ValueError, match="validators"):
        BlockTree([])
    with pytest.raises(ValueError, match="finality_depth"):
        BlockTree(IDS, 0)
    with pytest.raises(ValueError, match="lock_depth"):
        BlockTree(IDS, lock_depth=0)
    with pytest.raises(ValueError, match="node_id"):
        Validator("x", BlockTree(IDS), KEYS, ChainConfig(), random.Random(1))


@st.composite
def block_sets(draw: st.DrawFn) -> list[Block]:
    """A random tree of valid blocks (every fork respects the signing limit)."""
    rng = draw(st.randoms(use_true_random=False))
    count = draw(st.integers(1, 30))
    builder = BlockTree(IDS, NEVER, lock_depth=NEVER)
    blocks = [builder.genesis]
    for _ in range(count):
        parent = rng.choice(blocks)
        signers = [v for v in IDS if builder.may_sign(parent, v)]
        tx = (Tx(f"t{len(blocks)}"),) if rng.random() < 0.3 else ()
        block = KEYS.sign(parent, rng.choice(signers), tx)
        if block.hash in builder:
            continue
        builder.add(block)
        blocks.append(block)
    return blocks[1:]


@given(block_sets(), st.randoms(use_true_random=False))
def test_fork_choice_is_independent_of_arrival_order(
    blocks: list[Block], rng: random.Random
) -> None:
    """B8: whatever order blocks arrive in (parents late too), every node picks the same head:
    the heaviest, ties by the smallest hash."""
    weights = {}
    reference = BlockTree(IDS, NEVER, lock_depth=NEVER)
    for block in blocks:
        reference.add(block)
        weights[block.hash] = reference.weight(block.hash)
    expected = max(blocks, key=lambda b: (weights[b.hash], [-ord(c) for c in b.hash]))
    for _ in range(3):
        order = blocks[:]
        rng.shuffle(order)
        tree = BlockTree(IDS, NEVER, lock_depth=NEVER)
        validator = Validator("v1", tree, KEYS, ChainConfig(), random.Random(1))
        for block in order:
            validator.step(NewBlock("v2", block), 0.0)
        assert len(tree) == len(blocks) + 1
        assert tree.head == expected

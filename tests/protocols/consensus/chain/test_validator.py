"""Validators on a pure simulated network: rotation, crashes, partitions, byzantine peers."""

from __future__ import annotations

import random

from mabeam.protocols.consensus.chain import (
    BlockRequest,
    Blocks,
    BlockTree,
    ChainConfig,
    Keyring,
    NewBlock,
    Submit,
    Tx,
    Validator,
)
from mabeam.testing.chain import PureChain


def signers(chain: PureChain, node: str = "v1") -> list[str]:
    return [block.signer for block in chain.head_chain(node)[1:]]


def test_in_turn_rotation_when_all_are_up() -> None:
    """B1: with everyone up, block h is sealed by the validator at position h mod N, weight 2."""
    chain = PureChain(5, seed=1)
    chain.run_until(400)
    tree = chain.trees["v1"]
    height = tree.head.height
    assert height >= 15
    assert signers(chain) == [chain.ids[h % 5] for h in range(1, height + 1)]
    assert tree.head_weight == 2 * height
    assert {chain.trees[i].head.hash for i in chain.ids} == {tree.head.hash}


def test_crashed_proposer_is_replaced_out_of_turn() -> None:
    """B2: with v3 down, its heights are sealed out of turn (weight 1); the chain goes on
    and keeps finalizing, the weights as the rule says."""
    chain = PureChain(5, seed=2, latency_ms=(1.0, 3.0))
    chain.crash("v3")
    chain.run_until(1_000)
    tree = chain.trees["v1"]
    blocks = chain.head_chain("v1")[1:]
    assert len(blocks) >= 20
    assert "v3" not in {b.signer for b in blocks}
    out_of_turn = [b for b in blocks if not tree.in_turn(b.height, b.signer)]
    assert out_of_turn
    for block in out_of_turn:  # v3's turn, or the in-turn signer sealed one of the last 2
        in_turn = chain.ids[block.height % 5]
        recent = {b.signer for b in blocks if block.height - 3 < b.height < block.height}
        assert in_turn == "v3" or in_turn in recent
    assert any(b.height % 5 == 2 for b in out_of_turn)
    expected = sum(2 if tree.in_turn(b.height, b.signer) else 1 for b in blocks)
    assert tree.head_weight == expected
    assert tree.finalized.height >= len(blocks) - 6
    chain.check()


def test_partition_majority_finalizes_minority_never_replaces_a_final_block() -> None:
    """B4: 3|2 on N = 5: the majority keeps finalizing; the minority (two validators) adds
    at most two blocks, finalizes none of them; healed, its fork loses fork choice and no
    node's history of final blocks ever changes (PureChain raises if one would)."""
    chain = PureChain(5, seed=4, latency_ms=(1.0, 4.0))
    chain.submit(Tx("before", 0))
    chain.run_until(300)
    fork = chain.trees["v4"].head.height
    final_before = {i: chain.trees[i].finalized.height for i in chain.ids}
    chain.partition(["v1", "v2", "v3"], ["v4", "v5"])
    chain.submit(Tx("during", 1))
    chain.run_until(1_300)
    minority = [chain.trees[i] for i in ("v4", "v5")]
    majority = [chain.trees[i] for i in ("v1", "v2", "v3")]
    assert all(t.head.height <= fork + 2 + 1 for t in minority)
    assert all(t.finalized.height <= fork for t in minority)
    assert all(t.finalized.height > fork + 10 for t in majority)
    minority_head = minority[0].head
    chain.heal()
    chain.run_until(2_000)
    heads = {chain.trees[i].head.hash for i in chain.ids}
    assert minority_head.hash not in heads
    assert minority_head.hash not in set(chain.finals["v4"].values())
    for node in chain.ids:
        history = chain.finals[node]
        assert all(history[h] == chain.finals["v1"].get(h, history[h]) for h in history)
        assert chain.trees[node].finalized.height > final_before[node]
    located = {tx.id for block in chain.head_chain("v4") for tx in block.proposals}
    assert {"before", "during"} <= located
    chain.check()


def test_equivocating_signer_is_resolved_the_same_way_every_time() -> None:
    """B5: v2 seals two different blocks at each of its heights (to different peers); every
    honest node ends on the same chain and finalizes the same blocks, run after run."""

    def run() -> tuple[str, dict[int, str]]:
        chain = PureChain(5, seed=5, latency_ms=(1.0, 3.0))
        chain.make_byzantine("v2", "equivocate")
        chain.run_until(1_000)
        chain.check()
        heads = {chain.trees[i].head.hash for i in chain.honest()}
        assert len(heads) == 1
        return heads.pop(), chain.finals["v1"]

    head, finals = run()
    assert run() == (head, finals)
    assert len(finals) > 20


def test_equivocation_produces_two_valid_blocks_at_one_height() -> None:
    """B5: the twins are both authentic (the faulty signer's own key), both stored, one chosen."""
    chain = PureChain(5, seed=6)
    chain.make_byzantine("v2", "equivocate")
    chain.run_until(200)
    by_height: dict[int, set[str]] = {}
    for node in chain.honest():
        tree = chain.trees[node]
        for block in tree.blocks():
            if block.signer == "v2":
                by_height.setdefault(block.height, set()).add(block.hash)
    assert any(len(hashes) == 2 for hashes in by_height.values())
    chain.check()


def test_garbage_is_counted_and_dropped() -> None:
    """A peer sending random garbage never breaks a correct validator: counted, dropped."""
    chain = PureChain(5, seed=7)
    chain.make_byzantine("v5", "random")
    chain.inject("v1", object())
    chain.inject("v1", NewBlock("v5", "not a block"))  # type: ignore[arg-type]
    chain.inject("v1", Blocks("v5", ("junk",)))  # type: ignore[arg-type]
    chain.inject("v1", BlockRequest("nobody", "x", 3))
    chain.run_until(500)
    assert chain.nodes["v1"].garbage >= 4
    assert chain.trees["v1"].finalized.height > 5
    chain.check()


def test_tampering_peers_are_rejected() -> None:
    """Blocks with a changed digest or a forged signer are rejected; the chain goes on."""
    for behavior in ("wrong_digest", "forge_sender"):
        chain = PureChain(5, seed=8)
        chain.make_byzantine("v3", behavior)
        chain.run_until(600)
        assert chain.nodes["v1"].rejections > 0
        assert "v3" not in {b.signer for b in chain.head_chain("v1")}
        assert chain.trees["v1"].finalized.height > 5
        chain.check()


def test_restarted_validator_keeps_its_blocks_and_catches_up() -> None:
    """A crash loses pending proposals, not blocks; back up, the node syncs the missed ones."""
    chain = PureChain(5, seed=9)
    chain.run_until(200)
    chain.crash("v1")
    before = chain.trees["v1"].head.height
    chain.run_until(1_200)
    chain.restart("v1")
    chain.restart("v1")  # already up: no-op
    chain.run_until(1_500)
    assert before > 0
    assert chain.trees["v1"].head.height > before + 30
    assert abs(chain.trees["v1"].head.height - chain.trees["v2"].head.height) <= 1
    chain.check()


def test_sync_request_and_orphan_limits() -> None:
    """Only the oldest missing parent is asked for; answers hold at most sync_batch blocks."""
    keyring = Keyring.from_seed(1, ["a", "b", "c"])
    config = ChainConfig(sync_batch=2, max_orphans=3)
    tree = BlockTree(["a", "b", "c"])
    node = Validator("a", tree, keyring, config, random.Random(1))
    parent = tree.head
    blocks = []
    for signer in ["b", "c", "b", "c"]:
        parent = keyring.sign(parent, signer, ())
        blocks.append(parent)
    for block in blocks[1:]:
        node.step(NewBlock("b", block), 0.0)
    requests = [o.message for o in node.ready().messages]
    assert requests == [BlockRequest("a", blocks[0].hash, 2)]
    node.step(NewBlock("b", blocks[2]), 0.0)  # already waiting
    node.step(Blocks("b", (blocks[0],)), 1.0)
    assert tree.head == blocks[3]
    assert not node.ready().messages  # the same parent is not asked for twice
    node.step(Submit(Tx("x")), 1.0)
    node.step(Submit(Tx("x")), 1.0)
    node.step(Submit(Tx("y", object())), 1.0)  # could never be hashed: dropped
    assert list(node.pending) == ["x"]
    assert node.garbage == 1
    node.step(BlockRequest("b", tree.head.hash, 99), 2.0)
    answer = node.ready().messages[-1].message
    assert isinstance(answer, Blocks)
    assert len(answer.blocks) <= 2


def test_orphans_beyond_the_bound_are_forgotten() -> None:
    """At max_orphans the waiting blocks are dropped and the sync starts again."""
    keyring = Keyring.from_seed(1, ["a", "b", "c"])
    tree = BlockTree(["a", "b", "c"])
    node = Validator("a", tree, keyring, ChainConfig(max_orphans=1), random.Random(1))
    parent = tree.head
    blocks = []
    for signer in ["b", "c", "b"]:
        parent = keyring.sign(parent, signer, ())
        blocks.append(parent)
    node.step(NewBlock("b", blocks[1]), 0.0)
    node.step(NewBlock("b", blocks[2]), 0.0)
    requested = [o.message for o in node.ready().messages]
    assert [r.hash for r in requested if isinstance(r, BlockRequest)] == [
        blocks[0].hash,
        blocks[1].hash,
    ]
    node.step(NewBlock("c", blocks[1]), 0.0)
    node.step(Blocks("b", (blocks[0],)), 1.0)
    assert tree.head == blocks[1]

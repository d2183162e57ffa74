"""Validators locked on a losing fork come back (issue 20): the wedge, and the random checker.

The randomized checker runs :func:`._schedules.random_run` (crashes, restarts, partitions,
loss, byzantine minorities), then heals every fault, submits one proposal and gives the
chain 3 s of virtual time: every honest validator must make a new block final, and no two
honest validators may ever finalize different blocks at one height.
"""

from __future__ import annotations

import pytest

from mabeam.protocols.consensus.chain import Block, Keyring

from ._schedules import heal_and_settle, random_run, stuck
from ._support import PureChain


def _build(keys: Keyring, parent: Block, signers: list[str]) -> list[Block]:
    blocks = []
    for signer in signers:
        parent = keys.sign(parent, signer, ())
        blocks.append(parent)
    return blocks


def test_the_reported_wedge_unwinds() -> None:
    """N = 4: v1, v2 hold fork A over height 28, v3, v4 fork B; each fork's last two
    blocks are its holders' own, so the signing limit stops both pairs on their fork.

    Under the old rule each pair was locked at height 28 (3 blocks on top) and never
    switched: every validator was stuck for good. Now a node commits only to the lock it
    seals on (all four sealed on top of the common chain), so B's holders follow the
    heavier fork A and seal there.
    """
    chain = PureChain(4, seed=20)
    keys = chain.keyring
    common = _build(keys, chain.trees["v1"].genesis, [f"v{(h % 4) + 1}" for h in range(1, 28)])
    fork_a = _build(keys, common[-1], ["v1", "v3", "v2", "v1"])  # 28..31, weight +5
    fork_b = _build(keys, common[-1], ["v2", "v1", "v4", "v3"])  # 28..31, weight +4
    holders = {"v1": fork_a, "v2": fork_a, "v3": fork_b, "v4": fork_b}
    for node_id, fork in holders.items():
        tree = chain.trees[node_id]
        for block in [*common, *fork]:
            tree.add(block)
        for block in [*common, *fork_a, *fork_b]:  # what each one sealed, on either fork
            if block.signer == node_id and block.parent in tree:
                tree.sealed(block)
        assert tree.head == fork[-1]
        assert tree.locked.height < 28  # committed only below the fork
        chain.crash(node_id)
        chain.restart(node_id)
    progress = heal_and_settle(chain)
    chain.check()
    assert all(moved > 0 for moved in progress.values()), progress
    for node_id in chain.ids:
        assert chain.trees[node_id].chain(since=28)[0].hash == fork_a[0].hash


def check_liveness(seeds: range) -> None:
    some, every = [], []
    for seed in seeds:
        chain = random_run(seed)
        chain.check()
        progress = heal_and_settle(chain)
        chain.check()
        minority, everyone = stuck(progress)
        if minority:
            some.append(seed)
        if everyone:
            every.append(seed)
    assert (some, every) == ([], [])


def test_every_validator_makes_progress_after_healing() -> None:
    """0 stuck seeds (majority or all) and 0 conflicting finals: fast default count."""
    check_liveness(range(60))


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_every_validator_makes_progress_after_healing_many_seeds() -> None:
    """The same over 3,000 more schedules."""
    check_liveness(range(10_000, 13_000))

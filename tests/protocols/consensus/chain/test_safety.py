"""The randomized schedule checker (B9): crashes, partitions, loss and byzantine minorities.

Each seed draws N in 4..7, latency, loss, up to floor((N-1)/2) byzantine validators
(equivocate, wrong_digest, forge_sender, silent, random) and a fault every 50-250 ms for
2 s of virtual time. Safety: no two honest validators ever finalize different blocks at
the same height, and no validator ever replaces a block it made final.
"""

from __future__ import annotations

import pytest

from mabeam.testing.chain import random_run


def check_seeds(seeds: range) -> None:
    progressed = 0
    for seed in seeds:
        chain = random_run(seed)
        chain.check()
        progressed += any(chain.trees[i].finalized.height > 0 for i in chain.honest())
    assert progressed >= len(seeds) // 2  # the schedules are not all stalled from the start


def test_no_conflicting_final_blocks_over_random_schedules() -> None:
    """B9: safety over 150 random schedules (fast default)."""
    check_seeds(range(150))


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_no_conflicting_final_blocks_over_many_random_schedules() -> None:
    """B9: safety over 3,000 more random schedules."""
    check_seeds(range(1_000, 4_000))

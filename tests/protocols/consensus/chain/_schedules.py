"""Random fault schedules for the pure chain: crashes, partitions, loss, byzantine peers."""

from __future__ import annotations

import random

from mabeam.protocols.consensus.chain import Tx

from ._support import PureChain

BEHAVIORS = ("equivocate", "wrong_digest", "forge_sender", "silent", "random")


def random_run(seed: int, *, duration_ms: float = 2_000.0, harsh: bool = False) -> PureChain:
    """One seeded schedule, run to the end; :meth:`PureChain.check` is left to the caller.

    N in 4..7, latency 1..(1-12) ms, loss 0-20 %, up to floor((N-1)/2) byzantine
    validators (a minority) with random behaviours, and every 50-250 ms a crash, a
    restart, a random partition or a heal. ``harsh``: the issue's checker, loss up to
    30 %, 10 % duplication, latency up to 30 ms (messages overtake one another).
    """
    rng = random.Random(seed)
    n = rng.randint(4, 7)
    if harsh:
        latency = (1.0, float(rng.randint(1, 30)))
        drop_rate = rng.choice((0.0, 0.05, 0.2, 0.3))
    else:
        latency = (1.0, float(rng.randint(1, 12)))
        drop_rate = rng.choice((0.0, 0.0, 0.05, 0.2))
    chain = PureChain(
        n,
        seed=seed,
        latency_ms=latency,
        drop_rate=drop_rate,
        duplicate_rate=0.1 if harsh else 0.0,
    )
    faulty = rng.sample(chain.ids, rng.randint(0, (n - 1) // 2))
    for node_id in faulty:
        chain.make_byzantine(node_id, rng.choice(BEHAVIORS))
    now = 0.0
    proposal = 0
    while now < duration_ms:
        now += rng.uniform(50.0, 250.0)
        chain.run_until(now)
        action = rng.random()
        if action < 0.25:
            chain.crash(rng.choice(chain.ids))
        elif action < 0.5 and chain.down:
            chain.restart(rng.choice(sorted(chain.down)))
        elif action < 0.7:
            ids = chain.ids[:]
            rng.shuffle(ids)
            cut = rng.randint(1, n - 1)
            chain.partition(ids[:cut], ids[cut:])
        elif action < 0.85:
            chain.heal()
        else:
            proposal += 1
            chain.submit(Tx(f"p{proposal}", proposal))
    return chain


def heal_and_settle(chain: PureChain, *, settle_ms: float = 3_000.0) -> dict[str, int]:
    """End every fault (partition, loss, crashes), submit one proposal, run ``settle_ms``.

    Returns, per honest validator, how far its final block moved after the healing.
    """
    chain.heal()
    chain.drop_rate = 0.0
    for node_id in sorted(chain.down):
        chain.restart(node_id)
    before = {i: chain.trees[i].finalized.height for i in chain.honest()}
    top = max(before.values(), default=0)
    chain.submit(Tx("after-heal", None))
    chain.run_until(chain.now + settle_ms)
    return {i: chain.trees[i].finalized.height - top for i in chain.honest()}


def stuck(progress: dict[str, int]) -> tuple[bool, bool]:
    """(a minority or more stuck, every honest validator stuck) after the healing."""
    behind = [i for i, moved in progress.items() if moved <= 0]
    return bool(behind), len(behind) == len(progress)

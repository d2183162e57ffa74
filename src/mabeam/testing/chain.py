"""A pure, seeded network of chain validators (no actors), the safety checks, and random
fault schedules (crashes, partitions, loss, byzantine peers): the chain's test harness.

:class:`PureChain` delivers the validators' messages with random latency, loss, crashes,
partitions and byzantine interceptors (the scenario driver's own), ticking each validator
at its deadline: thousands of schedules run in seconds. Every block a validator makes
final is recorded; :meth:`PureChain.check` fails if one node ever replaced a final block
or two honest nodes made different blocks final at the same height.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from typing import Any

from mabeam.protocols.consensus.chain import (
    BlockTree,
    ChainConfig,
    Keyring,
    NewBlock,
    Submit,
    Tx,
    Validator,
)
from mabeam.scenario import _chain
from mabeam.scenario._run import generic_byzantine
from mabeam.sim import DROP


class SafetyError(AssertionError):
    """Two final blocks at one height (on one node over time, or on two honest nodes)."""


class PureChain:
    """``n`` validators v1..vn on a simulated network (see the module docstring)."""

    def __init__(
        self,
        n: int = 5,
        *,
        seed: int = 1,
        config: ChainConfig | None = None,
        latency_ms: tuple[float, float] = (1.0, 1.0),
        drop_rate: float = 0.0,
        duplicate_rate: float = 0.0,
    ) -> None:
        self.ids = [f"v{i + 1}" for i in range(n)]
        self.seed = seed
        self.config = config if config is not None else ChainConfig()
        self.keyring = Keyring.from_seed(seed, self.ids)
        self.rng = random.Random(f"{seed}:net")
        self.latency_ms = latency_ms
        self.drop_rate = drop_rate
        self.duplicate_rate = duplicate_rate
        self.trees = {i: BlockTree(self.ids, self.config.finality_depth) for i in self.ids}
        self.rngs = {i: random.Random(f"{seed}:{i}") for i in self.ids}
        self.now = 0.0
        self.nodes: dict[str, Validator] = {i: self._boot(i) for i in self.ids}
        self.down: set[str] = set()
        self.groups: dict[str, int] | None = None
        self.interceptors: dict[str, Callable[[Any, str], Any]] = {}
        self.byzantine: set[str] = set()
        self.finals: dict[str, dict[int, str]] = {i: {} for i in self.ids}
        self.log: list[tuple[float, str, str, str]] = []
        self.delivered = 0
        self._queue: list[tuple[float, int, str, str, Any]] = []
        self._seq = 0
        for node_id in self.ids:
            self._flush(node_id)

    def _boot(self, node_id: str) -> Validator:
        return Validator(
            node_id,
            self.trees[node_id],
            self.keyring,
            self.config,
            self.rngs[node_id],
            now=self.now,
        )

    # ------------------------------------------------------------------ faults

    def crash(self, node_id: str) -> None:
        self.down.add(node_id)

    def restart(self, node_id: str) -> None:
        if node_id in self.down:
            self.down.discard(node_id)
            self.nodes[node_id] = self._boot(node_id)
            self._flush(node_id)

    def partition(self, *groups: list[str]) -> None:
        self.groups = {name: index for index, group in enumerate(groups) for name in group}

    def heal(self) -> None:
        self.groups = None

    def make_byzantine(self, node_id: str, behavior: str) -> None:
        """Tamper with what ``node_id`` sends, exactly as a scenario's fault does."""
        interceptor = _chain.interceptor(node_id, behavior, self.keyring)
        if interceptor is None:
            interceptor = generic_byzantine(behavior, random.Random(f"{self.seed}:{node_id}"))
        self.interceptors[node_id] = interceptor
        self.byzantine.add(node_id)

    # ------------------------------------------------------------------ inputs

    def submit(self, tx: Tx) -> None:
        for node_id in self.ids:
            self._send("client", node_id, Submit(tx))

    def inject(self, dst: str, message: Any, src: str = "client") -> None:
        """Deliver ``message`` to ``dst`` after the usual latency."""
        self._send(src, dst, message)

    # ------------------------------------------------------------------ running

    def run_until(self, until_ms: float) -> None:
        """Deliver messages and fire deadlines in time order up to ``until_ms``."""
        while True:
            when, target = self._next()
            if when > until_ms:
                self.now = until_ms
                return
            self.now = when
            if target is None:
                _, _, _src, dst, message = heapq.heappop(self._queue)
                if dst in self.down:
                    continue
                self.delivered += 1
                self.nodes[dst].step(message, when)
                self._flush(dst)
            else:
                self.nodes[target].tick(when)
                self._flush(target)

    def _next(self) -> tuple[float, str | None]:
        best, target = math.inf, None
        if self._queue:
            best = self._queue[0][0]
        for node_id in self.ids:
            if node_id in self.down:
                continue
            deadline = self.nodes[node_id].deadline()
            if deadline < best:
                best, target = deadline, node_id
        return best, target

    def _flush(self, node_id: str) -> None:
        ready = self.nodes[node_id].ready()
        for block in ready.sealed:
            self.log.append((self.now, node_id, "sealed", block.hash))
        for out in ready.messages:
            self._send(node_id, out.dst, out.message)
        history = self.finals[node_id]
        for block in ready.finalized:
            previous = history.get(block.height)
            if previous is not None and previous != block.hash:
                raise SafetyError(f"{node_id} replaced final block {block.height}")
            history[block.height] = block.hash

    def _send(self, src: str, dst: str, message: Any) -> None:
        interceptor = self.interceptors.get(src)
        if interceptor is not None:
            message = interceptor(message, dst)
            if message is DROP:
                return
        groups = self.groups
        if src in self.ids and groups is not None and groups.get(src, -1) != groups.get(dst, -1):
            return
        if self.drop_rate and self.rng.random() < self.drop_rate:
            return
        copies = 2 if self.duplicate_rate and self.rng.random() < self.duplicate_rate else 1
        low, high = self.latency_ms
        for _ in range(copies):  # latencies drawn per message: links reorder
            self._seq += 1
            delay = low if low == high else self.rng.uniform(low, high)
            heapq.heappush(self._queue, (self.now + delay, self._seq, src, dst, message))

    # ------------------------------------------------------------------ checks

    def honest(self) -> list[str]:
        return [i for i in self.ids if i not in self.byzantine]

    def check(self) -> None:
        """No two honest nodes made different blocks final at the same height."""
        seen: dict[int, tuple[str, str]] = {}
        for node_id in self.honest():
            for height, digest in self.finals[node_id].items():
                other = seen.setdefault(height, (node_id, digest))
                if other[1] != digest:
                    raise SafetyError(
                        f"height {height}: {other[0]} final {other[1][:8]}, "
                        f"{node_id} final {digest[:8]}"
                    )

    def head_chain(self, node_id: str) -> list[Any]:
        return self.trees[node_id].chain()


def announce(block: Any, sender: str) -> NewBlock:
    return NewBlock(sender, block)


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

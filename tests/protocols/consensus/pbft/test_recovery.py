"""PBFT keeps going after faults, through actors on the SimNetwork (virtual time): a crashed
replica restarts (empty or from its persisted checkpoint) and catches up by state transfer;
view changes and requests survive heavy loss."""

from __future__ import annotations

import asyncio
import random

import pytest

from mabeam import ActorSystem, ConfigError
from mabeam.protocols.consensus.kv import Add
from mabeam.protocols.consensus.pbft import PbftConfig
from mabeam.protocols.consensus.pbft.api import PbftCluster
from mabeam.protocols.consensus.pbft.byzantine import BEHAVIORS
from mabeam.sim import SimNetwork

pytestmark = pytest.mark.virtual_time

CONFIG = PbftConfig(checkpoint_interval=4, view_change_timeout_ms=100)


async def _caught_up(cluster: PbftCluster, replica_id: str, seq: int) -> None:
    for _ in range(200):
        state = await cluster.state(replica_id)
        if state is not None and state.last_executed >= seq:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{replica_id} never reached {seq}")


@pytest.mark.parametrize("persist", [False, True])
async def test_restarted_replica_catches_up_by_state_transfer(persist: bool) -> None:
    """r3 crashes, 20 requests go on without it (checkpoints every 4 become stable), it
    restarts and takes the stable checkpoint's state, then executes what follows."""
    network = SimNetwork(seed=3, latency_ms=1.0)
    async with ActorSystem("pbft-recovery", transport=network) as system:
        ids = ["r0", "r1", "r2", "r3"]
        cluster = PbftCluster(
            system, ids, seed=3, network=network, config=CONFIG, retransmit_ms=100, persist=persist
        )
        async with cluster:
            await cluster.submit_many([Add("n", 1) for _ in range(5)])
            await _caught_up(cluster, "r3", 5)
            await cluster.crash("r3")
            assert await cluster.state("r3") is None
            done = await cluster.submit_many([Add("n", 1) for _ in range(20)])
            assert [d.result for d in done] == list(range(6, 26))
            assert {d.client for d in done} == {"pbft-client"}
            await cluster.restart("r3")
            # The others' checkpoints are stable at 24: r3 takes that state, then 25 on.
            last = (await cluster.submit(Add("n", 1))).seq
            await _caught_up(cluster, "r3", last)
            states = await cluster.states()
            r3 = states["r3"]
            assert r3 is not None
            assert r3.transfers
            assert r3.transfers[-1] >= 24
            assert r3.data == {"n": 26}
            assert r3.history[0][0] - 1 in r3.transfers
            assert r3.executed_ids[-1] == ("pbft-client", done[-1].timestamp + 1)
            r0 = states["r0"]
            assert r0 is not None
            assert dict(r3.history).items() <= dict(r0.history).items()
            if persist:
                assert cluster.storages["r3"].checkpoint is not None


async def test_crash_restart_errors() -> None:
    network = SimNetwork(seed=1, latency_ms=1.0)
    async with ActorSystem("pbft-recovery", transport=network) as system:
        cluster = PbftCluster(system, ["r0", "r1", "r2", "r3"], network=network)
        with pytest.raises(RuntimeError):
            await cluster.crash("r0")
        async with cluster:
            with pytest.raises(ConfigError, match="replica_id"):
                await cluster.crash("r9")


async def test_requests_survive_heavy_loss() -> None:
    """30% of all messages lost: every request still completes exactly once."""
    network = SimNetwork(seed=5, latency_ms=1.0, drop_rate=0.3)
    async with ActorSystem("pbft-loss", transport=network) as system:
        ids = ["r0", "r1", "r2", "r3"]
        async with PbftCluster(
            system, ids, seed=5, network=network, config=CONFIG, retransmit_ms=100
        ) as cluster:
            done = await cluster.submit_many([Add("n", 1) for _ in range(30)])
            assert sorted(d.result for d in done) == list(range(1, 31))


BOUND_S = 15.0
"""Liveness bound after healing (see test_liveness: one capped view-change timeout, 6.4 s,
plus view changes and state transfer)."""


async def _sim_schedule(seed: int, n: int) -> float:
    """The randomized checker through actors on the SimNetwork: random crash / restart
    (of at most f crash-prone replicas; the rest of the f faulty are byzantine), symmetric
    partitions, loss up to 30%, duplication, reordering; then healing and one new request,
    which must complete within ``BOUND_S``. Returns the seconds it took."""
    rng = random.Random(seed)
    network = SimNetwork(
        seed=seed,
        latency_ms=(0.5, rng.choice([2.0, 10.0, 30.0])),
        drop_rate=rng.uniform(0.0, 0.3),
        duplicate_rate=rng.uniform(0.0, 0.1),
        reorder=True,
        trace=False,
    )
    loop = asyncio.get_running_loop()
    ids = [f"r{i}" for i in range(n)]
    f = (n - 1) // 3
    async with ActorSystem("pbft-chaos", transport=network) as system:
        cluster = PbftCluster(
            system,
            ids,
            seed=seed,
            network=network,
            config=PbftConfig(checkpoint_interval=4, view_change_timeout_ms=100),
            retransmit_ms=150,
            persist=rng.random() < 0.5,
        )
        async with cluster:
            crash_prone: list[str] = []
            byzantine: list[str] = []
            for rid in rng.sample(ids, rng.randint(0, f)):
                behavior = rng.choice([*BEHAVIORS, "crash"])
                if behavior == "crash":
                    crash_prone.append(rid)
                else:
                    byzantine.append(rid)
                    cluster.byzantine(rid, behavior)
            down: set[str] = set()
            tasks = []
            end = loop.time() + 1.5
            while loop.time() < end:
                event = rng.random()
                if event < 0.15 and crash_prone:
                    rid = rng.choice(crash_prone)
                    if rid in down:
                        await cluster.restart(rid)
                        down.discard(rid)
                    else:
                        await cluster.crash(rid)
                        down.add(rid)
                elif event < 0.25:
                    shuffled = ids[:]
                    rng.shuffle(shuffled)
                    cut = rng.randint(1, n - 1)
                    network.partition([shuffled[:cut], shuffled[cut:]])
                elif event < 0.35:
                    network.heal()
                else:
                    tasks.append(asyncio.ensure_future(cluster.submit(Add("k", 1))))
                await asyncio.sleep(rng.uniform(0.005, 0.08))
            network.heal()
            network.drop_rate = 0.0
            network.duplicate_rate = 0.0
            for rid in sorted(down):
                await cluster.restart(rid)
            healed = loop.time()
            await cluster.submit(Add("k", 1), timeout=BOUND_S)
            elapsed = loop.time() - healed
            done = await asyncio.wait_for(asyncio.gather(*tasks), BOUND_S)
            results = [d.result for d in done]
            assert len(set(results)) == len(results)  # each executed once: distinct counts
            states = await cluster.states()
            histories = [dict(s.history) for r, s in states.items() if s and r not in byzantine]
            for a in histories:
                for b in histories:
                    assert all(a[seq] == b[seq] for seq in a.keys() & b.keys()), seed
            return elapsed


@pytest.mark.parametrize("n", [4, 7])
async def test_randomized_schedules_through_actors(n: int) -> None:
    """A fast count of the SimNetwork checker (the slow suite runs more)."""
    for seed in range(3 if n == 4 else 1):
        assert await _sim_schedule(seed, n) <= BOUND_S


@pytest.mark.slow
@pytest.mark.parametrize("n", [4, 7])
@pytest.mark.parametrize("chunk", range(10))
async def test_randomized_schedules_through_actors_many(n: int, chunk: int) -> None:
    """200 seeds of n = 4 and 60 of n = 7 through actors (chunks of 20 and 6)."""
    per = 20 if n == 4 else 6
    for seed in range(100 + chunk * per, 100 + (chunk + 1) * per):
        assert await _sim_schedule(seed, n) <= BOUND_S

"""PBFT through actors on the simulated network (virtual time): the library API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from mabeam import ActorSystem, ConfigError
from mabeam.protocols.consensus.kv import Add
from mabeam.protocols.consensus.pbft import PbftConfig
from mabeam.protocols.consensus.pbft.api import PbftCluster, RequestTimeoutError
from mabeam.runtime.supervision import terminate_child
from mabeam.sim import SimNetwork

pytestmark = pytest.mark.virtual_time


@asynccontextmanager
async def pbft_cluster(
    n: int = 4,
    *,
    seed: int = 1,
    drop_rate: float = 0.0,
    config: PbftConfig | None = None,
    machine: Callable[[], Any] | None = None,
) -> AsyncIterator[tuple[PbftCluster, SimNetwork]]:
    network = SimNetwork(seed=seed, latency_ms=1.0, drop_rate=drop_rate)
    async with ActorSystem("pbft-test", transport=network) as system:
        ids = [f"r{i}" for i in range(n)]
        extra = {} if machine is None else {"machine": machine}
        cluster = PbftCluster(
            system, ids, seed=seed, network=network, config=config, retransmit_ms=100, **extra
        )
        async with cluster:
            yield cluster, network


async def test_kv_through_actors() -> None:
    """set / get / delete and a pipelined stream; every replica holds the same store."""
    async with pbft_cluster() as (cluster, _):
        assert await cluster.set("x", 1) is None
        assert await cluster.get("x") == 1
        results = await cluster.submit_many([Add("n", 1) for _ in range(20)])
        assert [r.result for r in results] == list(range(1, 21))
        assert await cluster.delete("x") == 1
        states = await cluster.states()
        executed = {rid: s.executed for rid, s in states.items() if s is not None}
        assert len({tuple(e) for e in executed.values()}) == 1
        assert all(s is not None and s.data == {"n": 20} for s in states.values())


@pytest.mark.parametrize("behavior", ["silent", "equivocate", "wrong_digest", "random"])
async def test_byzantine_primary_through_actors(behavior: str) -> None:
    """A byzantine primary: the client still gets every result, once, after a view change
    where the primary's lies block progress."""
    async with pbft_cluster(seed=2) as (cluster, _):
        cluster.byzantine("r0", behavior)
        results = await cluster.submit_many([Add("n", 1) for _ in range(5)], timeout=30)
        assert sorted(r.result for r in results) == [1, 2, 3, 4, 5]
        states = await cluster.states()
        for rid in ("r1", "r2", "r3"):
            state = states[rid]
            assert state is not None
            assert state.data == {"n": 5}
            assert state.view >= (0 if behavior == "wrong_digest" else 1)


async def test_crashed_replica_and_lossy_network() -> None:
    """f = 1 replica crashed and 5% loss: requests complete (retransmission)."""
    async with pbft_cluster(seed=3, drop_rate=0.05) as (cluster, _):
        assert cluster._owned
        await terminate_child(cluster._owned[1], "r3")
        results = await cluster.submit_many([Add("n", 1) for _ in range(10)], timeout=60)
        assert sorted(r.result for r in results) == list(range(1, 11))
        assert (await cluster.states())["r3"] is None


async def test_no_quorum_times_out() -> None:
    """f + 1 replicas down: a request times out with RequestTimeoutError."""
    async with pbft_cluster(seed=4) as (cluster, _):
        await terminate_child(cluster._owned[1], "r2")
        await terminate_child(cluster._owned[1], "r3")
        with pytest.raises(RequestTimeoutError):
            await cluster.submit(Add("n", 1), timeout=2.0)


async def test_bad_input_and_lifecycle() -> None:
    async with ActorSystem() as system:
        with pytest.raises(ConfigError):
            PbftCluster(system, [])
        with pytest.raises(ConfigError):
            PbftCluster(system, ["a", "a"])
        with pytest.raises(ConfigError):
            PbftCluster(system, ["a", "pbft-client"])
        cluster = PbftCluster(system, ["a", "b", "c", "d"])
        with pytest.raises(RuntimeError, match="not started"):
            await cluster.submit(1)
        with pytest.raises(ConfigError):
            cluster.byzantine("a", "silent")
        async with cluster:
            with pytest.raises(RuntimeError, match="running already"):
                await cluster.start()
            assert await cluster.submit_many([]) == []
            assert (await cluster.submit("op")).result == "op"
            assert await cluster.state("zz") is None

"""PBFT keeps going after faults, through actors on the SimNetwork (virtual time): a crashed
replica restarts (empty or from its persisted checkpoint) and catches up by state transfer;
view changes and requests survive heavy loss."""

from __future__ import annotations

import asyncio

import pytest

from mabeam import ActorSystem, ConfigError
from mabeam.protocols.consensus.kv import Add
from mabeam.protocols.consensus.pbft import PbftConfig
from mabeam.protocols.consensus.pbft.api import PbftCluster
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

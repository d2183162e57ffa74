"""SimDisk under a real Raft cluster (issue 20): a power loss takes exactly the writes that
were not synced. A node whose disk synced rejoins with its log; one whose acknowledged
writes were lost breaks Raft's durability assumption (the cluster keeps serving on the
majority; how the node recovers is Raft's business, not asserted here)."""

from __future__ import annotations

import asyncio

import pytest

from mabeam import ActorSystem
from mabeam.protocols.consensus import RaftCluster
from mabeam.protocols.consensus.raft import MemoryStorage, RaftStorage
from mabeam.sim import SimDisk, SimNetwork
from mabeam.sim._disk import Sync

pytestmark = pytest.mark.virtual_time


@pytest.mark.parametrize("sync", ["always", "manual"])
async def test_a_power_loss_under_raft_loses_only_unsynced_writes(sync: str) -> None:
    network = SimNetwork(seed=5)
    ids = ["n1", "n2", "n3"]
    mode: Sync = "always" if sync == "always" else "manual"
    disks = {i: SimDisk(MemoryStorage, sync=mode, name=i, network=network) for i in ids}
    storages: dict[str, RaftStorage] = dict(disks)
    async with (
        ActorSystem("disk", transport=network) as system,
        RaftCluster(system, ids, seed=5, storages=storages, network=network) as cluster,
    ):
        leader = await cluster.wait_for_leader(timeout=5.0)
        for i in range(3):
            await cluster.set(f"k{i}", i, timeout=5.0)
        victim = next(i for i in ids if i != leader)
        disk = disks[victim]
        written = len(disk.load()[1])
        assert written >= 4  # the leader's no-op and three commands
        await cluster.crash(victim)
        lost = disk.power_loss()
        if sync == "always":
            assert lost == 0
            assert len(disk.load()[1]) == written
        else:
            assert lost >= 4
            assert disk.load()[1] == []  # nothing was ever synced
        await cluster.restart(victim)
        await cluster.set("after", 1, timeout=5.0)  # the majority serves either way
        await asyncio.sleep(1.0)
        if sync == "always":
            state = await cluster.state(victim)
            assert state.data.get("after") == 1
            assert len(disk.load()[1]) >= written + 1
    assert network.trace is not None
    faults = [(e.kind, e.dst) for e in network.trace.events() if e.event == "fault"]
    assert ("disk_loss", victim) in faults

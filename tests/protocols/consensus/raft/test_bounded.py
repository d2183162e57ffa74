"""A long run with snapshots keeps memory and storage bounded (issue 21, point 1).

A 3-node :class:`RaftCluster` on a SimNetwork (trace off: a trace grows by design) applies
``entries`` commands in batches; every ``threshold`` applied entries each node snapshots
its key-value machine and drops the log below. Measured at checkpoints: the entries each
node's storage holds, the snapshot's size, and the Python heap (tracemalloc). The same
run without snapshots is the control: its log and heap grow with every entry.
"""

from __future__ import annotations

import tracemalloc
from typing import Any

import pytest

from mabeam import ActorSystem
from mabeam.protocols.consensus import Add, RaftCluster
from mabeam.protocols.consensus.raft import MemoryStorage, RaftConfig
from mabeam.sim import SimNetwork

pytestmark = pytest.mark.virtual_time

BATCH = 100


async def _long_run(entries: int, threshold: int) -> list[dict[str, Any]]:
    network = SimNetwork(seed=1, latency_ms=1.0, trace=False)
    config = RaftConfig(snapshot_threshold=threshold)
    samples: list[dict[str, Any]] = []
    tracemalloc.start()
    try:
        async with (
            ActorSystem("bounded", transport=network) as system,
            RaftCluster(system, ["n1", "n2", "n3"], seed=1, network=network, config=config) as c,
        ):
            await c.wait_for_leader()
            done = 0
            while done < entries:
                await c.propose_many([Add(f"k{i % 10}") for i in range(BATCH)])
                done += BATCH
                if done % (entries // 5) == 0:
                    storages = [c.storages[n] for n in c.node_ids]
                    assert all(isinstance(s, MemoryStorage) for s in storages)
                    samples.append(
                        {
                            "done": done,
                            "entries_held": max(len(s.entries) for s in storages),  # type: ignore[attr-defined]
                            "snapshot_bytes": max(
                                len(s.load_snapshot().data) if s.load_snapshot() else 0
                                for s in storages
                            ),
                            "heap": tracemalloc.get_traced_memory()[0],
                        }
                    )
            assert (await c.read("k0")) == entries // 10
    finally:
        tracemalloc.stop()
    return samples


def _check_bounded(samples: list[dict[str, Any]], threshold: int) -> None:
    first, last = samples[0], samples[-1]
    for sample in samples:
        assert sample["entries_held"] <= threshold + BATCH + 2, sample
    assert last["snapshot_bytes"] <= 2 * first["snapshot_bytes"] + 256, samples
    # The heap is flat after the first fifth (allowing allocator slack), while the
    # control's grows with every entry.
    assert last["heap"] - first["heap"] < 400_000, samples


async def test_five_thousand_entries_with_threshold_100_stay_bounded() -> None:
    samples = await _long_run(5_000, 100)
    _check_bounded(samples, 100)


async def test_without_snapshots_the_log_and_heap_grow() -> None:
    """The control: the same run without snapshots fails the bounds."""
    samples = await _long_run(5_000, 0)
    assert samples[-1]["entries_held"] > 5_000
    assert samples[-1]["heap"] - samples[0]["heap"] > 400_000


@pytest.mark.slow
async def test_hundred_thousand_entries_with_threshold_1000_stay_bounded() -> None:
    samples = await _long_run(100_000, 1_000)
    _check_bounded(samples, 1_000)

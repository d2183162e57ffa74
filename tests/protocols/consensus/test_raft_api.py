"""The library API (RaftCluster) and the client: bad input, lifecycle, lossy networks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mabeam import ActorCrashedError, ActorDeadError, ActorSystem, ConfigError
from mabeam.protocols.consensus import Add, RaftCluster, Voter, VotingCoordinator
from mabeam.protocols.consensus.raft import FileStorage, MemoryStorage, RaftStorage

from ._support import T, logs_consistent, raft_cluster

pytestmark = pytest.mark.virtual_time


@pytest.mark.parametrize(
    ("ids", "kwargs", "field"),
    [
        pytest.param([], {}, "node_ids", id="no-nodes"),
        pytest.param(["a", "a"], {}, "node_ids", id="duplicates"),
        pytest.param(["a", ""], {}, "node_ids", id="empty-id"),
        pytest.param(["a", "raft-client"], {}, "client_name", id="client-is-a-node"),
        pytest.param(["a"], {"storages": {"b": MemoryStorage()}}, "storages", id="stranger"),
    ],
)
async def test_bad_cluster_input_is_a_config_error(
    ids: list[str], kwargs: dict[str, object], field: str
) -> None:
    """RaftCluster refuses bad input with a ConfigError naming the field."""
    async with ActorSystem() as system:
        with pytest.raises(ConfigError) as info:
            RaftCluster(system, ids, **kwargs)  # type: ignore[arg-type]
        assert info.value.field == field


async def test_lifecycle_errors() -> None:
    """Using a cluster before start, starting it twice, or asking about a stranger fails
    clearly; an empty batch is an empty answer."""
    async with ActorSystem() as system:
        cluster = RaftCluster(system, ["a", "b", "c"])
        with pytest.raises(RuntimeError, match="not started"):
            await cluster.propose("x")
        with pytest.raises(RuntimeError, match="no supervisor"):
            await cluster.crash("a")
        async with cluster:
            with pytest.raises(RuntimeError, match="running already"):
                await cluster.start()
            assert await cluster.propose_many([]) == []
            with pytest.raises(ConfigError):
                await cluster.state("zz")


async def test_given_storages_are_used_and_survive_the_cluster() -> None:
    """A storage passed in holds the node's log after the cluster is gone."""
    storage = MemoryStorage()
    async with (
        ActorSystem() as system,
        RaftCluster(system, ["a", "b", "c"], storages={"a": storage}, seed=3) as cluster,
    ):
        await cluster.set("k", 1, timeout=5 * T)
        await asyncio.sleep(0.1)
    assert any(entry.data is not None for entry in storage.load()[1])


async def test_stopping_fails_the_commands_still_waiting() -> None:
    """Without a majority a command waits; stopping the cluster fails it (ActorDeadError)."""
    async with ActorSystem() as system:
        cluster = RaftCluster(system, ["a", "b", "c"], seed=4)
        await cluster.start()
        await cluster.crash("b")
        await cluster.crash("c")
        waiting = asyncio.ensure_future(cluster.propose("x"))
        await asyncio.sleep(1.0)
        assert not waiting.done()
        await cluster.stop()
        with pytest.raises(ActorDeadError):
            await waiting


async def test_lossy_network_applies_every_command_exactly_once() -> None:
    """R18-lite: 10% loss and jitter; commands are retried through lost requests and lost
    replies (duplicates reach the log), and each is applied once, on every node."""
    async with raft_cluster(5, seed=9, latency_ms=(1.0, 5.0), drop_rate=0.1) as (cluster, _):
        await cluster.wait_for_leader(timeout=10 * T)
        expected = 0
        for round_no in range(8):
            batch = [Add("sum", round_no * 10 + i) for i in range(10)]
            expected += sum(int(c.amount) for c in batch)
            results = await cluster.propose_many(batch, timeout=20 * T)
            assert results[-1].result == expected
        assert await cluster.get("sum", timeout=20 * T) == expected
        await asyncio.sleep(1.0)
        states = await cluster.states()
        logs_consistent(states)
        for state in states.values():
            if state.applied == max(s.applied for s in states.values()):
                assert state.data == {"sum": expected}


async def test_unexpected_messages_crash_the_actor_and_name_the_type() -> None:
    """Every actor of the package refuses a message it does not know (TypeError)."""
    async with ActorSystem() as system:
        voter = await system.spawn(Voter, "v", 0)
        coordinator = await system.spawn(VotingCoordinator, ["v"], ["x"], "unanimous", 0.1)
        for ref in (voter, coordinator):
            with pytest.raises(ActorCrashedError, match="str"):
                await ref.ask("junk")
        async with RaftCluster(system, ["a", "b", "c"], seed=5) as cluster:
            await cluster.wait_for_leader(timeout=5 * T)
            for name in ("a", cluster.client_name):
                found = system.whereis(name)
                assert found is not None
                with pytest.raises(ActorCrashedError, match="str"):
                    await found.ask("junk")


async def test_a_cluster_on_file_storage_survives_a_full_restart(tmp_path: Path) -> None:
    """With FileStorage every node reloads its log from disk after a crash; the replayed
    commands (msgpack-decoded) rebuild the same store and keep deduplicating."""
    storages: dict[str, RaftStorage] = {
        node: FileStorage(tmp_path / node) for node in ("a", "b", "c")
    }
    async with (
        ActorSystem() as system,
        RaftCluster(system, ["a", "b", "c"], storages=storages, seed=6) as cluster,
    ):
        await cluster.set("k", {"deep": [1, 2]}, timeout=5 * T)
        await cluster.propose(Add("n", 5), timeout=5 * T)
        for node in cluster.node_ids:
            await cluster.crash(node)
        for node in cluster.node_ids:
            await cluster.restart(node)
        assert await cluster.get("k", timeout=10 * T) == {"deep": [1, 2]}
        await asyncio.sleep(0.2)
        for state in (await cluster.states()).values():
            assert state.data == {"k": {"deep": [1, 2]}, "n": 5}

"""The shared consensus host: timer at the core's deadline, outbox, status as messages.

Also the clients' answers through asks (``reply_later``) instead of callbacks.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from mabeam import ActorSystem
from mabeam.protocols.consensus import CommitTimeoutError, Put
from mabeam.protocols.consensus._host import (
    CoreHost,
    ReportStatus,
    StatusCollector,
    StatusView,
)
from mabeam.protocols.consensus.chain import ChainCluster
from mabeam.protocols.consensus.pbft.actor import ReplicaStatus
from mabeam.protocols.consensus.pbft.api import PbftCluster
from mabeam.protocols.consensus.raft.actor import NodeStatus
from mabeam.protocols.consensus.raft.client import Committed, RaftClient, Submit
from mabeam.sim import SimNetwork

from ._support import T, raft_cluster

pytestmark = pytest.mark.virtual_time


@dataclass
class _Ready:
    messages: list[tuple[str, Any]] = field(default_factory=list)

    def outbox(self) -> list[tuple[str, Any]]:
        return self.messages


@dataclass
class _Echo:
    """A toy core: echoes every message to "sink"; a tick every 10 ms until 35 ms."""

    now: float
    ticks: list[float] = field(default_factory=list)
    out: list[tuple[str, Any]] = field(default_factory=list)

    def step(self, message: Any, now: float) -> None:
        self.out.append(("sink", (message, now)))

    def tick(self, now: float) -> None:
        self.ticks.append(now)

    def deadline(self) -> float:
        due = (len(self.ticks) + 1) * 10.0
        return due if due < 35.0 else float("inf")

    def ready(self) -> _Ready:
        out, self.out = self.out, []
        return _Ready(out)


class _EchoHost(CoreHost[_Echo, _Ready]):
    def __init__(self, status_to: str | None = None) -> None:
        self.status_to = status_to

    def make_core(self, now: float) -> _Echo:
        return _Echo(now)

    def marks(self) -> int:
        return len(self.core.ticks)

    def status(self, ready: _Ready | None = None) -> Any:
        return _Status("echo", len(self.core.ticks))


@dataclass(frozen=True)
class _Status:
    id: str
    ticks: int


async def test_the_host_ticks_at_each_deadline_and_stops_at_inf() -> None:
    """Ticks come exactly at the core's deadlines (10, 20, 30 ms); at inf no timer is left."""
    async with ActorSystem("host") as system:
        sink: asyncio.Queue[Any] = asyncio.Queue()

        class Sink(StatusCollector):
            async def receive(self, message: Any) -> Any:
                sink.put_nowait(message)

        await system.spawn(Sink, StatusView([], system, "sink"), name="sink")
        host = await system.spawn(_EchoHost)
        await asyncio.sleep(0.1)
        core = host._cell._actor.core  # type: ignore[attr-defined]
        assert core.ticks == [10.0, 20.0, 30.0]
        assert host._cell._actor._timer is None  # type: ignore[attr-defined]
        host.tell("hello")
        assert await sink.get() == ("hello", pytest.approx(100.0))


async def test_status_goes_to_the_collector_which_answers_waits() -> None:
    """Statuses reach the view through the collector; a wait is an ask answered when the
    condition holds; a host started before its collector is asked for its status."""
    async with ActorSystem("host") as system:
        host = await system.spawn(_EchoHost, "collector", name="echo")
        view: StatusView[_Status] = StatusView(["echo"], system, "collector")
        seen: list[_Status] = []
        view.listeners.append(seen.append)
        await system.spawn(StatusCollector, view, name="collector")
        await view.wait(lambda: "echo" in view.statuses, timeout=1.0)
        assert view.statuses["echo"].ticks == 0  # pulled: the host had reported to nobody
        await view.wait(lambda: view.statuses["echo"].ticks == 3, timeout=1.0)
        assert [s.ticks for s in seen] == [0, 1, 2, 3]
        with pytest.raises(TimeoutError):
            await view.wait(lambda: False, timeout=0.05)
        host.tell(ReportStatus())
        await asyncio.sleep(0)
        collector = system.whereis("collector")
        assert collector is not None
        await asyncio.sleep(0.01)
        assert collector._cell._actor.waiting == {}  # type: ignore[attr-defined]


async def test_a_view_without_a_running_collector_refuses_to_wait() -> None:
    async with ActorSystem("host") as system:
        view: StatusView[Any] = StatusView(["a"], system, "nobody")
        with pytest.raises(RuntimeError, match="nobody"):
            await view.wait(lambda: False, timeout=1.0)
        await view.wait(lambda: True)  # holds already: no collector needed


async def test_raft_statuses_come_as_messages_and_the_client_answers_an_ask() -> None:
    """Every node's status is in the view from the start (the collector asks for it); the
    client answers a Submit ask once the command is applied, with its Committed."""
    async with raft_cluster(3, seed=3) as (cluster, _network):
        assert sorted(cluster.view.statuses) == ["n1", "n2", "n3"]
        assert all(isinstance(s, NodeStatus) for s in cluster.view.statuses.values())
        leader = await cluster.wait_for_leader(timeout=5 * T)
        client = cluster.system.whereis(cluster.client_name)
        assert client is not None
        seq = cluster._next_seq  # the cluster's own numbering: seqs rise per client
        cluster._next_seq += 1
        [done] = await client.ask(Submit(((seq, Put("k", 1)),)), timeout=5 * T)
        assert isinstance(done, Committed)
        assert done.leader == leader
        assert done.index > 0
        assert await cluster.get("k", timeout=5 * T) == 1


async def test_a_timed_out_command_is_cancelled_in_the_client() -> None:
    """No majority: the ask times out (CommitTimeoutError) and the client stops retrying."""
    async with raft_cluster(3, seed=4) as (cluster, _network):
        await cluster.wait_for_leader(timeout=5 * T)
        for node in cluster.node_ids[:2]:
            await cluster.crash(node)
        with pytest.raises(CommitTimeoutError):
            await cluster.set("x", 1, timeout=2 * T)
        await asyncio.sleep(0.01)
        client = cluster.system.whereis(cluster.client_name)
        assert client is not None
        actor = client._cell._actor  # type: ignore[attr-defined]
        assert isinstance(actor, RaftClient)
        assert actor.pending == {}
        assert actor._batches == {}


async def test_pbft_observer_is_fed_from_the_collector() -> None:
    """PbftCluster(observer=...) still sees every replica's status, now via messages."""
    network = SimNetwork(seed=2, latency_ms=1.0)
    seen: list[ReplicaStatus] = []
    async with ActorSystem("pbft", transport=network) as system:
        ids = ["r0", "r1", "r2", "r3"]
        async with PbftCluster(system, ids, seed=2, network=network, observer=seen.append) as c:
            await c.set("x", 1, timeout=2.0)
            await c.view.wait(
                lambda: (
                    all(s.last_executed >= 1 for s in c.view.statuses.values())
                    and len(c.view.statuses) == 4
                ),
                2.0,
            )
    assert {s.id for s in seen} == set(ids)
    assert all(isinstance(s, ReplicaStatus) for s in seen)


async def test_chain_view_records_final_blocks_from_status_messages() -> None:
    network = SimNetwork(seed=3, latency_ms=1.0)
    async with ActorSystem("chain", transport=network) as system:
        chain = ChainCluster(system, ["v1", "v2", "v3"], seed=3, network=network)
        async with chain:
            final = await chain.submit("value", timeout=5.0)
            assert final.nodes
            assert chain.view.final_blocks(final.nodes[0])[final.height] == final.block_hash


async def test_a_message_to_a_crashed_peer_is_sent_and_dropped_on_arrival() -> None:
    """Peers are told by name: a heartbeat to a crashed follower is traced as sent, then
    dropped on arrival (note ``no_actor``) as a dead letter ``no_such_name``; once the
    follower is restarted, the same name reaches the new incarnation."""
    async with raft_cluster(3, seed=5) as (cluster, network):
        leader = await cluster.wait_for_leader(timeout=5 * T)
        victim = next(n for n in cluster.node_ids if n != leader)
        await cluster.crash(victim)
        crashed_at = asyncio.get_running_loop().time()
        await asyncio.sleep(0.2)
        trace = network.trace
        assert trace is not None
        after = [r for r in trace.records() if r[0] > crashed_at and r[4] == victim]
        sent = [r for r in after if r[1] == "send" and r[3] == leader]
        dropped = [r for r in after if r[1] == "drop"]
        assert sent
        assert any(r[7] == "no_actor" for r in dropped)
        letters = cluster.system.dead_letters.recent
        assert any(d.recipient == victim and d.reason == "no_such_name" for d in letters)
        await cluster.restart(victim)
        await cluster.view.wait(
            lambda: cluster.view.statuses[victim].leader == cluster.leader(), 5 * T
        )

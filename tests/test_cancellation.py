"""Every library call and async context manager cleans up fully when its caller is cancelled.

Each API runs inside an :class:`ActorSystem` and is cancelled mid-flight (a cluster waiting
for an election or a commit, an auction or a market call waiting for a slow answer, ...)
by each of five mechanisms: anyio's ``move_on_after``, ``fail_after`` and a task group's
``cancel_scope.cancel()``, asyncio's ``timeout`` and ``task.cancel()``. Afterwards, with
the system still open, no actor of the call runs (``actor_count`` is back to what it
was) and no name it registered is left (``registered()`` likewise), and the cancellation
surfaced as its library says: ``TimeoutError`` for ``fail_after`` / ``asyncio.timeout``,
``CancelledError`` for ``task.cancel()``, nothing for ``move_on_after`` and the task group.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from mabeam import ActorSystem
from mabeam.agents import AgentConfig, AgentRegistry
from mabeam.protocols.auction import run_auction
from mabeam.protocols.bargaining import negotiate
from mabeam.protocols.conflict import Conflict, resolve_conflicts
from mabeam.protocols.consensus import RaftCluster
from mabeam.protocols.consensus.chain import ChainCluster
from mabeam.protocols.consensus.pbft.api import PbftCluster
from mabeam.protocols.consensus.raft.actor import RaftAgent
from mabeam.protocols.hierarchy import Hierarchy, HierarchyAgent
from mabeam.protocols.market import create_market
from mabeam.runtime import Actor
from mabeam.sim import SimNetwork
from mabeam.variables import Variables

pytestmark = pytest.mark.virtual_time

MECHANISMS = ["move_on_after", "fail_after", "task_group", "asyncio_timeout", "task_cancel"]

Body = Callable[[], Awaitable[None]]


async def cancel_by(how: str, body: Body, at: float) -> None:
    """Run ``body`` and cancel it by ``how`` after ``at`` virtual seconds.

    Checks that the cancellation surfaced as the library says, and that ``body`` was
    still under way when it landed (it never ran to its end).
    """
    finished: list[bool] = []

    async def run() -> None:
        await body()
        finished.append(True)

    if how == "move_on_after":
        with anyio.move_on_after(at) as scope:
            await run()
        assert scope.cancelled_caught
    elif how == "fail_after":
        with pytest.raises(TimeoutError), anyio.fail_after(at):
            await run()
    elif how == "task_group":
        async with anyio.create_task_group() as group:
            group.start_soon(run)
            await anyio.sleep(at)
            group.cancel_scope.cancel()
    elif how == "asyncio_timeout":
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(at):
                await run()
    elif how == "task_cancel":
        task = asyncio.ensure_future(run())
        await asyncio.sleep(at)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    else:  # pragma: no cover - a typo in MECHANISMS
        raise AssertionError(how)
    assert not finished, "the call ended before the cancellation: pick a later point"


class Footprint:
    """What runs and what is registered in a system now, to compare after a cancel."""

    def __init__(self, system: ActorSystem) -> None:
        self.system = system
        self.actors = system.actor_count
        self.names = system.registered()

    def assert_unchanged(self) -> None:
        """Nothing the cancelled call spawned runs or stays registered."""
        assert self.system.registered() == self.names
        assert self.system.actor_count == self.actors


class Slow(Actor):
    """Answers every request only after ``delay`` seconds (later than anyone waits)."""

    def __init__(self, delay: float = 60.0) -> None:
        self.delay = delay

    async def receive(self, message: Any) -> Any:
        await asyncio.sleep(self.delay)
        return None


async def spawn_slow(system: ActorSystem, *names: str) -> list[str]:
    for name in names:
        await system.spawn(Slow, name=name)
    return list(names)


# ---------------------------------------------------------------- consensus clusters


@pytest.mark.parametrize("how", MECHANISMS)
async def test_raft_cluster_waiting_for_election(how: str) -> None:
    """Cancelled while waiting for the first leader: no node, client or name remains."""
    async with ActorSystem() as system:
        footprint = Footprint(system)

        async def body() -> None:
            async with RaftCluster(system, ["a", "b", "c"], seed=1) as cluster:
                assert system.whereis("a") is not None
                await cluster.wait_for_leader()

        await cancel_by(how, body, at=0.01)  # election timeouts are 150-300 ms
        footprint.assert_unchanged()


@pytest.mark.parametrize("how", MECHANISMS)
async def test_raft_cluster_committing(how: str) -> None:
    """Cancelled while a command waits for a majority that is down: everything stops."""
    async with ActorSystem() as system:
        footprint = Footprint(system)

        async def body() -> None:
            async with RaftCluster(system, ["a", "b", "c"], seed=2) as cluster:
                await cluster.wait_for_leader()
                for node in ("a", "b", "c"):
                    if node != cluster.leader():
                        await cluster.crash(node)
                await cluster.set("x", 1)

        await cancel_by(how, body, at=2.0)
        footprint.assert_unchanged()


@pytest.mark.parametrize("how", MECHANISMS)
async def test_pbft_cluster_submitting(how: str) -> None:
    """Cancelled while an operation waits for a quorum (two of four replicas silent): no
    replica or client runs and none stays registered."""
    network = SimNetwork(seed=1, latency_ms=1.0)
    async with ActorSystem(transport=network) as system:
        footprint = Footprint(system)

        async def body() -> None:
            ids = ["r1", "r2", "r3", "r4"]
            async with PbftCluster(system, ids, network=network, retransmit_ms=10) as cluster:
                cluster.byzantine("r3", "silent")
                cluster.byzantine("r4", "silent")
                await cluster.set("x", 1)

        await cancel_by(how, body, at=0.05)
        footprint.assert_unchanged()


@pytest.mark.parametrize("how", MECHANISMS)
async def test_chain_cluster_submitting(how: str) -> None:
    """Cancelled while a transaction waits to be finalized: no validator remains."""
    async with ActorSystem() as system:
        footprint = Footprint(system)

        async def body() -> None:
            async with ChainCluster(system, ["v1", "v2", "v3"], seed=3) as chain:
                await chain.submit(1)

        await cancel_by(how, body, at=0.005)  # blocks are sealed every 20 ms
        footprint.assert_unchanged()


class SlowStartingAgent(RaftAgent):
    """A Raft node whose start takes 10 ms (say, loading its log)."""

    async def on_start(self) -> None:
        await asyncio.sleep(0.01)
        await super().on_start()


class SlowStartingRaft(RaftCluster):
    """Its last node starts slowly: a cancel can land while the nodes are being spawned."""

    def agent_spec(self, node_id: str) -> tuple[type[RaftAgent], tuple[Any, ...], dict[str, Any]]:
        actor, args, kwargs = super().agent_spec(node_id)
        return (SlowStartingAgent if node_id == self.node_ids[-1] else actor), args, kwargs


@pytest.mark.parametrize("how", MECHANISMS)
@pytest.mark.parametrize("enter", ["async_with", "start"])
async def test_raft_cluster_cancelled_during_start(how: str, enter: str) -> None:
    """A cancel that lands half-way through spawning the nodes leaves nothing behind."""
    async with ActorSystem() as system:
        footprint = Footprint(system)

        async def body() -> None:
            cluster = SlowStartingRaft(system, ["a", "b", "c"], seed=4)
            if enter == "start":
                await cluster.start()
                await cluster.stop()
            else:
                async with cluster:
                    pass

        await cancel_by(how, body, at=0.005)
        footprint.assert_unchanged()


async def test_raft_start_that_fails_leaves_nothing() -> None:
    """A client name already taken fails start after the nodes ran: they are stopped."""
    async with ActorSystem() as system:
        await spawn_slow(system, "raft-client")
        footprint = Footprint(system)
        with pytest.raises(Exception, match="raft-client"):
            async with RaftCluster(system, ["a", "b", "c"]):
                pass  # pragma: no cover
        footprint.assert_unchanged()


# ---------------------------------------------------------------- one-call protocols


@pytest.mark.parametrize("how", MECHANISMS)
async def test_run_auction_mid_round(how: str) -> None:
    """Cancelled while the auctioneer waits for a slow bid: the auctioneer is gone."""
    async with ActorSystem() as system:
        bidders = await spawn_slow(system, "b1", "b2")
        footprint = Footprint(system)

        async def body() -> None:
            await run_auction(system, "x", bidders, reply_timeout=1.0, name="auctioneer")

        await cancel_by(how, body, at=0.5)
        footprint.assert_unchanged()


@pytest.mark.parametrize("how", MECHANISMS)
async def test_negotiate_mid_turn(how: str) -> None:
    """Cancelled while the mediator waits for a turn: the mediator is gone."""
    async with ActorSystem() as system:
        agents = await spawn_slow(system, "buyer", "seller")
        footprint = Footprint(system)

        async def body() -> None:
            await negotiate(
                system, agents, outcomes=[1, 2, 3], n_steps=4, reply_timeout=1.0, name="mediator"
            )

        await cancel_by(how, body, at=0.5)
        footprint.assert_unchanged()


@pytest.mark.parametrize("how", MECHANISMS)
async def test_resolve_conflicts_mid_auction(how: str) -> None:
    """Cancelled while the coordinator's auction waits for bids: coordinator and
    auctioneer are gone."""
    async with ActorSystem() as system:
        agents = await spawn_slow(system, "a1", "a2")
        footprint = Footprint(system)
        conflict = Conflict(variable_id="x", conflicting_agents=agents, requested_values=[1, 2])

        async def body() -> None:
            await resolve_conflicts(
                system,
                [conflict],
                strategy="negotiated_settlement",
                reply_timeout=1.0,
                name="coordinator",
            )

        await cancel_by(how, body, at=0.5)
        footprint.assert_unchanged()


@pytest.mark.parametrize("how", MECHANISMS)
async def test_resolve_conflicts_mid_leader_election(how: str) -> None:
    """Cancelled while the coordinator's Raft cluster elects a leader: nothing remains."""
    async with ActorSystem() as system:
        agents = await spawn_slow(system, "a1", "a2", "a3")
        footprint = Footprint(system)
        conflict = Conflict(variable_id="x", conflicting_agents=agents, requested_values=[1, 2, 3])

        async def body() -> None:
            await resolve_conflicts(system, [conflict], strategy="leader_decision", seed=5)

        await cancel_by(how, body, at=0.01)
        footprint.assert_unchanged()


class SlowHierarchyAgent(HierarchyAgent):
    """Gathers its subtree's values only after a long pause."""

    async def receive(self, message: Any) -> Any:
        await asyncio.sleep(60.0)
        return await super().receive(message)


@pytest.mark.parametrize("how", MECHANISMS)
async def test_hierarchy_round(how: str) -> None:
    """Cancelled mid-round, a hierarchy stopped in ``finally`` leaves nothing running."""
    async with ActorSystem() as system:
        footprint = Footprint(system)

        async def body() -> None:
            agents = {"root": 1.0, "left": 2.0, "right": 3.0}
            hierarchy = await Hierarchy.start(system, agents, agent_class=SlowHierarchyAgent)
            try:
                await hierarchy.coordinate(reply_timeout=1.0)
            finally:
                await hierarchy.stop()

        await cancel_by(how, body, at=0.5)
        footprint.assert_unchanged()


@pytest.mark.parametrize("how", MECHANISMS)
async def test_market_call(how: str) -> None:
    """Cancelled while the exchange collects orders, a market stopped in ``finally``
    leaves no exchange behind."""
    async with ActorSystem() as system:
        traders = await spawn_slow(system, "t1", "t2")
        footprint = Footprint(system)

        async def body() -> None:
            market = await create_market(
                system, traders, pricing_mechanism="double_auction", reply_timeout=1.0
            )
            try:
                await market.clear()
            finally:
                await market.stop()

        await cancel_by(how, body, at=0.5)
        footprint.assert_unchanged()


@pytest.mark.parametrize("how", MECHANISMS)
async def test_variables_raft_coordination(how: str) -> None:
    """Cancelled while a variable is decided by Raft, a store stopped in ``finally``
    leaves neither the store nor the decision's cluster behind."""
    async with ActorSystem() as system:
        agents = await spawn_slow(system, "p1", "p2", "p3")
        footprint = Footprint(system)

        async def body() -> None:
            variables = await Variables.start(system)
            try:
                await variables.define("x", 0)
                await variables.coordinate("x", protocol="raft", agents=agents, value=1)
            finally:
                await variables.stop()

        await cancel_by(how, body, at=0.01)
        footprint.assert_unchanged()


@pytest.mark.parametrize("how", MECHANISMS)
async def test_agent_registry_health_check(how: str) -> None:
    """Cancelled while a health check waits, a registry stopped in ``finally`` leaves
    neither the registry nor its agents behind."""
    async with ActorSystem() as system:
        footprint = Footprint(system)

        async def body() -> None:
            registry = await AgentRegistry.start(system)
            try:
                await registry.register(AgentConfig(id="worker", actor=Slow), start=True)
                await registry.health("worker", timeout=1.0)
            finally:
                await registry.stop()

        await cancel_by(how, body, at=0.5)
        footprint.assert_unchanged()

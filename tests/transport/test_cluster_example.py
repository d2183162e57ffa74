"""examples/cluster: a Raft key-value store on 3 OS processes over a real nats-server.

The test process is the client (``examples/cluster/client.py``'s ``connect``). It writes
keys, SIGKILLs the leader's process, sees the other two elect a leader and keep serving
writes, then starts the killed node again from its file storage and checks that it caught
up: its state machine holds every value written, the ones written while it was dead too.
Every wait is bounded; every child is killed on the way out.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import anyio
import pytest
from anyio.abc import Process

from mabeam.protocols.consensus import RaftCluster
from mabeam.transport import NatsTransport
from mabeam.transport._server import NatsServer

from ._processes import kill, ready_process

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cluster"
sys.path.insert(0, str(EXAMPLE))

from client import connect  # noqa: E402  (the example's own module)

NODES = ["n1", "n2", "n3"]
WAIT = 15.0

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@asynccontextmanager
async def node(server: NatsServer, node_id: str, data: Path) -> AsyncIterator[Process]:
    command = [
        sys.executable,
        str(EXAMPLE / "node.py"),
        *("--id", node_id, "--peers", ",".join(NODES), "--data", str(data / node_id)),
        *("--nats", server.url, "--heartbeat", "0.1", "--down-after", "1.0"),
    ]
    async with ready_process(command) as process:
        yield process


def transport(cluster: RaftCluster) -> NatsTransport:
    found = cluster.system._transport
    assert isinstance(found, NatsTransport)
    return found


async def test_the_store_survives_its_leader_killed_and_the_leader_catches_up(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        processes = {}
        for node_id in NODES:
            processes[node_id] = await stack.enter_async_context(
                node(nats_server, node_id, tmp_path)
            )
        cluster = await stack.enter_async_context(
            connect(nats_server.url, NODES, heartbeat=0.1, down_after=1.0)
        )
        with anyio.fail_after(WAIT):
            await transport(cluster).wait_for_nodes(*NODES)
            leader = await cluster.wait_for_leader()
            for i in range(5):
                await cluster.set(f"k{i}", i)
            assert await cluster.get("k4") == 4

        await kill(processes[leader])  # SIGKILL: no goodbye, no clean shutdown
        with anyio.fail_after(WAIT):
            await cluster.view.wait(lambda: cluster.leader() not in (None, leader))
            successor = cluster.leader()
            assert successor is not None
            assert successor != leader
            for i in range(5, 10):
                await cluster.set(f"k{i}", i)  # two nodes of three: still a majority
            committed = await cluster.set("last", "written while the old leader was dead")
            assert committed is None
            assert await cluster.get("k9") == 9
            await transport(cluster).wait_until_down(leader)

        # The killed node starts again from its files (term, vote, log) and catches up.
        await stack.enter_async_context(node(nats_server, leader, tmp_path))
        expected = {f"k{i}": i for i in range(10)} | {
            "last": "written while the old leader was dead"
        }
        with anyio.fail_after(WAIT):
            target = (await cluster.state(successor)).commit_index
            # Its old incarnation's last status is below target: only the new one reaches it.
            await cluster.view.wait(
                lambda: (
                    (status := cluster.view.statuses.get(leader)) is not None
                    and status.commit_index >= target
                )
            )
            await transport(cluster).wait_for_name(leader)
            state = await cluster.state(leader)
        # A node applies what it learns is committed before it reports the commit index.
        assert state.applied >= target
        assert state.role == "follower"
        assert state.leader == successor
        assert state.data == expected
        assert {n: s.data for n, s in (await cluster.states()).items()} == dict.fromkeys(
            NODES, expected
        )

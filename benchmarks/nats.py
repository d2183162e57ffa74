"""The NATS suite: raw nats-py between two OS processes, the baseline of issue 16.

What the NATS transport costs is measured against what NATS itself costs on the same
machine, so these are the denominators of the transport's figures:

- ``request_reply``: sequential ``Client.request`` round trips to a responder in another
  process (:mod:`benchmarks._nats_peer`), microseconds per round trip;
- ``publish``: one-way ``Client.publish`` from this process to a subscriber in the
  other, ``flush()`` every :data:`BATCH` messages; messages per second counted until the
  subscriber confirms it has them all (``received`` says how many arrived).

Beside them, in the same run and between the same two processes, the transport's own
figures (the peer also runs a mabeam node, see :mod:`benchmarks._nats_peer`):

- ``transport_ask``: sequential ``ActorRef.ask`` round trips from an ``ActorSystem``
  with :class:`~mabeam.transport.NatsTransport` here to an echo actor on the peer's
  node (an ASK envelope out, a REPLY envelope back: two publishes, as a NATS request);
- ``transport_tell``: one-way ``ActorRef.tell`` to a counting actor there,
  ``transport.flush()`` every :data:`BATCH` tells, until the actor answers its count.

``ratios`` compares them: the ask round trip over the raw request/reply (target <= 1.5)
and tell throughput over raw publish throughput (target >= 0.5).

Both go through a real ``nats-server`` on loopback (:class:`~mabeam.transport._server.
NatsServer`); payloads are :data:`PAYLOAD_BYTES` bytes. Connecting is outside the timed
part. The transport benchmark can reuse :func:`responder`, :func:`round_trips` and
:func:`publish_to_sink` with its own figures beside these. Without nats-py or a
``nats-server`` the suite reports ``skipped`` with the reason instead of failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from ._common import (
    Figures,
    Json,
    best_of_rounds,
    check,
    latency,
    progress,
    ratio,
    scaled,
    throughput,
    timer,
    verdict,
)

ROUND_TRIPS = 10_000
PUBLISHES = 200_000
BATCH = 1_000
"""Messages published between two ``flush()`` calls."""
PAYLOAD_BYTES = 128
PAYLOAD = bytes(PAYLOAD_BYTES)
WARM_UP = 100
TIMEOUT = 10.0
"""Bound on each wait for the other process or the server, in seconds."""

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def responder(url: str) -> Iterator[subprocess.Popen[bytes]]:
    """Run :mod:`benchmarks._nats_peer` against ``url`` for the block; stop it after."""
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._nats_peer", url],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        line = _readline_within(process, TIMEOUT)
        if line != b"ready\n":
            raise RuntimeError(f"the NATS peer did not start (it said {line!r})")
        yield process
    finally:
        assert process.stdin is not None
        process.stdin.close()  # the peer exits at EOF
        try:
            process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _readline_within(process: subprocess.Popen[bytes], timeout: float) -> bytes:
    assert process.stdout is not None
    stdout = process.stdout
    lines: list[bytes] = []
    reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not lines:
        process.kill()  # ends the readline too (EOF)
        reader.join()
        raise RuntimeError(f"the NATS peer was not ready within {timeout:g} s")
    return lines[0]


async def round_trips(url: str, count: int, payload: bytes = PAYLOAD) -> float:
    """Seconds for ``count`` sequential requests to the responder's ``bench.echo``."""
    import nats

    from ._nats_peer import ECHO

    client = await nats.connect(url, connect_timeout=TIMEOUT)
    try:
        for _ in range(WARM_UP):
            await client.request(ECHO, payload, timeout=TIMEOUT)
        started = timer()
        for _ in range(count):
            await client.request(ECHO, payload, timeout=TIMEOUT)
        return timer() - started
    finally:
        await client.close()


async def publish_to_sink(
    url: str, count: int, payload: bytes = PAYLOAD, batch: int = BATCH
) -> tuple[float, int]:
    """Publish ``count`` messages to the responder's sink: (seconds, how many arrived).

    The clock stops when the sink has answered how many it counted, i.e. after the last
    message reached the other process.
    """
    import nats

    from ._nats_peer import COUNT, SINK

    client = await nats.connect(url, connect_timeout=TIMEOUT)
    try:
        await client.request(COUNT, b"", timeout=TIMEOUT)  # resets the sink's count
        started = timer()
        for n in range(1, count + 1):
            await client.publish(SINK, payload)
            if n % batch == 0:
                await client.flush(timeout=int(TIMEOUT))
        reply = await client.request(COUNT, b"", timeout=TIMEOUT)
        return timer() - started, int(reply.data)
    finally:
        await client.close()


async def transport_round_trips(url: str, count: int, payload: bytes = PAYLOAD) -> float:
    """Seconds for ``count`` sequential asks to the peer node's echo actor over NATS."""
    from mabeam import ActorSystem
    from mabeam.transport import NatsTransport

    from ._nats_peer import ECHO_ACTOR, NODE

    transport = NatsTransport(servers=[url], heartbeat=1.0, down_after=10.0)
    async with ActorSystem("bench", transport=transport) as system:
        await transport.wait_for_nodes(NODE, timeout=TIMEOUT)
        echo = await transport.wait_for_name(ECHO_ACTOR, timeout=TIMEOUT)
        for _ in range(WARM_UP):
            await echo.ask(payload, timeout=TIMEOUT)
        started = timer()
        for _ in range(count):
            await echo.ask(payload, timeout=TIMEOUT)
        seconds = timer() - started
        assert system.dead_letters.count == 0
        return seconds


async def transport_tells(
    url: str, count: int, payload: bytes = PAYLOAD, batch: int = BATCH
) -> tuple[float, int]:
    """Tell ``count`` messages to the peer node's sink actor: (seconds, how many arrived)."""
    from mabeam import ActorSystem
    from mabeam.transport import NatsTransport

    from ._nats_peer import NODE, SINK_ACTOR

    transport = NatsTransport(servers=[url], heartbeat=1.0, down_after=10.0)
    async with ActorSystem("bench", transport=transport):
        await transport.wait_for_nodes(NODE, timeout=TIMEOUT)
        sink = await transport.wait_for_name(SINK_ACTOR, timeout=TIMEOUT)
        await sink.ask("count", timeout=TIMEOUT)  # resets the count
        started = timer()
        for n in range(1, count + 1):
            sink.tell(payload)
            if n % batch == 0:
                await transport.flush(TIMEOUT)
        arrived = await sink.ask("count", timeout=TIMEOUT)
        return timer() - started, int(arrived)


RAFT_COMMITS = 500
"""Sequential commits timed on the 3-process Raft key-value store (examples/cluster)."""

_EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cluster"


def _raft_nats_commits(url: str, count: int, data: Path) -> float:
    """Seconds for ``count`` sequential commits to examples/cluster's 3-process Raft store.

    Three ``node.py`` processes (one Raft node each, file storage) on the server; this
    process is the client, a node of its own. Nodes are started, waited for and stopped
    outside the clock.
    """
    sys.path.insert(0, str(_EXAMPLE))
    try:
        from client import NODES, connect  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(_EXAMPLE))

    async def commits() -> float:
        async with connect(url, NODES) as cluster:
            await cluster.wait_for_leader()
            await cluster.set("warm-up", 0)
            started = timer()
            for i in range(count):
                await cluster.set("k", i)
            seconds = timer() - started
            assert await cluster.get("k") == count - 1
        return seconds

    processes = [
        subprocess.Popen(
            [
                sys.executable,
                str(_EXAMPLE / "node.py"),
                *("--id", node, "--peers", ",".join(NODES), "--data", str(data / node)),
                *("--nats", url),
            ],
            stdout=subprocess.PIPE,
        )
        for node in NODES
    ]
    try:
        for process in processes:
            if not _readline_within(process, 30.0).startswith(b"ready"):
                raise RuntimeError("a Raft node did not start")
        return asyncio.run(commits())
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _raft_sim_commits(count: int) -> float:
    """The same commits on a 3-node RaftCluster in one process on a SimNetwork (1 ms)."""
    from mabeam import ActorSystem
    from mabeam.protocols.consensus import RaftCluster
    from mabeam.sim import SimNetwork, run_virtual

    async def main() -> float:
        network = SimNetwork(seed=1, latency_ms=1.0, trace=False)
        async with (
            ActorSystem("bench", transport=network) as system,
            RaftCluster(system, ["n1", "n2", "n3"], seed=1, network=network) as cluster,
        ):
            await cluster.wait_for_leader()
            await cluster.set("warm-up", 0)
            started = timer()
            for i in range(count):
                await cluster.set("k", i)
            return timer() - started

    return run_virtual(main)


def _version(binary: Path) -> str:
    done = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, timeout=TIMEOUT, check=True
    )
    return done.stdout.strip()


def run(quick: bool) -> Json:
    try:
        import nats  # noqa: F401  (only whether it is there)

        from mabeam.transport._server import NatsServer, find_nats_server

        binary = find_nats_server()
    except (ImportError, FileNotFoundError) as exc:
        progress(f"nats: skipped: {exc}")
        return {"skipped": True, "reason": str(exc)}

    trips = scaled(ROUND_TRIPS, quick)
    commits = max(20, scaled(RAFT_COMMITS, quick))
    publishes = scaled(PUBLISHES, quick)
    batch = min(BATCH, publishes)
    received: list[int] = []

    with NatsServer(executable=binary) as server, responder(server.url):

        def request_reply() -> Figures:
            return {"round_trips": asyncio.run(round_trips(server.url, trips))}

        def publish() -> Figures:
            seconds, arrived = asyncio.run(publish_to_sink(server.url, publishes, batch=batch))
            received.append(arrived)
            return {"publish": seconds}

        def transport_ask() -> Figures:
            return {"round_trips": asyncio.run(transport_round_trips(server.url, trips))}

        def transport_tell() -> Figures:
            seconds, arrived = asyncio.run(transport_tells(server.url, publishes, batch=batch))
            told.append(arrived)
            return {"tell": seconds}

        def raft_nats() -> Figures:
            with tempfile.TemporaryDirectory() as data:
                return {"commits": _raft_nats_commits(server.url, commits, Path(data))}

        def raft_sim() -> Figures:
            return {"commits": _raft_sim_commits(commits)}

        told: list[int] = []
        raft = best_of_rounds({"raft_nats": raft_nats, "raft_sim": raft_sim}, 1, label="nats")
        best = best_of_rounds(
            {
                "request_reply": request_reply,
                "publish": publish,
                "transport_ask": transport_ask,
                "transport_tell": transport_tell,
            },
            label="nats",
        )

    rtt = latency(trips, best["request_reply"]["round_trips"])
    sent = throughput(publishes, best["publish"]["publish"])
    ask = latency(trips, best["transport_ask"]["round_trips"])
    tell = throughput(publishes, best["transport_tell"]["tell"])
    ratios = {
        "ask_over_request_reply": ratio(ask["us_per_op"], rtt["us_per_op"]),
        "tell_over_publish": ratio(tell["per_second"], sent["per_second"]),
    }
    return {
        "server": _version(binary),
        "binary": str(binary),
        "payload_bytes": PAYLOAD_BYTES,
        "request_reply": {**rtt, "us_per_round_trip": rtt["us_per_op"]},
        "publish": {**sent, "batch": batch, "received_min": min(received)},
        "transport_ask": {**ask, "us_per_round_trip": ask["us_per_op"]},
        "transport_tell": {**tell, "batch": batch, "received_min": min(told)},
        "raft_commits": {
            "what": f"{commits} sequential commits, 3 Raft nodes (examples/cluster)",
            "nats_3_processes": throughput(commits, raft["raft_nats"]["commits"]),
            "sim_network_1ms_one_process": throughput(commits, raft["raft_sim"]["commits"]),
            "note": "wall-clock commits/s; the simulated network's 1 ms latency is virtual",
        },
        "ratios": ratios,
        **verdict(
            [
                check("ask/request-reply round trip", ratios["ask_over_request_reply"], "<=", 1.5),
                check("tell/publish throughput", ratios["tell_over_publish"], ">=", 0.5),
            ]
        ),
    }

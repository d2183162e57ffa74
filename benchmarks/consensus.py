"""Raft on actors: commits per wall-clock second, election time, Figure 8 wall time.

- ``commits``: a 5-node :class:`RaftCluster` on a ``SimNetwork`` with 1 ms latency (trace
  off), virtual time. Unbatched: the client proposes one command and waits for it to be
  applied before the next (each commit is a full round: client -> leader -> followers ->
  leader -> client). Batched: ``propose_many`` of ``BATCH`` commands at a time (one
  ClientRequest, entries packed into AppendEntries of up to 64). The baseline, measured
  in the same run, is a bare majority-ack loop of asyncio tasks and queues (no actors, no
  network, no log): the leader hands each entry to 4 follower tasks and waits for 2 acks.
- ``election``: for each of 100 seeds, a 5-node cluster elects a leader and commits one
  command; the leader is crashed; the figure is the virtual time until a new leader is
  known (median and max over the seeds).
- ``figure8``: wall time of the 1,000-iteration Figure 8 unreliable scenario (R14) run by
  raft-core's harness (``benchmarks/raft_figure8.py``), when it exists.
- ``snapshots``: batched commits/s with a snapshot every 10,000 applied entries against
  the same run without snapshots (issue 21: within 10%).
- ``reads``: linearizable reads/s by ReadIndex (``cluster.read``: one heartbeat round, no
  log entry) against reads through the log (``cluster.get``), one at a time.
- ``catch_up``: a follower down since the start rejoins 100,000 entries behind (its log as
  empty as a wiped one); the virtual and wall time until it has applied everything, by
  InstallSnapshot (snapshots every 10,000) against by log replay (no snapshots).

Issue targets: >= 2,000 commits/s unbatched, >= 20,000 entries/s batched, Figure 8
unreliable under 10 s wall; snapshots cost at most 10% of batched commits/s; ReadIndex
reads several times faster than reads through the log.
"""

from __future__ import annotations

import asyncio
import importlib
import statistics
from collections.abc import Callable
from typing import Any

from mabeam import ActorSystem
from mabeam.protocols.consensus import Add, Get, Put, RaftCluster
from mabeam.protocols.consensus.raft import RaftConfig
from mabeam.sim import SimNetwork, run_virtual

from ._common import (
    Json,
    best_of_rounds,
    check,
    progress,
    ratio,
    scaled,
    throughput,
    timer,
    verdict,
)

NODES = 5
UNBATCHED = 5_000
BATCHED = 100_000
BATCH = 100
SEEDS = 100
FIGURE8_ITERATIONS = 1000


def _ids() -> list[str]:
    return [f"n{i + 1}" for i in range(NODES)]


SNAPSHOT_EVERY = 10_000
READS = 5_000
CATCH_UP = 100_000
CATCH_UP_BATCH = 1_000


async def _cluster_run(count: int, batch: int, snapshot_every: int = 0) -> float:
    network = SimNetwork(seed=1, latency_ms=1.0, trace=False)
    config = RaftConfig(snapshot_threshold=snapshot_every)
    async with (
        ActorSystem("bench", transport=network) as system,
        RaftCluster(system, _ids(), seed=1, network=network, config=config) as cluster,
    ):
        await cluster.wait_for_leader()
        await cluster.propose(Add("warm-up"))
        started = timer()
        if batch == 1:
            for _ in range(count):
                await cluster.propose(Add("n"))
        else:
            for _ in range(count // batch):
                await cluster.propose_many([Add("n")] * batch)
        seconds = timer() - started
        assert (await cluster.get("n")) == count // batch * batch
        return seconds


async def _bare_majority(count: int) -> float:
    """The leader puts each entry on 4 follower queues and waits for 2 acks (majority)."""
    loop = asyncio.get_running_loop()
    acks: asyncio.Queue[int] = asyncio.Queue()
    inboxes: list[asyncio.Queue[int]] = [asyncio.Queue() for _ in range(NODES - 1)]
    logs: list[list[int]] = [[] for _ in range(NODES - 1)]

    async def follower(inbox: asyncio.Queue[int], log: list[int]) -> None:
        while True:
            entry = await inbox.get()
            log.append(entry)
            acks.put_nowait(entry)

    tasks = [loop.create_task(follower(q, log)) for q, log in zip(inboxes, logs, strict=True)]
    started = timer()
    needed = NODES // 2  # acks besides the leader's own
    for entry in range(count):
        for inbox in inboxes:
            inbox.put_nowait(entry)
        got = 0
        while got < needed:
            if await acks.get() == entry:
                got += 1
    seconds = timer() - started
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return seconds


def _commits(quick: bool) -> Json:
    unbatched = scaled(UNBATCHED, quick)
    batched = max(BATCH, scaled(BATCHED, quick) // BATCH * BATCH)
    best = best_of_rounds(
        {
            "bare": lambda: {"seconds": asyncio.run(_bare_majority(unbatched))},
            "unbatched": lambda: {"seconds": run_virtual(lambda: _cluster_run(unbatched, 1))},
            "batched": lambda: {"seconds": run_virtual(lambda: _cluster_run(batched, BATCH))},
        },
        label="raft commits",
    )
    bare = throughput(unbatched, best["bare"]["seconds"])
    single = throughput(unbatched, best["unbatched"]["seconds"])
    many = throughput(batched, best["batched"]["seconds"])
    return {
        "what": f"{NODES}-node RaftCluster on SimNetwork (1 ms latency, trace off), virtual time",
        "bare_majority_ack": bare,
        "unbatched": single,
        "batched": {**many, "batch": BATCH},
        "notes": [
            "unbatched: one command at a time, each awaited until applied on the leader",
            f"batched: propose_many of {BATCH} commands, awaited batch by batch",
            "bare_majority_ack: asyncio tasks and queues, no actors, no network, no log",
        ],
        "ratios": {
            "meaning": "per_second over per_second",
            "unbatched_over_bare": ratio(single["per_second"], bare["per_second"]),
            "batched_over_bare": ratio(many["per_second"], bare["per_second"]),
        },
        **verdict(
            [
                check("unbatched commits/s", single["per_second"], ">=", 2000),
                check("batched entries/s", many["per_second"], ">=", 20000),
            ]
        ),
    }


async def _election(seed: int) -> float:
    network = SimNetwork(seed=seed, latency_ms=1.0, trace=False)
    async with (
        ActorSystem("bench", transport=network) as system,
        RaftCluster(system, _ids(), seed=seed, network=network) as cluster,
    ):
        await cluster.wait_for_leader()
        await cluster.propose("x")
        leader = cluster.leader()
        assert leader is not None
        loop = asyncio.get_running_loop()
        await cluster.crash(leader)
        crashed = loop.time()
        await cluster.wait_for_leader()
        return (loop.time() - crashed) * 1000.0


def _elections(quick: bool) -> Json:
    seeds = scaled(SEEDS, quick) if not quick else 5
    started = timer()
    times = [run_virtual(lambda seed=seed: _election(seed)) for seed in range(seeds)]
    seconds = timer() - started
    median = round(statistics.median(times), 3)
    return {
        "what": "virtual ms from a leader crash until a new leader is known, 5 nodes, 1 ms",
        "seeds": seeds,
        "median_ms": median,
        "max_ms": round(max(times), 3),
        "min_ms": round(min(times), 3),
        "wall_seconds": round(seconds, 3),
        "notes": [
            "election_timeout_ms [150, 300], heartbeat 50 ms, PreVote and CheckQuorum on",
            "followers wait out their election timeout after their last heartbeat, then a "
            "pre-vote round and a vote round (4 network hops)",
        ],
    }


def _figure8(quick: bool) -> Json:
    try:
        module: Any = importlib.import_module("benchmarks.raft_figure8")
    except ImportError:
        return {"missing": "benchmarks/raft_figure8.py (raft-core) does not exist"}
    iterations = scaled(FIGURE8_ITERATIONS, quick)
    started = timer()
    outcome = module.run_figure8(iterations, 1)
    seconds = timer() - started
    return {
        "what": f"Figure 8 unreliable (R14), {iterations} iterations, 5 nodes",
        "wall_seconds": round(seconds, 3),
        "outcome": outcome,
        **verdict([check("wall seconds", round(seconds, 3), "<=", 10.0)]),
    }


def _snapshots(quick: bool) -> Json:
    count = max(BATCH, scaled(BATCHED, quick) // BATCH * BATCH)
    every = scaled(SNAPSHOT_EVERY, quick)
    best = best_of_rounds(
        {
            "off": lambda: {"seconds": run_virtual(lambda: _cluster_run(count, BATCH))},
            "on": lambda: {"seconds": run_virtual(lambda: _cluster_run(count, BATCH, every))},
        },
        label="raft snapshots",
    )
    off = throughput(count, best["off"]["seconds"])
    on = throughput(count, best["on"]["seconds"])
    kept = ratio(on["per_second"], off["per_second"])
    return {
        "what": f"batched commits ({BATCH} a batch), {NODES} nodes, snapshots every {every}",
        "without_snapshots": off,
        "with_snapshots": {**on, "snapshot_every": every, "snapshots_per_node": count // every},
        "ratios": {"meaning": "per_second over per_second", "with_over_without": kept},
        **verdict([check("with / without snapshots", kept, ">=", 0.9)]),
    }


async def _reads_run(count: int, read_index: bool, batch: int) -> float:
    network = SimNetwork(seed=2, latency_ms=1.0, trace=False)
    async with (
        ActorSystem("bench", transport=network) as system,
        RaftCluster(system, _ids(), seed=2, network=network) as cluster,
    ):
        await cluster.wait_for_leader()
        await cluster.set("k", 1)
        await cluster.read("k")
        started = timer()
        if batch == 1:
            read = cluster.read if read_index else cluster.get
            for _ in range(count):
                await read("k")
        elif read_index:
            for _ in range(count // batch):
                await cluster.read_many(["k"] * batch)
        else:
            for _ in range(count // batch):
                await cluster.propose_many([Get("k")] * batch)
        seconds = timer() - started
        assert await cluster.read("k") == 1
        return seconds


def _reads(quick: bool) -> Json:
    count = scaled(READS, quick)
    batched = max(BATCH, scaled(BATCHED, quick) // BATCH * BATCH)

    def sample(n: int, read_index: bool, batch: int) -> Callable[[], dict[str, float]]:
        return lambda: {"seconds": run_virtual(lambda: _reads_run(n, read_index, batch))}

    best = best_of_rounds(
        {
            "log": sample(count, False, 1),
            "read_index": sample(count, True, 1),
            "log_batched": sample(batched, False, BATCH),
            "read_index_batched": sample(batched, True, BATCH),
        },
        label="raft reads",
    )
    log = throughput(count, best["log"]["seconds"])
    index = throughput(count, best["read_index"]["seconds"])
    log_many = throughput(batched, best["log_batched"]["seconds"])
    index_many = throughput(batched, best["read_index_batched"]["seconds"])
    faster = ratio(index["per_second"], log["per_second"])
    faster_many = ratio(index_many["per_second"], log_many["per_second"])
    return {
        "what": f"linearizable reads, {NODES} nodes, 1 ms latency",
        "one_at_a_time": {"through_the_log": log, "read_index": index},
        "batched": {"through_the_log": log_many, "read_index": index_many, "batch": BATCH},
        "notes": [
            "through the log: Get entries appended, replicated to a majority, applied",
            "ReadIndex: one ReadProbe round per batch to confirm leadership, no entry",
            "one at a time both cost one round trip to a majority: ReadIndex saves the "
            "append, the replication of the entry and its apply",
        ],
        "ratios": {
            "meaning": "per_second over per_second",
            "read_index_over_log": faster,
            "read_index_over_log_batched": faster_many,
        },
        **verdict([check("ReadIndex / log reads, batched", faster_many, ">=", 2.0)]),
    }


async def _catch_up_run(count: int, snapshot_every: int) -> dict[str, float]:
    network = SimNetwork(seed=3, latency_ms=1.0, trace=False)
    config = RaftConfig(snapshot_threshold=snapshot_every)
    async with (
        ActorSystem("bench", transport=network) as system,
        RaftCluster(system, _ids(), seed=3, network=network, config=config) as cluster,
    ):
        leader = await cluster.wait_for_leader()
        behind = next(n for n in cluster.node_ids if n != leader)
        await cluster.crash(behind)
        done = 0
        while done < count:
            size = min(CATCH_UP_BATCH, count - done)
            await cluster.propose_many([Put(f"k{done + i}", i) for i in range(size)])
            done += size
        target = cluster.view.statuses[leader].commit_index
        loop = asyncio.get_running_loop()
        virtual_start, wall_start = loop.time(), timer()
        await cluster.restart(behind)
        view = cluster.view
        await view.wait(lambda: view.statuses[behind].commit_index >= target)
        state = await cluster.state(behind)
        while state.applied < target:
            await asyncio.sleep(0.001)
            state = await cluster.state(behind)
        assert len(state.data) == count
        return {"wall": timer() - wall_start, "virtual_ms": (loop.time() - virtual_start) * 1e3}


def _catch_up(quick: bool) -> Json:
    count = scaled(CATCH_UP, quick)
    every = scaled(SNAPSHOT_EVERY, quick)
    best = best_of_rounds(
        {
            "replay": lambda: run_virtual(lambda: _catch_up_run(count, 0)),
            "snapshot": lambda: run_virtual(lambda: _catch_up_run(count, every)),
        },
        repeats=2,
        label="raft catch-up",
    )
    replay, snap = best["replay"], best["snapshot"]
    return {
        "what": f"a follower {count} entries behind (down since the start) catches up",
        "by_log_replay": {k: round(v, 4) for k, v in replay.items()},
        "by_snapshot": {
            **{k: round(v, 4) for k, v in snap.items()},
            "snapshot_every": every,
        },
        "notes": [
            "wall: seconds of wall-clock; virtual_ms: simulated time (1 ms per hop)",
            "replay: AppendEntries of up to 64 entries, one round trip each",
            "snapshot: the KV store of every key, 64 KiB InstallSnapshot chunks, then the "
            "entries after it",
        ],
        "ratios": {
            "meaning": "replay over snapshot (how many times faster the snapshot is)",
            "wall": ratio(replay["wall"], snap["wall"]),
            "virtual": ratio(replay["virtual_ms"], snap["virtual_ms"]),
        },
    }


def run(quick: bool) -> Json:
    progress("consensus: commits")
    commits = _commits(quick)
    progress("consensus: elections")
    elections = _elections(quick)
    progress("consensus: figure 8")
    figure8 = _figure8(quick)
    progress("consensus: snapshots")
    snapshots = _snapshots(quick)
    progress("consensus: reads")
    reads = _reads(quick)
    progress("consensus: catch-up")
    catch_up = _catch_up(quick)
    return {
        "counts": {"nodes": NODES, "unbatched": scaled(UNBATCHED, quick), "batch": BATCH},
        "measurements": {
            "commits": commits,
            "election": elections,
            "figure8": figure8,
            "snapshots": snapshots,
            "reads": reads,
            "catch_up": catch_up,
        },
    }

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

Issue targets: >= 2,000 commits/s unbatched, >= 20,000 entries/s batched, Figure 8
unreliable under 10 s wall.
"""

from __future__ import annotations

import asyncio
import importlib
import statistics
from typing import Any

from mabeam import ActorSystem
from mabeam.protocols.consensus import Add, RaftCluster
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


async def _cluster_run(count: int, batch: int) -> float:
    network = SimNetwork(seed=1, latency_ms=1.0, trace=False)
    async with (
        ActorSystem("bench", transport=network) as system,
        RaftCluster(system, _ids(), seed=1, network=network) as cluster,
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


def run(quick: bool) -> Json:
    progress("consensus: commits")
    commits = _commits(quick)
    progress("consensus: elections")
    elections = _elections(quick)
    progress("consensus: figure 8")
    figure8 = _figure8(quick)
    return {
        "counts": {"nodes": NODES, "unbatched": scaled(UNBATCHED, quick), "batch": BATCH},
        "measurements": {"commits": commits, "election": elections, "figure8": figure8},
    }

"""PBFT throughput: requests per wall-clock second over the simulated network (1 ms latency).

A :class:`~mabeam.protocols.consensus.pbft.api.PbftCluster` of n = 4 and n = 7 replica
actors and its client run on the virtual-time loop through a ``SimNetwork`` with a fixed
1 ms latency (trace off). The client pipelines a stream of ``Add`` requests
(``submit_many``); the figure is accepted requests per wall-clock second, every message
MAC'd and verified, pre-prepares and prepares signed. Unbatched: one request per
pre-prepare (``batch_max = 1``, up to 64 sequence numbers in flight). Batched: up to 256
requests per pre-prepare with 2 in flight, so requests queue and go out together.

Baseline, measured in the same run: the same network carrying a plain ping-pong between
4 actors (benchmarks/sim.py's program); the ratio compares PBFT's delivered messages per
second with it, i.e. what the protocol's own work (hashing, MACs, bookkeeping) costs per
message. Issue targets: >= 500 requests/s unbatched on n = 4, >= 5,000/s batched.

Checkpoints (issue 20): the batched n = 4 run again with a checkpoint every 8 sequence
numbers (about 2,000 requests each: every one snapshots the state, signs it with Ed25519,
verifies q - 1 others, collects garbage), next to the same run with checkpoints out of
reach (interval 10^9), in the same process: target no more than 15% below. State
transfer: r3 is down while ``CATCHUP_REQUESTS`` run (checkpoint every 100), restarts
empty and catches up through state transfer (the stable checkpoint's state, verified
against its digest, then the batches after it); the figure is the wall and virtual time
from its restart until it has executed what the others have, and its ratio to the wall
time the cluster took to run those requests.
"""

from __future__ import annotations

import asyncio

from mabeam import ActorSystem
from mabeam.protocols.consensus.kv import Add
from mabeam.protocols.consensus.pbft import PbftConfig
from mabeam.protocols.consensus.pbft.api import PbftCluster
from mabeam.sim import SimNetwork, run_virtual

from ._common import Json, best_of_rounds, check, ratio, scaled, throughput, timer, verdict
from .sim import _ping

REQUESTS = 2000
BATCHED_REQUESTS = 20000
CATCHUP_REQUESTS = 2000
CATCHUP_INTERVAL = 16


def _pbft(n: int, requests: int, config: PbftConfig) -> dict[str, float]:
    network = SimNetwork(seed=1, latency_ms=1.0, trace=False)

    async def main() -> dict[str, float]:
        async with ActorSystem(transport=network) as system:
            ids = [f"r{i}" for i in range(n)]
            async with PbftCluster(
                system, ids, seed=1, config=config, network=network, retransmit_ms=10_000
            ) as cluster:
                operations = [Add("n", 1) for _ in range(requests)]
                sent = network.sent
                started = timer()
                results = await cluster.submit_many(operations)
                seconds = timer() - started
                assert results[-1].result == requests
                return {"seconds": seconds, "messages": float(network.sent - sent)}

    return run_virtual(main)


def _catch_up(requests: int) -> dict[str, float]:
    """Seconds (wall and virtual) for a wiped replica to catch up, and the run's seconds."""
    network = SimNetwork(seed=1, latency_ms=1.0, trace=False)
    config = PbftConfig(checkpoint_interval=CATCHUP_INTERVAL, batch_max=1, max_in_flight=64)

    async def main() -> dict[str, float]:
        loop = asyncio.get_running_loop()
        async with ActorSystem(transport=network) as system:
            ids = ["r0", "r1", "r2", "r3"]
            async with PbftCluster(
                system, ids, seed=1, config=config, network=network, retransmit_ms=10_000
            ) as cluster:
                await cluster.crash("r3")
                started = timer()
                results = await cluster.submit_many([Add("n", 1) for _ in range(requests)])
                run_seconds = timer() - started
                target = max(r.seq for r in results)
                started, virtual = timer(), loop.time()
                await cluster.restart("r3")
                while True:
                    state = await cluster.state("r3")
                    if state is not None and state.last_executed >= target:
                        break
                    await asyncio.sleep(0.001)
                assert state.transfers, "r3 caught up without state transfer"
                return {
                    "seconds": timer() - started,
                    "virtual_seconds": loop.time() - virtual,
                    "run_seconds": run_seconds,
                }

    return run_virtual(main)


def run(quick: bool) -> Json:
    unbatched = PbftConfig(checkpoint_interval=100, batch_max=1, max_in_flight=64)
    batched = PbftConfig(checkpoint_interval=100, batch_max=256, max_in_flight=2)
    small = scaled(REQUESTS, quick)
    big = scaled(BATCHED_REQUESTS, quick)
    rounds = scaled(2000, quick)
    catch_up = scaled(CATCHUP_REQUESTS, quick)
    no_checkpoints = PbftConfig(checkpoint_interval=10**9, batch_max=256, max_in_flight=2)
    checkpoints = PbftConfig(checkpoint_interval=8, batch_max=256, max_in_flight=2)
    best = best_of_rounds(
        {
            "plain_network": lambda: {
                "seconds": _ping(4, rounds, SimNetwork(seed=1, latency_ms=1.0, trace=False))
            },
            "n4": lambda: _pbft(4, small, unbatched),
            "n7": lambda: _pbft(7, small, unbatched),
            "n4_batched": lambda: _pbft(4, big, batched),
            "n7_batched": lambda: _pbft(7, big, batched),
            "n4_batched_no_checkpoints": lambda: _pbft(4, big, no_checkpoints),
            "n4_batched_checkpoints": lambda: _pbft(4, big, checkpoints),
            "catch_up": lambda: _catch_up(catch_up),
        },
        repeats=1 if quick else 3,
        label="pbft",
    )
    plain_rate = 4 * 2 * rounds / best["plain_network"]["seconds"]
    figures: Json = {}
    rates: dict[str, float] = {}
    for name, count in (("n4", small), ("n7", small), ("n4_batched", big), ("n7_batched", big)):
        seconds = best[name]["seconds"]
        messages = best[name]["messages"]
        rates[name] = count / seconds
        figures[name] = {
            "requests": throughput(count, seconds),
            "messages_per_request": round(messages / count, 2),
            "message_rate_over_plain_network": ratio(messages / seconds, plain_rate),
        }
    with_cp = big / best["n4_batched_checkpoints"]["seconds"]
    without_cp = big / best["n4_batched_no_checkpoints"]["seconds"]
    caught = best["catch_up"]
    return {
        "counts": {"requests": small, "batched_requests": big, "catch_up_requests": catch_up},
        "measurements": {
            "pbft_throughput": {
                "what": "accepted requests per wall second, SimNetwork latency 1 ms",
                **figures,
                "plain_network": throughput(4 * 2 * rounds, best["plain_network"]["seconds"]),
                "notes": [
                    "unbatched: batch_max=1, max_in_flight=64; batched: batch_max=256, "
                    "max_in_flight=2",
                    "message_rate_over_plain_network: PBFT's messages per wall second over "
                    "a plain 4-actor ping-pong's on the same network",
                ],
                **verdict(
                    [
                        check("n = 4 unbatched requests/s", round(rates["n4"], 1), ">=", 500),
                        check(
                            "n = 4 batched requests/s", round(rates["n4_batched"], 1), ">=", 5000
                        ),
                    ]
                ),
            },
            "pbft_checkpoints": {
                "what": "n = 4 batched requests/s, checkpoint every 8 sequence numbers, over "
                "the same run with checkpoints out of reach",
                "with_checkpoints": throughput(big, best["n4_batched_checkpoints"]["seconds"]),
                "without_checkpoints": throughput(
                    big, best["n4_batched_no_checkpoints"]["seconds"]
                ),
                "ratio": ratio(with_cp, without_cp),
                **verdict(
                    [check("with / without checkpoints", ratio(with_cp, without_cp), ">=", 0.85)]
                ),
            },
            "pbft_state_transfer": {
                "what": f"a wiped replica (down for {catch_up} requests, checkpoint every "
                f"{CATCHUP_INTERVAL}) catching up through state transfer after its restart",
                "wall_seconds": round(caught["seconds"], 6),
                "virtual_seconds": round(caught["virtual_seconds"], 6),
                "run_wall_seconds": round(caught["run_seconds"], 6),
                "catch_up_over_run": ratio(caught["seconds"], caught["run_seconds"]),
                "notes": [
                    "catch_up_over_run: wall time to catch up over the wall time the cluster "
                    "took to execute those requests"
                ],
            },
        },
    }

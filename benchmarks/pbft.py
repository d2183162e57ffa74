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
"""

from __future__ import annotations

from mabeam import ActorSystem
from mabeam.protocols.consensus.kv import Add
from mabeam.protocols.consensus.pbft import PbftConfig
from mabeam.protocols.consensus.pbft.api import PbftCluster
from mabeam.sim import SimNetwork, run_virtual

from ._common import Json, best_of_rounds, check, ratio, scaled, throughput, timer, verdict
from .sim import _ping

REQUESTS = 2000
BATCHED_REQUESTS = 20000


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


def run(quick: bool) -> Json:
    unbatched = PbftConfig(checkpoint_interval=100, batch_max=1, max_in_flight=64)
    batched = PbftConfig(checkpoint_interval=100, batch_max=256, max_in_flight=2)
    small = scaled(REQUESTS, quick)
    big = scaled(BATCHED_REQUESTS, quick)
    rounds = scaled(2000, quick)
    best = best_of_rounds(
        {
            "plain_network": lambda: {
                "seconds": _ping(4, rounds, SimNetwork(seed=1, latency_ms=1.0, trace=False))
            },
            "n4": lambda: _pbft(4, small, unbatched),
            "n7": lambda: _pbft(7, small, unbatched),
            "n4_batched": lambda: _pbft(4, big, batched),
            "n7_batched": lambda: _pbft(7, big, batched),
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
    return {
        "counts": {"requests": small, "batched_requests": big},
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
            }
        },
    }

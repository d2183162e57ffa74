"""Conflict resolution: a batch of compromises, and negotiated settlements on the network.

- ``compromise``: ``resolve_conflicts`` over 10,000 value conflicts of 3 agents each
  (in process, no network): conflicts per wall second. Baseline in the same run: as many
  sequential ``ask`` round trips to one actor; the ratio says how many round trips one
  resolution costs (it is pure computation inside one coordinator ask).
- ``settlement``: 200 conflicts resolved by ``negotiated_settlement`` among 3 agent
  actors on a ``SimNetwork`` (1 ms latency, trace on), each a real sealed-bid auction
  whose auctioneer is a network node too: 14 messages a conflict. Baseline: the
  simulator's flat ping with the same message count; the ratio is the protocol's wall
  cost per message over a bare network message.
"""

from __future__ import annotations

from typing import Any

from mabeam import Actor, ActorSystem
from mabeam.protocols.conflict import (
    AgentTraits,
    Conflict,
    ConflictAgent,
    ConflictCoordinator,
    ConflictSettings,
    ResolveConflicts,
    resolve_conflicts,
)
from mabeam.sim import SimNetwork, run_virtual

from . import sim
from ._common import Figures, Json, best_of_rounds, progress, ratio, scaled, throughput, timer

COMPROMISES = 10_000
SETTLEMENTS = 200
AGENTS = ("coder", "creative_writer", "reviewer")
MESSAGES_PER_SETTLEMENT = 14  # 3 joins + 3 answers, RunAuction, 3 calls + 3 bids, result


def _conflicts(n: int) -> list[Conflict]:
    return [
        Conflict(
            variable_id=f"v{i}",
            conflicting_agents=list(AGENTS),
            requested_values=[0.1 * (i % 7), 1.5, 0.3 + 0.01 * (i % 11)],
        )
        for i in range(n)
    ]


def _compromise(n: int) -> Figures:
    conflicts = _conflicts(n)

    async def main() -> float:
        async with ActorSystem() as system:
            started = timer()
            result = await resolve_conflicts(system, conflicts, strategy="compromise")
            elapsed = timer() - started
            assert result.ok
            assert len(result.resolutions) == n
            return elapsed

    return {"seconds": run_virtual(main)}


class _Echo(Actor):
    async def receive(self, message: Any) -> Any:
        return message


def _asks(n: int) -> Figures:
    async def main() -> float:
        async with ActorSystem() as system:
            ref = await system.spawn(_Echo)
            started = timer()
            for i in range(n):
                await ref.ask(i, timeout=None)
            return timer() - started

    return {"seconds": run_virtual(main)}


def _settlement(n: int) -> Figures:
    network = SimNetwork(seed=1, latency_ms=1.0)
    traits = {"coder": AgentTraits(urgency=2.0)}
    conflicts = _conflicts(n)

    async def main() -> float:
        async with ActorSystem(transport=network) as system:
            for agent in AGENTS:
                network.add_node(agent)
                await system.spawn(ConflictAgent, agent, traits.get(agent), name=agent)
            network.add_node("mediator")
            mediator = await system.spawn(
                ConflictCoordinator,
                auction_node=lambda name: network.add_node(name, exempt=True),
                name="mediator",
            )
            settings = ConflictSettings(strategy="negotiated_settlement")
            request = ResolveConflicts(conflicts=conflicts, settings=settings, agents=traits)
            started = timer()
            result = await mediator.ask(request, timeout=None)
            elapsed = timer() - started
            assert result.ok, result.resolutions[0]
            return elapsed

    seconds = run_virtual(main)
    return {"seconds": seconds, "messages": float(network.sent)}


def run(quick: bool) -> Json:
    compromises = scaled(COMPROMISES, quick)
    settlements = max(2, scaled(SETTLEMENTS, quick))
    ping_rounds = settlements * MESSAGES_PER_SETTLEMENT // (2 * len(AGENTS))
    progress(f"conflict: {compromises} compromises, {settlements} settlements")
    best = best_of_rounds(
        {
            "compromise": lambda: _compromise(compromises),
            "asks": lambda: _asks(compromises),
            "settlement": lambda: _settlement(settlements),
            "flat_ping": lambda: {
                "seconds": sim._ping(len(AGENTS), ping_rounds, SimNetwork(seed=1, latency_ms=1.0))
            },
        },
        label="conflict",
    )
    compromise_s, asks_s = best["compromise"]["seconds"], best["asks"]["seconds"]
    settle_s, ping_s = best["settlement"]["seconds"], best["flat_ping"]["seconds"]
    messages = int(best["settlement"]["messages"])
    ping_messages = ping_rounds * 2 * len(AGENTS)
    return {
        "counts": {"compromises": compromises, "settlements": settlements},
        "measurements": {
            "compromise": {
                "what": f"resolve_conflicts: {compromises} value conflicts of 3, compromise",
                "resolutions": throughput(compromises, compromise_s),
                "baseline_sequential_asks": throughput(compromises, asks_s),
                "ratios": {
                    "meaning": "wall time over wall time, same count",
                    "compromise_over_ask": ratio(compromise_s, asks_s),
                },
            },
            "settlement": {
                "what": f"{settlements} negotiated settlements (sealed-bid auctions) of 3 agents "
                "on a SimNetwork, 1 ms latency",
                "settlements": throughput(settlements, settle_s),
                "messages": throughput(messages, settle_s),
                "baseline_flat_ping": throughput(ping_messages, ping_s),
                "ratios": {
                    "meaning": "wall seconds per message over wall seconds per ping message",
                    "settlement_message_over_ping_message": ratio(
                        settle_s / messages, ping_s / ping_messages
                    ),
                },
            },
        },
    }

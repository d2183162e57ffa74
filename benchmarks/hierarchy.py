"""Hierarchical coordination: one round over 10,000 agents, as a tree and as a star.

Each sample spawns 10,000 :class:`HierarchyAgent` s as nodes of a ``SimNetwork`` (1 ms
latency, trace on: what ``mabeam run`` uses by default), then times one round of
``coordinate(...)`` (mean) on the virtual-time loop: wall time, the protocol's message
count and virtual time. The baseline, in the same run, is one flat ping round (the
coordinator tells every agent, every agent tells back) over the same network and agent
count: the same number of messages with no hierarchy logic. Issue target: the tree
round (branching 10) under 1 s wall.
"""

from __future__ import annotations

import asyncio

from mabeam import ActorSystem
from mabeam.protocols.hierarchy import HierarchyAgent, Structure, coordinate
from mabeam.sim import SimNetwork, run_virtual

from . import sim
from ._common import Figures, Json, best_of_rounds, check, progress, ratio, timer, verdict

AGENTS = 10_000
QUICK_AGENTS = 1_000
BRANCHING = 10


def _round(structure: Structure, dead: str | None = None) -> Figures:
    network = SimNetwork(seed=1, latency_ms=1.0)
    figures: Figures = {}

    async def main() -> None:
        loop = asyncio.get_running_loop()
        async with ActorSystem(transport=network) as system:
            started = timer()
            for index, agent in enumerate(structure.ids):
                network.add_node(agent)
                await system.spawn(HierarchyAgent, agent, float(index), structure, name=agent)
            network.add_node("coordinator", exempt=True)
            figures["spawn_seconds"] = timer() - started
            if dead is not None:  # stopped: its parent learns it only by the timeout
                ref = system.whereis(dead)
                assert ref is not None
                await ref.stop()
            virtual = loop.time()
            started = timer()
            result = await coordinate(system, structure, aggregate="mean", name="coordinator")
            figures["round_seconds"] = timer() - started
            figures["virtual_ms"] = round((loop.time() - virtual) * 1000.0, 3)
            figures["messages"] = result.messages
            figures["responders"] = result.responders
            assert result.responders == len(structure) - (dead is not None), result

    run_virtual(main)
    return figures


def _flat_ping(agents: int) -> Figures:
    return {"round_seconds": sim._ping(agents, 1, SimNetwork(seed=1, latency_ms=1.0))}


def run(quick: bool) -> Json:
    agents = QUICK_AGENTS if quick else AGENTS
    ids = [f"a{i:05d}" for i in range(agents)]
    tree = Structure.tree(ids, BRANCHING)
    star = Structure.star(ids)
    progress(f"hierarchy: {agents} agents, tree depth {tree.depth}")
    best = best_of_rounds(
        {
            "tree": lambda: _round(tree),
            "star": lambda: _round(star),
            "tree_one_down": lambda: _round(tree, dead=ids[1]),
            "flat_ping": lambda: _flat_ping(agents),
        },
        label="hierarchy",
    )
    tree_s, star_s = best["tree"]["round_seconds"], best["star"]["round_seconds"]
    ping_s = best["flat_ping"]["round_seconds"]

    def shape(figures: Figures, structure: Structure) -> Json:
        return {
            "depth": structure.depth,
            "round_wall_seconds": round(figures["round_seconds"], 6),
            "spawn_wall_seconds": round(figures["spawn_seconds"], 6),
            "messages": int(figures["messages"]),
            "virtual_ms": figures["virtual_ms"],
            "messages_per_second": round(figures["messages"] / figures["round_seconds"], 1),
            "round_over_flat_ping": ratio(figures["round_seconds"], ping_s),
        }

    return {
        "counts": {"agents": agents, "branching_factor": BRANCHING},
        "measurements": {
            "hierarchy_round": {
                "what": f"one mean round over {agents} agents on SimNetwork (1 ms, trace on)",
                "tree": shape(best["tree"], tree),
                "star": shape(best["star"], star),
                "tree_with_a_dead_sub_coordinator": shape(best["tree_one_down"], tree),
                "flat_ping_round_wall_seconds": round(ping_s, 6),
                "notes": [
                    "round only: spawning the agents is timed apart (spawn_wall_seconds)",
                    "flat_ping: the coordinator tells each agent and each tells back, the "
                    "same 2(N-1)-ish messages with no hierarchy logic",
                    "tree_with_a_dead_sub_coordinator: the root's first child is stopped; the "
                    "root sends it the request all the same (a dead letter), waits its "
                    f"subtree's wait (reply_timeout 1 s x (2**{tree.heights[1]} - 1)) in "
                    "virtual time, then asks its 10 children itself",
                ],
                "ratios": {
                    "meaning": "wall time over wall time",
                    "tree_over_flat_ping": ratio(tree_s, ping_s),
                    "star_over_flat_ping": ratio(star_s, ping_s),
                },
                **verdict([check("tree round wall seconds", round(tree_s, 6), "<=", 1.0)]),
            }
        },
    }

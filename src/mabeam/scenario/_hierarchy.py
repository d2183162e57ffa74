"""The ``hierarchy`` scenario kind: one aggregation round up a tree, star or layers.

The agents are spawned flat under the run's agents supervisor, as every kind's are:
crash and restart faults act through it by agent id, and a crashed agent is down for
the round unless a fault restarts it. (The library's :class:`Hierarchy` nests a
supervisor per sub-coordinator instead; a scenario models the faults it lists, not
automatic restarts.)
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..protocols.hierarchy import ROOT_DOWN, HierarchyAgent, HierarchyResult, Structure
from ..protocols.hierarchy.actor import HierarchyRound, round_result
from ..protocols.hierarchy.messages import Begin
from ._run import Outcome, RunError, ScenarioRun, register_protocol
from ._schema import AgentSpec, HierarchyOptions


async def drive(run: ScenarioRun) -> Outcome:
    """Spawn the agents and the round's coordinator, start the faults, run one round."""
    options: HierarchyOptions = run.options
    structure = Structure.build(
        options.structure,
        run.agent_ids,
        branching_factor=options.branching_factor,
        layers=options.layers,
    )

    def agent(spec: AgentSpec) -> tuple[type[HierarchyAgent], tuple[Any, ...], dict[str, Any]]:
        assert isinstance(spec.value, int | float)  # the loader checked it
        return HierarchyAgent, (spec.id, float(spec.value), structure), {}

    await run.spawn_agents(agent)
    done: asyncio.Future[HierarchyResult] = asyncio.get_running_loop().create_future()
    timeout = options.reply_timeout_ms / 1000.0
    coordinator = await run.spawn_coordinator(
        HierarchyRound, structure, options.aggregate, timeout, done, variable=options.variable
    )
    await run.start_faults()
    coordinator.tell(Begin())
    result = await round_result(coordinator, done)
    if result.error == ROOT_DOWN:
        message = f"the root {structure.root!r} did not answer within its wait (down or cut off)"
        return Outcome(ok=False, error=RunError(code=ROOT_DOWN, message=message))
    return Outcome(ok=True, result=result)


def register() -> None:
    """Make ``kind = "hierarchy"`` runnable."""
    register_protocol("hierarchy", drive)

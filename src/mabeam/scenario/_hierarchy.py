"""The ``hierarchy`` scenario kind: one aggregation round up a tree, star or layers.

The agents are spawned flat under the run's agents supervisor, as every kind's are:
crash and restart faults act through it by agent id, and a crashed agent is down for
the round unless a fault restarts it. (The library's :class:`Hierarchy` nests a
supervisor per sub-coordinator instead; a scenario models the faults it lists, not
automatic restarts.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from ._kind import Kind, Outcome, RunFailure
from ._spec import AgentSpec, Count, NonEmpty, _Options

if TYPE_CHECKING:
    from ..protocols.hierarchy import HierarchyAgent, HierarchyResult
    from ._load import Rules
    from ._run import ScenarioRun


class HierarchyOptions(_Options, frozen=True, kw_only=True, tag="hierarchy"):
    """``kind = "hierarchy"``: aggregate the agents' values up a tree, star or layers."""

    structure: Literal["tree", "star", "layered"] = "tree"
    branching_factor: Count = 3
    layers: NonEmpty[NonEmpty[str]] | None = None  # layered only, and then required
    aggregate: Literal["mean", "sum", "min", "max", "median", "vote"] = "mean"
    variable: str | None = None


def check(rules: Rules, options: HierarchyOptions) -> None:
    """Numeric values; layers (only and always when layered) hold every agent once."""
    if (options.structure == "layered") != (options.layers is not None):
        problem = "required with" if options.layers is None else "only used with"
        rules.fail("protocol.layers", f"{problem} structure 'layered'")
    for i, spec in enumerate(rules.scenario.agents):
        if not isinstance(spec.value, (int, float)):
            got = "it is missing" if spec.value is None else f"got {spec.value!r}"
            rules.fail(f"agents[{i}].value", f"kind 'hierarchy' needs a number, {got}")
    seen: dict[str, str] = {}
    for i, layer in enumerate(options.layers or ()):
        for j, agent_id in enumerate(layer):
            where = f"protocol.layers[{i}][{j}]"
            rules.agent(where, agent_id)
            if agent_id in seen:
                rules.fail(where, f"agent {agent_id!r} is listed twice (also {seen[agent_id]})")
            seen[agent_id] = where
    root = rules.scenario.agents[0].id
    if options.layers and options.layers[0] != [root]:
        rules.fail("protocol.layers[0]", f"must hold only the root, the first agent {root!r}")
    if options.layers and (missing := [a for a in rules.ids if a not in seen]):
        rules.fail("protocol.layers", f"agents in no layer: {', '.join(missing)}")


async def drive(run: ScenarioRun) -> Outcome:
    """Spawn the agents and the round's coordinator, start the faults, run one round."""
    from ..protocols.hierarchy import ROOT_DOWN, HierarchyAgent, Structure
    from ..protocols.hierarchy.actor import HierarchyRound
    from ..protocols.hierarchy.messages import Begin

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
    timeout = options.reply_timeout_ms / 1000.0
    coordinator = await run.spawn_coordinator(
        HierarchyRound, structure, options.aggregate, timeout, variable=options.variable
    )
    await run.start_faults()
    # The round answers the ask when it is over (a coordinator that exits first fails it).
    result: HierarchyResult = await coordinator.ask(Begin(), timeout=None)
    if result.error == ROOT_DOWN:
        message = f"the root {structure.root!r} did not answer within its wait (down or cut off)"
        return Outcome(ok=False, error=RunFailure(code=ROOT_DOWN, message=message))
    return Outcome(ok=True, result=result)


KIND = Kind(options=HierarchyOptions, drive=drive, check=check)
"""``kind = "hierarchy"``: its agents' actors need the structure, so drive spawns them."""

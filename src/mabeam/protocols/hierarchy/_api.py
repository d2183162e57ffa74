"""The library API: run a round over running agents, or start a supervised hierarchy."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from ..._errors import ConfigError
from ...runtime import ActorRef, ActorSystem, ChildSpec, Supervisor
from ...runtime._cleanup import finish
from ...runtime.supervision import STRATEGIES, Strategy
from .actor import HierarchyAgent, HierarchyResult, HierarchyRound
from .aggregate import check_aggregate
from .messages import Begin
from .structure import Shape, Structure


async def coordinate(
    system: ActorSystem,
    structure: Structure,
    *,
    aggregate: str = "mean",
    reply_timeout: float = 1.0,
    variable: str | None = None,
    name: str | None = None,
) -> HierarchyResult:
    """One round over the :class:`HierarchyAgent` s of ``structure``, registered by id.

    The request goes down from the root, exact partial aggregates come up; an agent
    that does not answer within ``reply_timeout`` seconds (a subtree's coordinator:
    :meth:`Structure.wait`) is skipped and its children asked by its parent. Returns the
    result; a root that is down gives ``error="root_down"`` (no exception).
    ``name`` registers the round's coordinator (e.g. as a network node).
    """
    checked = check_aggregate(aggregate)
    if not reply_timeout > 0:
        raise ConfigError("reply_timeout", f"must be seconds > 0, got {reply_timeout!r}")
    coordinator = await system.spawn(
        HierarchyRound, structure, checked, reply_timeout, variable=variable, name=name
    )
    try:
        # Answered when the round is over; a coordinator that exits first fails the ask.
        result = await coordinator.ask(Begin(), timeout=None)
        assert result is not None  # an asked Begin is answered with the round's result
        return result
    finally:
        # To the end even if the caller is cancelled: no round outlives the call.
        await finish(coordinator.stop() if coordinator.is_alive else coordinator.join())


class Hierarchy:
    """Agents in a supervised tree of supervisors shaped like the hierarchy.

    Each agent with children is supervised together with its subtree: one
    :class:`~mabeam.Supervisor` per such agent holds the agent first, then its leaf
    children and the supervisors of its inner children, with ``strategy``. With the
    default ``rest_for_one``, a sub-coordinator's crash restarts it and its whole
    subtree, and a leaf's crash restarts the leaves listed after it; ``one_for_one``
    restarts only the crashed agent; ``one_for_all`` the whole group.
    """

    def __init__(self, system: ActorSystem, structure: Structure, supervisor: ActorRef) -> None:
        self.system = system
        self.structure = structure
        self.supervisor = supervisor

    @classmethod
    async def start(
        cls,
        system: ActorSystem,
        agents: Mapping[str, float] | Sequence[tuple[str, float]],
        *,
        structure: Shape = "tree",
        branching_factor: int = 3,
        layers: Sequence[Sequence[str]] | None = None,
        strategy: Strategy = "rest_for_one",
        intensity: int = 3,
        period: float = 5.0,
        agent_class: type[HierarchyAgent] = HierarchyAgent,
    ) -> Hierarchy:
        """Spawn the agents (id -> value, in agent order) under their supervisor tree."""
        pairs = list(agents.items()) if isinstance(agents, Mapping) else list(agents)
        for i, (_, value) in enumerate(pairs):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"agents[{i}].value", f"must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ConfigError(f"agents[{i}].value", f"must be finite, got {value!r}")
        ids = [agent for agent, _ in pairs]
        shape = Structure.build(structure, ids, branching_factor=branching_factor, layers=layers)
        if strategy not in STRATEGIES:
            allowed = ", ".join(STRATEGIES)
            raise ConfigError("strategy", f"unknown strategy {strategy!r}", allowed=allowed)
        options = {"strategy": strategy, "intensity": intensity, "period": period}
        specs: dict[int, ChildSpec] = {}
        # Children before parents: deepest subtrees first.
        for node in sorted(range(len(ids)), key=lambda n: shape.heights[n]):
            agent, value = pairs[node]
            own = ChildSpec(id=agent, actor=agent_class, args=(agent, value, shape), name=agent)
            children = shape.children[node]
            if not children:
                specs[node] = own
                continue
            group = [own, *(specs.pop(child) for child in children)]
            specs[node] = ChildSpec(
                id=f"{agent}/subtree", actor=Supervisor, args=(group,), kwargs=options
            )
        top = specs[0]
        supervisor = await system.spawn(top.actor, *top.args, **top.kwargs)
        return cls(system, shape, supervisor)

    async def coordinate(
        self, aggregate: str = "mean", *, reply_timeout: float = 1.0, variable: str | None = None
    ) -> HierarchyResult:
        """One round over the hierarchy (see :func:`coordinate`)."""
        return await coordinate(
            self.system,
            self.structure,
            aggregate=aggregate,
            reply_timeout=reply_timeout,
            variable=variable,
        )

    async def stop(self) -> None:
        """Stop every agent and supervisor of the hierarchy (to the end, even if cancelled)."""
        supervisor = self.supervisor
        await finish(supervisor.stop() if supervisor.is_alive else supervisor.join())

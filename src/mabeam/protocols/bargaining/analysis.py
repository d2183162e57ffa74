"""What every run reports about its agreement: satisfaction, concessions, Nash, Pareto.

Utilities come as one list per agent, aligned with the outcomes; every comparison is on
utilities rounded to 9 places (PROTOCOLS.md). Pure functions, no I/O.

- satisfaction of an agent: u(agreed);
- concession: u(its first offer) - u(agreed), 0 if it never offered;
- Nash bargaining point: the outcome maximising the product of (u_i - r_i) over the
  outcomes where every u_i >= r_i (ties: the smaller value; none such: None);
- Pareto frontier: the outcomes no other outcome dominates (at least as good for every
  agent, better for one); ``pareto_optimal`` says whether the agreement is on it. The
  frontier is listed for up to :data:`FRONTIER_LIMIT` outcomes (with three agents or
  more it takes time quadratic in them); ``pareto_optimal`` is always given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .strategies import Number, round9

FRONTIER_LIMIT = 10_000
"""The most outcomes whose Pareto frontier the analysis lists."""


@dataclass(frozen=True, slots=True)
class Analysis:
    """The analysis of an agreement (agents that reported no utilities are left out)."""

    satisfaction_scores: dict[str, float]
    concessions: dict[str, float]
    nash_value: Number | None
    pareto_frontier: list[Number] | None
    pareto_optimal: bool | None


def _vectors(utilities: Sequence[Sequence[float]], count: int) -> list[tuple[float, ...]]:
    """One rounded utility vector per outcome."""
    return [tuple(round9(u[k]) for u in utilities) for k in range(count)]


def nash_value(
    outcomes: Sequence[Number], utilities: Sequence[Sequence[float]], reserved: Sequence[float]
) -> Number | None:
    """The Nash bargaining point among ``outcomes`` (ascending), or None if no outcome is
    individually rational for every agent."""
    floors = [round9(r) for r in reserved]
    best: tuple[float, Number] | None = None
    for value, vector in zip(outcomes, _vectors(utilities, len(outcomes)), strict=True):
        if any(u < r for u, r in zip(vector, floors, strict=True)):
            continue
        product = round9(math.prod(u - r for u, r in zip(vector, floors, strict=True)))
        if best is None or product > best[0] or (product == best[0] and value < best[1]):
            best = (product, value)
    return None if best is None else best[1]


def pareto_frontier(
    outcomes: Sequence[Number], utilities: Sequence[Sequence[float]]
) -> list[Number]:
    """The outcomes on the Pareto frontier, ascending (two with equal utilities both are)."""
    vectors = _vectors(utilities, len(outcomes))
    order = sorted(range(len(outcomes)), key=lambda k: vectors[k], reverse=True)
    on: list[int] = []
    if len(utilities) == 2:
        # Sweep by u1 descending: on the frontier iff its u2 is its group's best and beats
        # every u2 of a strictly larger u1.
        beaten_by = -math.inf  # best u2 among strictly larger u1
        i = 0
        while i < len(order):
            j = i
            u1 = vectors[order[i]][0]
            while j < len(order) and vectors[order[j]][0] == u1:
                j += 1
            top = vectors[order[i]][1]  # the group is sorted by u2 descending
            if top > beaten_by:
                on += [k for k in order[i:j] if vectors[k][1] == top]
            beaten_by = max(beaten_by, top)
            i = j
    else:
        frontier: list[tuple[float, ...]] = []
        for k in order:
            vector = vectors[k]
            if frontier and vector == frontier[-1]:
                on.append(k)
            elif not any(_dominates(f, vector) for f in frontier):
                frontier.append(vector)
                on.append(k)
    return sorted(outcomes[k] for k in on)


def _dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a != b and all(x >= y for x, y in zip(a, b, strict=True))


def analyse(
    outcomes: Sequence[Number],
    utilities: Mapping[str, Sequence[float] | None],
    reserved: Mapping[str, float],
    agreed: Number,
    first_offers: Mapping[str, Number],
) -> Analysis:
    """Satisfaction, concessions, Nash point and Pareto frontier of the agreement ``agreed``.

    ``utilities[agent]`` is aligned with ``outcomes`` (ascending), None for an agent that
    did not report; then the Nash point and the frontier, which need everyone, are None.
    """
    index = {value: k for k, value in enumerate(outcomes)}
    known = {agent: list(u) for agent, u in utilities.items() if u is not None}
    satisfaction = {agent: round9(u[index[agreed]]) for agent, u in known.items()}
    concessions = {
        agent: round9(u[index[first_offers[agent]]] - u[index[agreed]])
        if agent in first_offers
        else 0.0
        for agent, u in known.items()
    }
    if len(known) < len(utilities):
        return Analysis(satisfaction, concessions, None, None, None)
    columns = list(known.values())
    floors = [reserved.get(agent, 0.0) for agent in known]
    vectors = _vectors(columns, len(outcomes))
    agreement = vectors[index[agreed]]
    small = len(outcomes) <= FRONTIER_LIMIT
    return Analysis(
        satisfaction_scores=satisfaction,
        concessions=concessions,
        nash_value=nash_value(outcomes, columns, floors),
        pareto_frontier=pareto_frontier(outcomes, columns) if small else None,
        pareto_optimal=not any(_dominates(v, agreement) for v in vectors),
    )

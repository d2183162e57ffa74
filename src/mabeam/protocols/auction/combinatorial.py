"""Combinatorial auctions: exact winner determination and VCG payments (pure, no actors).

Winner determination is a set-packing integer program: one 0/1 variable per bundle bid
with a positive bid, at most one winning bid per item and per agent (XOR), maximise the
sum of winning bids. It is solved by HiGHS's branch and cut through
:func:`scipy.optimize.milp`, which is exact, proves optimality, and handles 1,000 bids
on 64 items in well under a second where a pure-Python branch and bound needs seconds
for 200. The solver runs on the wall clock, the one clock in this package: with a
``time_budget`` (seconds) it stops when it runs out and the best allocation found so far
comes back with ``optimal = False``.

Ties (``PROTOCOLS.md``): among optimal allocations (equal totals after rounding to 9
places) the one whose sorted list of (agent id, bundle index) pairs is smallest wins.
After the first solve a second one asks whether any other allocation reaches the same
total; only if one does, the smallest list is built pair by pair, each step one solve
asking for the smallest next pair that still reaches the optimum. Totals are always
recomputed exactly (``math.fsum`` of the bids, rounded) from the solver's 0/1 answer,
so its floating-point tolerances never decide a tie.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from scipy.optimize import (  # type: ignore[import-untyped]
        Bounds,
        LinearConstraint,
        linprog,
        milp,
    )
    from scipy.sparse import csr_array  # type: ignore[import-untyped]

from ._config import round9

__all__ = [
    "Allocation",
    "BundleOffer",
    "CombinatorialOutcome",
    "determine_winners",
    "settle_combinatorial",
]

_TOLERANCE = 1e-7
"""Slack of the "reaches the optimum" row, in units of the largest bid (solver-side only)."""
_MARGIN = 1e-5
"""Safety margin of reduced-cost fixing, in units of the largest bid (LP round-off)."""
_MAX_CUTS = 50
_CORE = 250
"""Bids (best reduced costs first) in the small solve that finds a good lower bound."""
"""Near-optimal allocations the solver may mistake for optimal before we stop asking."""


@dataclass(frozen=True, slots=True)
class BundleOffer:
    """One bundle bid: ``agent``'s bundle number ``index`` (its position in the agent's list)."""

    agent: str
    index: int
    items: tuple[str, ...]
    bid: float


@dataclass(frozen=True)
class Allocation:
    """The winning bundle bids, in (agent, index) order, their total, and whether proven best."""

    winners: tuple[BundleOffer, ...]
    total: float
    optimal: bool


@dataclass(frozen=True)
class CombinatorialOutcome:
    """The result fields of a combinatorial auction, or ``error = "no_bids"``."""

    allocations: dict[str, list[str]] = field(default_factory=dict)
    payments: dict[str, float] = field(default_factory=dict)
    total_value: float = 0.0
    optimal: bool = True
    error: str | None = None


class _OutOfTime(Exception):
    """The time budget ran out during a solve."""


def _import_solver() -> None:
    """Import numpy and scipy on the first solve, not with this module: they take most of
    a second to import, and a run that holds no combinatorial auction never needs them."""
    global np, Bounds, LinearConstraint, linprog, milp, csr_array
    import numpy as np
    from scipy.optimize import Bounds, LinearConstraint, linprog, milp
    from scipy.sparse import csr_array


class _Solver:
    """One winner-determination problem over the positive bids, sorted by (agent, index)."""

    def __init__(
        self, offers: Iterable[BundleOffer], deadline: float, unit: float | None = None
    ) -> None:
        _import_solver()
        self.bids = sorted(
            (o for o in offers if math.isfinite(o.bid) and round9(o.bid) > 0),
            key=lambda o: (o.agent, o.index),
        )
        self.deadline = deadline
        self.n = len(self.bids)
        # Totals are kept in units of ``unit`` (a power of two: exact) so that even bids
        # near the float maximum add up without overflowing; 1 for any ordinary auction.
        self.unit = _unit(self.bids) if unit is None else unit
        self.values = [b.bid * self.unit for b in self.bids]
        self.scale = max(self.values, default=1.0)
        self.cost = np.array([v / self.scale for v in self.values], dtype=float)
        groups: dict[tuple[int, str], list[int]] = {}
        for k, bid in enumerate(self.bids):
            groups.setdefault((0, bid.agent), []).append(k)
            for item in bid.items:
                groups.setdefault((1, item), []).append(k)
        self.conflicts = [cols for cols in groups.values() if len(cols) >= 2]
        self.item_sets = [frozenset(b.items) for b in self.bids]
        self.timed_out = False
        self.best_effort: list[int] | None = None  # what a solve that ran out had found
        self.excluded: dict[int, int] = {}  # bids in no allocation worth considering: 0
        self._relaxation: tuple[float, np.ndarray, np.ndarray] | None = None

    # ---------------------------------------------------------------- exact arithmetic

    def total(self, chosen: Iterable[int]) -> float:
        """The exact total of the chosen bids, rounded to 9 places, in units of ``unit``."""
        return round9(math.fsum(self.values[k] for k in chosen))

    def amount(self, total: float) -> float:
        """A total in units of ``unit`` as a plain amount (inf beyond the floats)."""
        return total if self.unit == 1.0 else total / self.unit

    def compatible(self, a: int, b: int) -> bool:
        """Whether two bids can win together: different agents, disjoint items."""
        return self.bids[a].agent != self.bids[b].agent and not (
            self.item_sets[a] & self.item_sets[b]
        )

    def greedy(self, order: Iterable[int]) -> list[int]:
        """A feasible allocation: each bid in ``order`` that fits the ones taken before."""
        chosen: list[int] = []
        for k in order:
            if all(self.compatible(k, j) for j in chosen):
                chosen.append(k)
        return sorted(chosen)

    def heuristic(self) -> list[int]:
        """A good allocation fast: the better of highest bids first and of the LP
        relaxation's values first (the fallback when time is out, and a lower bound)."""
        by_bid = self.greedy(sorted(range(self.n), key=lambda k: (-self.bids[k].bid, k)))
        if self.deadline - time.perf_counter() <= 0:
            return by_bid
        values = self.relaxation()[2]
        by_lp = self.greedy(sorted(range(self.n), key=lambda k: (-values[k], -self.bids[k].bid, k)))
        return by_lp if self.total(by_lp) > self.total(by_bid) else by_bid

    # ---------------------------------------------------------------- solving

    def solve(
        self,
        *,
        fixed: dict[int, int] | None = None,
        min_total: float | None = None,
        cuts: Sequence[Sequence[int]] = (),
        first_of: Sequence[int] = (),
    ) -> list[int] | None:
        """One MILP solve: the chosen bids, or None if infeasible; raises _OutOfTime.

        ``fixed`` pins bids to 0 or 1; ``min_total`` requires reaching that total;
        ``cuts`` forbids those exact allocations (and only those); with ``first_of`` the
        objective is to choose the earliest bid of that list (the lexicographic step)
        instead.
        """
        n, extra = self.n, len(first_of)
        width = n + extra
        lower, upper = np.zeros(width), np.ones(width)
        for k, v in (self.excluded | (fixed or {})).items():
            lower[k] = upper[k] = v
        rows: list[tuple[list[int], list[float], float, float]] = [
            (cols, [1.0] * len(cols), -np.inf, 1.0) for cols in self.conflicts
        ]
        if min_total is not None:
            target = min_total / self.scale - _TOLERANCE
            rows.append((list(range(n)), list(self.cost), target, np.inf))
        for cut in cuts:
            # A no-good cut: forbid exactly this allocation (its bids, and none other), not
            # every allocation that contains it: a superset of an answer the solver gave
            # within its tolerance (a tiny bid left out) may be the optimum.
            inside = set(cut)
            rows.append(
                (
                    list(range(n)),
                    [1.0 if k in inside else -1.0 for k in range(n)],
                    -np.inf,
                    len(cut) - 1.0,
                )
            )
        objective = np.zeros(width)
        if first_of:
            for position, k in enumerate(first_of):
                rows.append(([n + position, k], [1.0, -1.0], -np.inf, 0.0))  # y <= x
                objective[n + position] = float(extra - position)
            rows.append((list(range(n, width)), [1.0] * extra, -np.inf, 1.0))
        else:
            objective[:n] = self.cost
        remaining = self.deadline - time.perf_counter()
        if remaining <= 0:
            self.timed_out = True
            raise _OutOfTime
        constraints = []
        if rows:
            data = [v for _, values, _, _ in rows for v in values]
            indices = [c for cols, _, _, _ in rows for c in cols]
            indptr = np.cumsum([0, *(len(cols) for cols, _, _, _ in rows)])
            matrix = csr_array((data, indices, indptr), shape=(len(rows), width))
            low = np.array([r[2] for r in rows])
            high = np.array([r[3] for r in rows])
            constraints.append(LinearConstraint(matrix, low, high))
        options = {"time_limit": min(remaining, 1e9), "mip_rel_gap": 0.0, "presolve": True}
        result = milp(
            -objective,
            integrality=np.ones(width),
            bounds=Bounds(lower, upper),
            constraints=constraints,
            options=options,
        )
        if result.status == 0:
            return [k for k in range(n) if result.x[k] > 0.5]
        if result.status == 2:
            return None
        self.timed_out = True
        self.best_effort = (
            [k for k in range(n) if result.x[k] > 0.5] if result.x is not None else None
        )
        raise _OutOfTime

    def relaxation(self) -> tuple[float, np.ndarray, np.ndarray]:
        """The LP relaxation: its optimum, each bid's reduced cost (<= 0) and value.

        In units of the largest bid. The bound and the reduced costs give reduced-cost
        fixing (:meth:`exclude_below`); the values order a greedy (:meth:`heuristic`)."""
        if self._relaxation is None:
            matrix = self._matrix(self.conflicts)
            result = linprog(
                -self.cost,
                A_ub=matrix,
                b_ub=np.ones(len(self.conflicts)) if self.conflicts else None,
                bounds=(0.0, 1.0),
                method="highs",
            )
            if result.status != 0:  # pragma: no cover - a set packing LP is always solvable
                return math.inf, np.zeros(self.n), np.zeros(self.n)
            reduced = -np.asarray(result.lower.marginals)
            self._relaxation = (-float(result.fun), reduced, np.asarray(result.x))
        return self._relaxation

    def exclude_below(self, total: float) -> None:
        """Reduced-cost fixing: rule out each bid that cannot be in any allocation reaching
        ``total`` (its LP bound falls short by more than a safety margin)."""
        if self.n == 0 or self.deadline - time.perf_counter() <= 0:
            return
        bound, reduced, _ = self.relaxation()
        limit = total / self.scale - _MARGIN
        self.excluded = {k: 0 for k in range(self.n) if bound + reduced[k] < limit}

    def _matrix(self, rows: Sequence[Sequence[int]]) -> csr_array | None:
        if not rows:
            return None
        indptr = np.cumsum([0, *(len(cols) for cols in rows)])
        indices = [c for cols in rows for c in cols]
        return csr_array((np.ones(len(indices)), indices, indptr), shape=(len(rows), self.n))

    def best(self, known: Iterable[BundleOffer] = ()) -> tuple[list[int], bool]:
        """An optimal allocation (no tie-break), or the best found and False.

        ``known`` bids that can win together start a greedy allocation: a lower bound
        that rules out bids before the solve (VCG passes the allocation without i).
        """
        if self.n == 0:
            return [], True
        fallback = self.heuristic()
        position = {(b.agent, b.index): k for k, b in enumerate(self.bids)}
        start = [position[(b.agent, b.index)] for b in known if (b.agent, b.index) in position]
        if start:
            rest = sorted(range(self.n), key=lambda k: (-self.bids[k].bid, k))
            extended = self.greedy([*start, *rest])
            if self.total(extended) > self.total(fallback):
                fallback = extended
        self.best_effort = None
        self.exclude_below(self.total(fallback))
        if self.n - len(self.excluded) > _CORE:
            # A small MILP over the bids the LP likes best usually finds the optimum or
            # close, and a better lower bound rules out many more bids for the full solve.
            reduced = self.relaxation()[1]
            ranked = sorted(range(self.n), key=lambda k: (-reduced[k], k))
            fixed = dict.fromkeys(ranked[_CORE:], 0)
            try:
                core = self.solve(fixed=fixed)
            except _OutOfTime:
                return fallback, False
            if core is not None and self.total(core) > self.total(fallback):
                fallback = core
                self.exclude_below(self.total(core))
        try:
            chosen = self.solve()
        except _OutOfTime:
            found = self.best_effort
            if found is not None and self.total(found) > self.total(fallback):
                return found, False
            return fallback, False
        assert chosen is not None  # choosing nothing is always feasible
        if self.total(fallback) > self.total(chosen):  # solver tolerance, never in practice
            chosen = fallback
        return chosen, True

    def smallest_optimal(self) -> tuple[list[int], bool]:
        """The optimal allocation with the smallest sorted (agent, index) list."""
        chosen, optimal = self.best()
        if not optimal or not chosen:
            return chosen, optimal
        try:
            for _ in range(_MAX_CUTS):
                target = self.total(chosen)
                self.exclude_below(target)
                other = self._another(chosen, target)
                if other is None:
                    return chosen, True
                if self.total(other) > target:
                    chosen = other  # the solver's first answer was a hair short
                    continue
                return self._lexicographic(chosen, target), True
        except _OutOfTime:
            return chosen, False
        return chosen, True

    def _another(self, chosen: list[int], target: float) -> list[int] | None:
        """Another allocation reaching ``target`` exactly, or None."""
        cuts = [chosen]
        for _ in range(_MAX_CUTS):
            other = self.solve(min_total=target, cuts=cuts)
            if other is None or self.total(other) >= target:
                return other
            cuts.append(other)  # within the solver's tolerance but below the optimum
        return None

    def _lexicographic(self, chosen: list[int], target: float) -> list[int]:
        """Fix bids in (agent, index) order: each step the earliest that can still win."""
        fixed: dict[int, int] = {}
        ones: list[int] = []
        position = 0
        cuts: list[list[int]] = []
        while self.total(ones) < target and len(cuts) < _MAX_CUTS:
            current = min(k for k in chosen if k >= position)
            candidates = [
                j for j in range(position, current) if all(self.compatible(j, k) for k in ones)
            ]
            earliest = current
            if candidates:
                found = self.solve(fixed=fixed, min_total=target, cuts=cuts, first_of=candidates)
                if found is not None and self.total(found) < target:
                    cuts.append(found)
                    continue
                if found is not None and (hits := [j for j in candidates if j in found]):
                    earliest, chosen = hits[0], found
            for j in range(position, earliest):
                fixed[j] = 0
            fixed[earliest] = 1
            ones.append(earliest)
            position = earliest + 1
        return ones if self.total(ones) >= target else chosen


def determine_winners(
    offers: Iterable[BundleOffer], *, time_budget: float | None = None
) -> Allocation:
    """The exact winner determination, with the ``PROTOCOLS.md`` tie-break.

    Bids that are not positive (after rounding) never win. ``time_budget`` in seconds
    (None: no limit); when it runs out the best allocation found has ``optimal=False``.
    """
    solver = _Solver(offers, _deadline(time_budget))
    chosen, optimal = solver.smallest_optimal()
    winners = tuple(solver.bids[k] for k in chosen)
    return Allocation(winners, solver.amount(solver.total(chosen)), optimal)


def settle_combinatorial(
    offers: Sequence[BundleOffer], payment_rule: str, *, time_budget: float | None = None
) -> CombinatorialOutcome:
    """Allocation and payments: ``first_price`` (pay as bid) or ``vcg``.

    VCG: agent i pays (best total without i) - (the others' total in the chosen
    allocation), clamped to [0, bid] should a solve run out of time.
    """
    deadline = _deadline(time_budget)
    solver = _Solver(offers, deadline)
    if solver.n == 0:
        return CombinatorialOutcome(optimal=True, error="no_bids")
    chosen, optimal = solver.smallest_optimal()
    winners = [solver.bids[k] for k in chosen]
    payments: dict[str, float] = {}
    for k in chosen:
        winner = solver.bids[k]
        if payment_rule != "vcg":
            payments[winner.agent] = float(winner.bid)
            continue
        without = _Solver(
            (o for o in solver.bids if o.agent != winner.agent), deadline, unit=solver.unit
        )
        best, exact = without.best(known=(w for w in winners if w is not winner))
        optimal = optimal and exact
        others = solver.total(j for j in chosen if j != k)
        payment = round9(solver.amount(without.total(best) - others))
        payments[winner.agent] = float(min(max(payment, 0.0), winner.bid))
    return CombinatorialOutcome(
        allocations={w.agent: list(w.items) for w in winners},
        payments=payments,
        total_value=solver.amount(solver.total(chosen)),
        optimal=optimal,
    )


def _unit(bids: Sequence[BundleOffer]) -> float:
    """1, or 2**-64 when the bids' sum is beyond the floats (bids near 1.8e308)."""
    try:
        if math.isfinite(math.fsum(b.bid for b in bids)):
            return 1.0
    except OverflowError:
        pass
    return 2.0**-64


def _deadline(time_budget: float | None) -> float:
    return math.inf if time_budget is None else time.perf_counter() + time_budget

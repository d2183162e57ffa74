"""Partial aggregates that combine exactly, whatever the shape of the hierarchy.

A :class:`Summary` is what a subtree reports up: enough to finish the aggregate over
all its responders exactly as if every value had been collected flat.

- ``mean`` / ``sum``: the count and the exact sum as a Shewchuk expansion (a few
  non-overlapping floats whose exact sum is the sum of the values), finished with
  ``math.fsum``: the correctly rounded sum, whatever the order of combination;
- ``min`` / ``max``: the smallest / largest value;
- ``median``: every value, sorted; finished as :func:`statistics.median` (an even count:
  the mean of the two middle values);
- ``vote``: the count of each distinct value, sorted by value; the winner is the most
  common value, ties broken by the smallest.

Values are floats (integers are converted); they must be finite, and sums are
assumed not to overflow.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable
from typing import Literal, TypeAlias

import msgspec

from ..._errors import ConfigError

Aggregate: TypeAlias = Literal["mean", "sum", "min", "max", "median", "vote"]
AGGREGATES: tuple[Aggregate, ...] = ("mean", "sum", "min", "max", "median", "vote")


class Summary(msgspec.Struct, frozen=True, omit_defaults=True):
    """A subtree's partial aggregate; only the fields its aggregate needs are filled."""

    count: int = 0
    total: tuple[float, ...] = ()  # mean, sum: the exact sum as an expansion
    low: float | None = None  # min
    high: float | None = None  # max
    values: tuple[float, ...] = ()  # median: sorted
    votes: tuple[tuple[float, int], ...] = ()  # vote: (value, count), sorted by value


def check_aggregate(aggregate: str) -> Aggregate:
    """``aggregate`` if it is one of :data:`AGGREGATES`, else a ConfigError naming them."""
    if aggregate not in AGGREGATES:
        allowed = ", ".join(AGGREGATES)
        raise ConfigError("aggregate", f"unknown aggregate {aggregate!r}", allowed=allowed)
    return aggregate


def of(value: float, aggregate: Aggregate) -> Summary:
    """The summary of one value."""
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError("value", f"must be a finite number, got {value!r}")
    if aggregate in ("mean", "sum"):
        return Summary(count=1, total=(value,) if value else ())
    if aggregate == "min":
        return Summary(count=1, low=value)
    if aggregate == "max":
        return Summary(count=1, high=value)
    if aggregate == "median":
        return Summary(count=1, values=(value,))
    return Summary(count=1, votes=((value, 1),))


def combine(a: Summary, b: Summary) -> Summary:
    """The summary of the union of two disjoint sets of responders."""
    if not a.count:
        return b
    if not b.count:
        return a
    return Summary(
        count=a.count + b.count,
        total=_add(a.total, b.total) if a.total or b.total else (),
        low=_pick(min, a.low, b.low),
        high=_pick(max, a.high, b.high),
        values=tuple(heapq.merge(a.values, b.values)) if a.values or b.values else (),
        votes=_merge_votes(a.votes, b.votes) if a.votes or b.votes else (),
    )


def combine_all(summaries: Iterable[Summary]) -> Summary:
    """The summary of the union of many disjoint sets of responders, in one pass.

    Merging sorted values once, k ways, keeps a star's median linear-logarithmic
    where folding :func:`combine` pairwise would be quadratic.
    """
    parts = [s for s in summaries if s.count]
    if len(parts) <= 2:
        result = Summary()
        for part in parts:
            result = combine(result, part)
        return result
    lows = [s.low for s in parts if s.low is not None]
    highs = [s.high for s in parts if s.high is not None]
    total: tuple[float, ...] = ()
    for part in parts:
        if part.total:
            total = _add(total, part.total)
    votes = [s.votes for s in parts if s.votes]
    return Summary(
        count=sum(s.count for s in parts),
        total=total,
        low=min(lows) if lows else None,
        high=max(highs) if highs else None,
        values=tuple(heapq.merge(*(s.values for s in parts if s.values))),
        votes=_merge_votes(*votes) if votes else (),
    )


def finish(summary: Summary, aggregate: Aggregate) -> float | None:
    """The aggregate's value over the summary's responders (None if there are none)."""
    if not summary.count:
        return None
    if aggregate == "sum":
        return math.fsum(summary.total)
    if aggregate == "mean":
        return math.fsum(summary.total) / summary.count
    if aggregate == "min":
        return summary.low
    if aggregate == "max":
        return summary.high
    if aggregate == "median":
        return median(summary.values)
    best = max(summary.votes, key=lambda pair: (pair[1], -pair[0]))
    return best[0]


def flat(values: Iterable[float], aggregate: Aggregate) -> float | None:
    """The aggregate over ``values`` collected in one place (what a hierarchy must match)."""
    return finish(combine_all(of(v, aggregate) for v in values), aggregate)


def median(ordered: tuple[float, ...] | list[float]) -> float:
    """The median of sorted values: the middle one, or the mean of the two middle ones.

    Computed as :func:`statistics.median` does, ``(low + high) / 2``, so it equals it for
    every input (two huge values give ``inf`` there and here, not an error).
    """
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def _pick(
    choose: Callable[[float, float], float], a: float | None, b: float | None
) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return choose(a, b)


def _add(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, ...]:
    """The expansion of the exact sum of two expansions (Shewchuk; CPython's msum recipe)."""
    partials = list(a)
    for x in b:
        i = 0
        for y in partials:
            if abs(x) < abs(y):
                x, y = y, x
            high = x + y
            low = y - (high - x)
            if low:
                partials[i] = low
                i += 1
            x = high
        partials[i:] = [x] if x else []
    return tuple(partials)


def _merge_votes(*tallies: tuple[tuple[float, int], ...]) -> tuple[tuple[float, int], ...]:
    merged: list[tuple[float, int]] = []
    for value, count in heapq.merge(*tallies):
        if merged and merged[-1][0] == value:
            merged[-1] = (value, merged[-1][1] + count)
        else:
            merged.append((value, count))
    return tuple(merged)

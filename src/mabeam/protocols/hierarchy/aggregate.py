"""Partial aggregates that combine exactly, whatever the shape of the hierarchy.

A :class:`Summary` is what a subtree reports up: enough to finish the aggregate over
all its responders exactly as if every value had been collected flat.

- ``mean`` / ``sum``: the count and the exact sum as an integer times a power of two
  (every float is one; the integer travels as a hex string, since it may outgrow 64
  bits), finished by one correctly rounded division: the sum and the mean are the
  correctly rounded exact ones (as ``math.fsum`` and ``statistics.mean`` give), whatever
  the order of combination, and partial sums never overflow;
- ``min`` / ``max``: the smallest / largest value;
- ``median``: every value, sorted; finished as :func:`statistics.median` (an even count:
  the mean of the two middle values);
- ``vote``: the count of each distinct value, sorted by value; the winner is the most
  common value, ties broken by the smallest.

Values are floats (integers are converted) and must be finite; a sum beyond the float
range finishes as ``inf`` (or ``-inf``), as ``sum()`` would give, which JSON shows as
null.
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
    total: str = ""  # mean, sum: the exact sum is int(total, 16) * 2**scale ("": zero)
    scale: int = 0
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
        numerator, denominator = value.as_integer_ratio()  # denominator: a power of two
        total, scale = _encode(numerator, 1 - denominator.bit_length())
        return Summary(count=1, total=total, scale=scale)
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
    total, scale = _add((a, b))
    return Summary(
        count=a.count + b.count,
        total=total,
        scale=scale,
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
    total, scale = _add(parts)
    votes = [s.votes for s in parts if s.votes]
    return Summary(
        count=sum(s.count for s in parts),
        total=total,
        scale=scale,
        low=min(lows) if lows else None,
        high=max(highs) if highs else None,
        values=tuple(heapq.merge(*(s.values for s in parts if s.values))),
        votes=_merge_votes(*votes) if votes else (),
    )


def finish(summary: Summary, aggregate: Aggregate) -> float | None:
    """The aggregate's value over the summary's responders (None if there are none)."""
    if not summary.count:
        return None
    if aggregate in ("sum", "mean"):
        numerator, scale = _decode(summary)
        if scale >= 0:
            numerator <<= scale
            scale = 0
        divisor = (summary.count if aggregate == "mean" else 1) << -scale
        try:
            return numerator / divisor  # int / int: correctly rounded
        except OverflowError:
            return math.inf if numerator > 0 else -math.inf
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


def _decode(summary: Summary) -> tuple[int, int]:
    """The exact sum as (integer, power of two)."""
    return (int(summary.total, 16), summary.scale) if summary.total else (0, 0)


def _encode(numerator: int, scale: int) -> tuple[str, int]:
    """(hex integer, power of two) for numerator * 2**scale, the integer odd (or "")."""
    if not numerator:
        return "", 0
    zeros = (numerator & -numerator).bit_length() - 1
    return format(numerator >> zeros, "x"), scale + zeros


def _add(parts: Iterable[Summary]) -> tuple[str, int]:
    """The exact sum of the parts' sums, encoded."""
    terms = [_decode(part) for part in parts if part.total]
    if not terms:
        return "", 0
    low = min(scale for _, scale in terms)
    return _encode(sum(n << (scale - low) for n, scale in terms), low)


def _merge_votes(*tallies: tuple[tuple[float, int], ...]) -> tuple[tuple[float, int], ...]:
    merged: list[tuple[float, int]] = []
    for value, count in heapq.merge(*tallies):
        if merged and merged[-1][0] == value:
            merged[-1] = (value, merged[-1][1] + count)
        else:
            merged.append((value, count))
    return tuple(merged)

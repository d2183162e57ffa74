"""Exact partial aggregates and the gathering core: hierarchical equals flat, always."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mabeam import ConfigError
from mabeam.protocols.hierarchy import AGGREGATES, Partial, Structure, Summary
from mabeam.protocols.hierarchy.aggregate import (
    Aggregate,
    check_aggregate,
    combine,
    combine_all,
    finish,
    flat,
    of,
)
from mabeam.protocols.hierarchy.gathering import Gathering


@pytest.mark.parametrize(
    ("aggregate", "expected"),
    [
        pytest.param("mean", 3.5, id="mean"),
        pytest.param("sum", 21.0, id="sum"),
        pytest.param("min", 1.0, id="min"),
        pytest.param("max", 9.0, id="max"),
        pytest.param("median", 2.5, id="median-even"),
        pytest.param("vote", 2.0, id="vote-tie-smallest"),
    ],
)
def test_flat_aggregates(aggregate: Aggregate, expected: float) -> None:
    """Each aggregate over [9, 2, 1, 2, 3, 4] (vote: 2 wins; median: (2 + 3) / 2)."""
    assert flat([9, 2, 1, 2, 3, 4], aggregate) == expected


def test_vote_ties_go_to_the_smallest_value() -> None:
    """Two values equally common: the smaller wins."""
    assert flat([5.0, 3.0, 5.0, 3.0, 7.0], "vote") == 3.0
    assert flat([1.0], "median") == 1.0


def test_sum_is_exact_where_naive_addition_is_not() -> None:
    """The partial sum is exact: 1e16 + 1 - 1e16 is 1, in any grouping; the mean is the
    correctly rounded exact mean (statistics.mean's, not fsum / n's)."""
    left = combine(of(1e16, "sum"), of(1.0, "sum"))
    assert finish(combine(left, of(-1e16, "sum")), "sum") == 1.0
    assert finish(combine_all([of(0.1, "sum")] * 10), "sum") == math.fsum([0.1] * 10)
    assert flat([0.1, 0.2, 0.3], "mean") == statistics.mean([0.1, 0.2, 0.3]) == 0.2
    assert math.fsum([0.1, 0.2, 0.3]) / 3 != 0.2


def test_partial_sums_never_overflow() -> None:
    """Huge values: partial sums stay exact past the float range; a total beyond it is
    +-inf, a mean of huge values is still exact."""
    assert flat([1e308, 1e308, -1e308], "sum") == 1e308
    assert flat([1e308, 1e308], "mean") == 1e308
    assert flat([1e308, 1e308], "sum") == math.inf
    assert flat([-1e308, -1e308], "sum") == -math.inf
    assert flat([5e-324, 5e-324], "sum") == 1e-323
    assert flat([0.0, -0.0], "sum") == 0.0


def test_empty_summary_has_no_value_and_combines_as_identity() -> None:
    """No responders: no value; combining with nothing changes nothing."""
    assert finish(Summary(), "mean") is None
    one = of(2.0, "max")
    assert combine(Summary(), one) is one
    assert combine(one, Summary()) is one


def test_bad_aggregate_and_values_are_refused() -> None:
    """An unknown aggregate names the allowed ones; a non-finite value is refused."""
    with pytest.raises(ConfigError, match="median"):
        check_aggregate("mode")
    with pytest.raises(ConfigError, match="finite"):
        of(math.nan, "sum")


def _reference(values: list[float], aggregate: str) -> float:
    """The aggregate computed the obvious way, independently of the Summary code."""
    if aggregate == "mean":
        return statistics.mean(values)
    if aggregate == "sum":
        exact = sum(map(Fraction, values))
        try:
            return float(exact)
        except OverflowError:
            return math.inf if exact > 0 else -math.inf
    if aggregate == "min":
        return min(values)
    if aggregate == "max":
        return max(values)
    if aggregate == "median":
        return statistics.median(values)
    counts = Counter(values)
    top = max(counts.values())
    return min(v for v, c in counts.items() if c == top)


def _round(
    structure: Structure, values: list[float], dead: set[int], aggregate: Aggregate
) -> Partial:
    """Drive the pure core as the actors would, synchronously: dead nodes never answer."""

    def ask(node: int) -> Partial:
        gathering = Gathering(structure, node, of(values[node], aggregate), 1.0)
        batches = gathering.start()
        while batches:
            expiring = []
            for batch in batches:
                for child in batch.nodes:
                    gathering.sent()
                    if child not in dead:
                        assert gathering.answered(child, ask(child))
                expiring.append(batch.number)
            batches = [b for number in expiring for b in gathering.expired(number)]
        assert gathering.done
        return gathering.partial(request=1)

    return ask(0)


@st.composite
def _rounds(draw: st.DrawFn) -> tuple[Structure, list[float], set[int], Aggregate]:
    n = draw(st.integers(1, 60))
    ids = [f"n{i}" for i in range(n)]
    shape = draw(st.sampled_from(["tree", "star", "layered"]))
    if shape == "tree":
        structure = Structure.tree(ids, draw(st.integers(1, 5)))
    elif shape == "star":
        structure = Structure.star(ids)
    else:
        rest = draw(st.permutations(ids[1:]))
        cuts = sorted(draw(st.sets(st.integers(1, max(1, n - 2)), max_size=4))) if n > 2 else []
        layers, start = [[ids[0]]], 0
        for cut in [*cuts, n - 1]:
            if rest[start:cut]:
                layers.append(list(rest[start:cut]))
            start = max(start, cut)
        structure = Structure.layered(ids, layers)
    small = st.integers(-5, 5).map(float)
    wide = st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False)
    whole = st.floats(allow_nan=False, allow_infinity=False)  # sums may overflow
    values = draw(st.lists(small | wide | whole, min_size=n, max_size=n))
    dead = draw(st.sets(st.integers(1, max(1, n - 1)), max_size=n // 2)) if n > 1 else set()
    return structure, values, dead, draw(st.sampled_from(AGGREGATES))


@settings(max_examples=300, deadline=None)
@given(_rounds())
def test_hierarchical_aggregate_equals_flat_aggregate_of_responders(
    case: tuple[Structure, list[float], set[int], Aggregate],
) -> None:
    """For random shapes, values and dead sets: the exact flat aggregate of the live agents,
    only the dead missing, and a request per non-root agent plus an answer per live one."""
    structure, values, dead, aggregate = case
    partial = _round(structure, values, dead, aggregate)
    live = [v for i, v in enumerate(values) if i not in dead]
    assert finish(partial.summary, aggregate) == _reference(live, aggregate)
    assert partial.summary.count == len(live)
    assert list(partial.missing) == sorted(structure.ids[i] for i in dead)
    assert partial.messages == (len(values) - 1) + (len(live) - 1)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=30))
def test_median_is_statistics_median(values: list[float]) -> None:
    """PROTOCOLS.md's median is statistics.median, over the whole float range (two huge
    middle values overflow to inf there, and so here)."""
    assert flat(values, "median") == statistics.median(values)


def test_late_and_stray_answers_are_not_folded_in() -> None:
    """An answer no longer awaited (after its wait, or twice) is counted as received but
    not folded in; one from a node never asked is ignored altogether."""
    structure = Structure.tree(["r", "a", "b"], 2)
    gathering = Gathering(structure, 0, of(1.0, "sum"), 1.0)
    (batch,) = gathering.start()
    gathering.sent()
    gathering.sent()
    answer = Partial(request=1, summary=of(5.0, "sum"), messages=2)
    assert gathering.answered(2, answer)  # b in time: 1 + its 2 inner messages
    assert gathering.messages == 2 + 3
    assert not gathering.answered(2, answer)  # b again (a duplicate): counted only
    assert gathering.expired(batch.number) == []  # leaves: no children to adopt
    assert gathering.missing == ["a"]
    assert not gathering.answered(1, answer)  # a, after its wait: counted only
    assert gathering.messages == 2 + 3 + 3 + 3
    assert gathering.expired(batch.number) == []  # expiring twice is harmless
    assert gathering.summary == combine(of(1.0, "sum"), of(5.0, "sum"))
    chain = Gathering(Structure.tree(["r", "a", "b"], 1), 0, of(1.0, "sum"), 1.0)
    chain.start()
    assert not chain.answered(2, answer)  # r never asked b: stray, ignored
    assert chain.messages == 0
    assert chain.pending == {1: 1}


def test_silent_child_is_skipped_after_its_wait_and_its_children_asked() -> None:
    """A child that stays silent (down or cut off: the core cannot tell) is missing when
    its batch expires; its children form new batches with their own waits."""
    structure = Structure.tree([f"n{i}" for i in range(7)], 2)
    gathering = Gathering(structure, 0, of(1.0, "sum"), 1.0)
    (batch,) = gathering.start()
    assert batch.nodes == (1, 2)
    assert batch.wait == 3.0  # height 2: (2**2 - 1) x 1 s
    assert gathering.answered(2, Partial(request=1, summary=of(3.0, "sum"), messages=4))
    adopted = gathering.expired(batch.number)
    assert [b.nodes for b in adopted] == [(3, 4)]
    assert adopted[0].wait == 1.0
    assert gathering.missing == ["n1"]
    assert not gathering.done

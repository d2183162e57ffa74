"""The pure strategy cores against PROTOCOLS.md "Conflict resolution", to the number."""

from __future__ import annotations

import itertools
import math
import statistics
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mabeam.protocols.conflict import (
    AgentTraits,
    Conflict,
    ConflictSettings,
    FailedResolution,
    LeaderDecision,
    NegotiatedAuction,
    PriorityOverride,
    ResourceCompromise,
    ResourcePartitioning,
    StrategyFailure,
    TemporalCompromise,
    TimeSharing,
    ValueCompromise,
)
from mabeam.protocols.conflict import strategies as s
from mabeam.protocols.conflict.resolutions import Failure


def conflict(
    values: list[Any], kind: str = "value_incompatible", agents: list[str] | None = None
) -> Conflict:
    ids = agents or [f"a{i}" for i in range(len(values))]
    return Conflict(
        variable_id="v",
        conflicting_agents=ids,
        requested_values=values,
        conflict_type=kind,  # type: ignore[arg-type]
    )


NO_TRAITS: dict[str, AgentTraits] = {}


# ---------------------------------------------------------------- compromise on a value


@pytest.mark.parametrize(
    ("values", "method", "expected"),
    [
        pytest.param([0.1, 1.5], "weighted_average", 0.8, id="doc-weighted"),
        pytest.param([0.0, 2.0, 0.1], "median", 0.1, id="doc-median"),
        pytest.param([1.0, 1.05, 1.02], "simple_average", (1.0 + 1.05 + 1.02) / 3, id="close"),
        pytest.param([5, 5], "simple_average", 5.0, id="equal"),
        pytest.param([0.0, 1.0], "weighted_average", 0.5, id="variance-0.25"),
    ],
)
def test_compromise_chooses_the_method_from_range_and_variance(
    values: list[float], method: str, expected: float
) -> None:
    """range < 0.1 → simple_average; variance > 0.5 → median; else weighted_average."""
    result = s.compromise_value(conflict(values), NO_TRAITS)
    assert isinstance(result, ValueCompromise)
    assert result.compromise_method == method
    assert result.resolved_value == pytest.approx(expected, abs=1e-12)
    assert isinstance(result.resolved_value, float)


def test_range_and_variance_are_rounded_to_9_places_before_comparing() -> None:
    """A range of 0.1 up to float error is not < 0.1; a variance of 0.5 is not > 0.5."""
    # 0.3 - 0.2 = 0.09999999999999998, which rounds to 0.1: not simple_average.
    assert s.choose_method([0.2, 0.3]) == "weighted_average"
    assert s.choose_method([0.0, 1.0, 2.0]) == "median"  # variance 2/3
    assert s.choose_method([0.0, 1.0, 1.0, 2.0]) == "weighted_average"  # variance exactly 0.5
    assert s.choose_method([1.0 - 1e-12, 1.0 + 1e-12, 1.0]) == "simple_average"


def test_weighted_average_weighs_by_agent_weight() -> None:
    """weighted_average = Σ v·weight / Σ weight, agents without traits weigh 1."""
    traits = {"a0": AgentTraits(weight=3.0)}
    result = s.compromise_value(conflict([0.0, 1.0]), traits, "weighted_average")
    assert isinstance(result, ValueCompromise)
    assert result.resolved_value == 0.25


def test_zero_total_weight_fails() -> None:
    """All weights 0: weighted_average cannot divide, the strategy fails."""
    traits = {"a0": AgentTraits(weight=0.0), "a1": AgentTraits(weight=0.0)}
    result = s.compromise_value(conflict([0.0, 1.0]), traits, "weighted_average")
    assert result == Failure("zero_total_weight", result.message)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("method", "expected"),
    [("simple_average", 4.0), ("median", 2.0), ("weighted_average", 4.0)],
)
def test_the_compromise_method_option_overrides_the_choice(method: str, expected: float) -> None:
    """compromise_method, when given, is used whatever the values."""
    result = s.compromise_value(conflict([1, 2, 9]), NO_TRAITS, method)  # type: ignore[arg-type]
    assert isinstance(result, ValueCompromise)
    assert (result.compromise_method, result.resolved_value) == (method, expected)


@pytest.mark.parametrize(
    "values",
    [["warm", "cold"], [1.0, "x"], [True, 2.0], [math.nan, 1.0]],
    ids=["labels", "mixed", "bool", "nan"],
)
def test_compromise_on_non_numeric_values_fails(values: list[Any]) -> None:
    """Non-numeric values: compromise fails with non_numeric_values."""
    result = s.compromise_value(conflict(values), NO_TRAITS)
    assert isinstance(result, Failure)
    assert result.code == "non_numeric_values"


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=8), st.data())
def test_compromise_value_lies_between_the_requests(values: list[float], data: Any) -> None:
    """Every method gives a value within [min, max] of the requests."""
    weights = data.draw(st.lists(st.floats(0.01, 100), min_size=len(values), max_size=len(values)))
    traits = {f"a{i}": AgentTraits(weight=w) for i, w in enumerate(weights)}
    for method in (None, "simple_average", "median", "weighted_average"):
        result = s.compromise_value(conflict(values), traits, method)
        assert isinstance(result, ValueCompromise)
        slack = 1e-9 * max(1.0, max(abs(v) for v in values))
        assert min(values) - slack <= result.resolved_value <= max(values) + slack


# ---------------------------------------------------------------- compromise on resources


def test_resource_compromise_gives_requests_when_they_fit() -> None:
    """available >= total: each gets its request; efficiency 1.0."""
    result = s.compromise_resources(conflict([2, 3], "resource_competition"), 10.0)
    assert isinstance(result, ResourceCompromise)
    assert [(a.agent, a.amount) for a in result.allocations] == [("a0", 2.0), ("a1", 3.0)]
    assert result.efficiency == 1.0
    assert (result.available_resources, result.total_requested) == (10.0, 5.0)


def test_resource_compromise_scales_when_they_do_not_fit() -> None:
    """available < total: requested/total · available each; efficiency available/total."""
    result = s.compromise_resources(conflict([6, 2], "resource_competition"), 4.0)
    assert isinstance(result, ResourceCompromise)
    assert [(a.agent, a.amount) for a in result.allocations] == [("a0", 3.0), ("a1", 1.0)]
    assert result.efficiency == 0.5


def test_resource_compromise_defaults_available_to_the_total() -> None:
    """Without available_resources every request is met."""
    result = s.compromise_resources(conflict([1.5, 2.5], "resource_competition"), None)
    assert isinstance(result, ResourceCompromise)
    assert [a.amount for a in result.allocations] == [1.5, 2.5]
    assert result.efficiency == 1.0
    assert result.available_resources == 4.0


def test_resource_compromise_with_nothing_requested() -> None:
    """All requests 0: each gets 0, efficiency 1.0 (no division by zero)."""
    result = s.compromise_resources(conflict([0, 0], "resource_competition"), 0.0)
    assert isinstance(result, ResourceCompromise)
    assert [a.amount for a in result.allocations] == [0.0, 0.0]
    assert result.efficiency == 1.0


@pytest.mark.parametrize(
    ("values", "code"),
    [(["a", 1], "non_numeric_values"), ([1, -2], "negative_request")],
)
def test_resource_compromise_refuses_bad_requests(values: list[Any], code: str) -> None:
    """Requests must be numbers >= 0."""
    result = s.compromise_resources(conflict(values, "resource_competition"), 5.0)
    assert isinstance(result, Failure)
    assert result.code == code


@given(
    st.lists(st.floats(0, 1e6), min_size=1, max_size=8),
    st.one_of(st.none(), st.floats(0, 1e6)),
)
def test_resource_allocations_sum_to_min_of_total_and_available(
    requests: list[float], available: float | None
) -> None:
    """Allocations sum to min(total, available), proportional to the requests."""
    result = s.compromise_resources(conflict(requests, "resource_competition"), available)
    assert isinstance(result, ResourceCompromise)
    total = math.fsum(requests)
    cap = total if available is None else min(total, available)
    amounts = [a.amount for a in result.allocations]
    assert math.fsum(amounts) == pytest.approx(cap, rel=1e-9, abs=1e-9)
    if total > 0:
        for amount, request in zip(amounts, requests, strict=True):
            assert amount == pytest.approx(request / total * cap, rel=1e-9, abs=1e-9)
    assert 0.0 <= result.efficiency <= 1.0


# ---------------------------------------------------------------- schedules


def test_time_sharing_gives_each_agent_a_slot_in_order() -> None:
    """Agent i gets [i·d, (i+1)·d); the first is active; rotation = n·d."""
    result = s.time_sharing(conflict(["x", "y", "z"], "temporal_constraint"), 600_000)
    assert isinstance(result, TimeSharing)
    assert [(t.agent, t.value, t.start_time, t.end_time, t.active) for t in result.schedule] == [
        ("a0", "x", 0, 600_000, True),
        ("a1", "y", 600_000, 1_200_000, False),
        ("a2", "z", 1_200_000, 1_800_000, False),
    ]
    assert result.resolved_value == "x"
    assert (result.time_slot_duration, result.rotation_period) == (600_000, 1_800_000)


def test_compromise_on_a_temporal_constraint_is_the_time_sharing_schedule() -> None:
    """compromise on a temporal_constraint: resolution_type temporal_compromise, same slots."""
    c = conflict([1, 2], "temporal_constraint")
    settings = ConflictSettings(time_slot_duration=50)
    result = s.compromise(c, NO_TRAITS, settings)
    assert isinstance(result, TemporalCompromise)
    shared = s.time_sharing(c, 50)
    assert result.schedule == shared.schedule
    assert result.rotation_period == 100
    assert msgspec.to_builtins(result)["resolution_type"] == "temporal_compromise"


# ---------------------------------------------------------------- priority, leader


def test_priority_override_highest_priority_wins() -> None:
    """The highest priority's request stands; the others are overridden, in order."""
    traits = {"a1": AgentTraits(priority=5), "a2": AgentTraits(priority=2)}
    result = s.priority_override(conflict([1, 2, 3]), traits)
    assert isinstance(result, PriorityOverride)
    assert (result.winning_agent, result.resolved_value) == ("a1", 2)
    assert result.overridden_agents == ["a0", "a2"]


def test_priority_override_ties_go_to_the_first_listed() -> None:
    """Equal priorities (after rounding to 9 places): the first in conflicting_agents wins."""
    traits = {"b": AgentTraits(priority=1.0), "a": AgentTraits(priority=1.0 + 1e-12)}
    result = s.priority_override(conflict([10, 20], agents=["b", "a"]), traits)
    assert isinstance(result, PriorityOverride)
    assert result.winning_agent == "b"


def test_leader_decision_takes_the_leaders_value() -> None:
    """The leader's requested value, whatever its type."""
    result = s.leader_decision(conflict(["x", "y"]), "a1")
    assert isinstance(result, LeaderDecision)
    assert (result.leader, result.resolved_value) == ("a1", "y")


def test_leader_outside_the_conflict_decides_the_median() -> None:
    """A leader that is not a conflicting agent decides the median of the requests."""
    result = s.leader_decision(conflict([1, 7, 3, 4]), "boss")
    assert isinstance(result, LeaderDecision)
    assert result.resolved_value == 3.5
    failed = s.leader_decision(conflict(["x", "y"]), "boss")
    assert isinstance(failed, Failure)
    assert failed.code == "non_numeric_values"


def test_leader_decision_without_a_leader_fails() -> None:
    """No leader to decide (the pure core cannot hold a Raft election): no_leader."""
    result = s.leader_decision(conflict([1, 2]), None)
    assert isinstance(result, Failure)
    assert result.code == "no_leader"


# ---------------------------------------------------------------- partitioning


def test_partitioning_gives_contiguous_ranges_when_requests_fit() -> None:
    """Requests that fit: [0, r0), [r0, r0 + r1), ... in order."""
    result = s.resource_partitioning(conflict([2, 3], "resource_competition"), 10)
    assert isinstance(result, ResourcePartitioning)
    assert [(r.agent, r.start, r.end, r.amount) for r in result.allocations] == [
        ("a0", 0.0, 2.0, 2.0),
        ("a1", 2.0, 5.0, 3.0),
    ]


def test_partitioning_scales_requests_that_do_not_fit() -> None:
    """Requests over the available: requested/total · available each, filling it."""
    result = s.resource_partitioning(conflict([30, 10], "resource_competition"), 8)
    assert isinstance(result, ResourcePartitioning)
    assert [(r.start, r.end) for r in result.allocations] == [(0.0, 6.0), (6.0, 8.0)]
    assert result.total_requested == 40.0


def test_partitioning_needs_available_resources_and_numbers() -> None:
    """No available_resources, non-numeric or negative requests: a failure code."""
    c = conflict([1, 2])
    assert s.resource_partitioning(c, None).code == "no_available_resources"  # type: ignore[union-attr]
    assert s.resource_partitioning(conflict(["a", 2]), 5).code == "non_numeric_values"  # type: ignore[union-attr]
    assert s.resource_partitioning(conflict([-1, 2]), 5).code == "negative_request"  # type: ignore[union-attr]


@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=8), st.floats(0, 1e6))
def test_partitions_are_disjoint_contiguous_and_within_the_available(
    requests: list[float], available: float
) -> None:
    """Ranges start at 0, each ends where the next starts, and stay within the available."""
    result = s.resource_partitioning(conflict(requests, "resource_competition"), available)
    assert isinstance(result, ResourcePartitioning)
    ranges = result.allocations
    assert ranges[0].start == 0.0
    for before, after in itertools.pairwise(ranges):
        assert before.end == after.start
    for r in ranges:
        assert r.end - r.start == pytest.approx(r.amount, rel=1e-9, abs=1e-6)
        assert r.amount >= 0
    assert ranges[-1].end <= available * (1 + 1e-9) + 1e-9


# ---------------------------------------------------------------- dispatch, settle, finish


@pytest.mark.parametrize(
    ("strategy", "kind", "expected"),
    [
        ("compromise", "value_incompatible", ValueCompromise),
        ("compromise", "resource_competition", ResourceCompromise),
        ("compromise", "temporal_constraint", TemporalCompromise),
        ("priority_override", "value_incompatible", PriorityOverride),
        ("priority_override", "resource_competition", PriorityOverride),
        ("priority_override", "temporal_constraint", PriorityOverride),
        ("time_sharing", "value_incompatible", TimeSharing),
        ("time_sharing", "resource_competition", TimeSharing),
        ("time_sharing", "temporal_constraint", TimeSharing),
        ("resource_partitioning", "value_incompatible", ResourcePartitioning),
        ("resource_partitioning", "resource_competition", ResourcePartitioning),
        ("resource_partitioning", "temporal_constraint", ResourcePartitioning),
        ("leader_decision", "value_incompatible", LeaderDecision),
        ("leader_decision", "resource_competition", LeaderDecision),
        ("leader_decision", "temporal_constraint", LeaderDecision),
    ],
)
def test_every_strategy_resolves_every_conflict_type(
    strategy: str, kind: str, expected: type
) -> None:
    """Each data-only strategy, on each conflict type, gives its resolution and common fields."""
    settings = ConflictSettings(available_resources=10.0, leader="a1")
    result = s.resolve(strategy, conflict([1.0, 4.0], kind), NO_TRAITS, settings)  # type: ignore[arg-type]
    assert isinstance(result, expected)
    document = msgspec.to_builtins(result)
    assert document["variable_id"] == "v"
    assert document["affected_agents"] == ["a0", "a1"]
    assert document["strategy"] == strategy
    assert "failures" not in document


def test_negotiated_settlement_is_not_a_data_only_strategy() -> None:
    """resolve() refuses negotiated_settlement: it needs the agents' actors."""
    result = s.resolve("negotiated_settlement", conflict([1, 2]), NO_TRAITS, ConflictSettings())
    assert isinstance(result, Failure)
    assert result.code == "needs_agents"


def test_settle_takes_the_auction_winner() -> None:
    """The winner's value stands, with its payment and the auction's efficiency."""
    result = s.settle(
        conflict([0.1, 1.2]),
        winner="a1",
        winning_value=1.2,
        payment=2.0,
        efficiency=1.0,
        bids_received=2,
        payment_rule="first_price",
    )
    assert isinstance(result, NegotiatedAuction)
    assert (result.winning_agent, result.resolved_value, result.payment) == ("a1", 1.2, 2.0)
    assert result.auction_efficiency == 1.0


def test_settle_resolves_to_the_winners_request_in_this_conflict() -> None:
    """A bid carrying a stale value (from an earlier conflict) does not set the value."""
    result = s.settle(
        conflict([10, 20]),
        winner="a1",
        winning_value=2,
        payment=1.0,
        efficiency=1.0,
        bids_received=2,
        payment_rule="first_price",
    )
    assert isinstance(result, NegotiatedAuction)
    assert result.resolved_value == 20


def test_settle_passes_the_auction_error_on() -> None:
    """An auction without agreement (no_bids) is the strategy's failure; so is no winner."""
    failed = s.settle(
        conflict([1, 2]),
        winner=None,
        winning_value=None,
        payment=None,
        efficiency=None,
        bids_received=0,
        payment_rule="first_price",
        error="no_bids",
    )
    assert isinstance(failed, Failure)
    assert failed.code == "no_bids"
    stranger = s.settle(
        conflict([1, 2]),
        winner="zz",
        winning_value=1,
        payment=1.0,
        efficiency=1.0,
        bids_received=1,
        payment_rule="first_price",
    )
    assert isinstance(stranger, Failure)
    assert stranger.code == "no_bids"


def test_plan_is_the_strategy_then_the_fallback() -> None:
    """The fallback is tried only when given."""
    assert s.plan(ConflictSettings(strategy="time_sharing")) == ["time_sharing"]
    settings = ConflictSettings(strategy="compromise", fallback_strategy="priority_override")
    assert s.plan(settings) == ["compromise", "priority_override"]


def test_finish_records_failures_or_fails_the_conflict() -> None:
    """A fallback's resolution lists what failed first; with nothing resolved it is failed."""
    c = conflict(["x", "y"])
    failure = StrategyFailure(strategy="compromise", error="non_numeric_values", message="m")
    resolved = s.finish(c, s.priority_override(c, NO_TRAITS), [failure])
    assert resolved.failures == [failure]
    failed = s.finish(c, None, [failure])
    assert isinstance(failed, FailedResolution)
    document = msgspec.to_builtins(failed)
    assert document["resolution_type"] == "failed"
    assert document["error"] == "non_numeric_values"
    assert document["affected_agents"] == ["a0", "a1"]
    assert document["strategy"] == "compromise"


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=10))
def test_fast_variance_decides_like_the_exact_one(values: list[float]) -> None:
    """The float variance rounds to 9 places on the same side of 0.5 as statistics'."""
    fast, exact = s.pvariance(values), statistics.pvariance(values)
    assert (round(fast, 9) > 0.5) == (round(exact, 9) > 0.5)
    assert fast == pytest.approx(exact, rel=1e-9, abs=1e-12)


@given(st.lists(st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, -1.0]), min_size=1, max_size=6))
def test_fast_variance_near_the_threshold(values: list[float]) -> None:
    """Values whose variance may be exactly 0.5 get the exact figure."""
    assert round(s.pvariance(values), 9) == round(statistics.pvariance(values), 9)


# ---------------------------------------------------------------- huge, tiny and mixed numbers
# Requests are any finite numbers (SCENARIOS.md refuses only non-finite ones), so a
# strategy's arithmetic must not overflow where the rule's answer is a finite number.

HUGE = [1e308, 1.5e308]


@pytest.mark.parametrize(
    ("values", "method", "expected"),
    [
        pytest.param(HUGE, "simple_average", 1.25e308, id="mean"),
        pytest.param(HUGE, "median", 1.25e308, id="median-even"),
        pytest.param(HUGE, "weighted_average", 1.25e308, id="weighted"),
        pytest.param([1.7e308] * 3, "simple_average", 1.7e308, id="mean-of-equal"),
        pytest.param([-1.7e308, -1.7e308], "median", -1.7e308, id="negative-median"),
    ],
)
def test_compromise_on_huge_values_is_the_finite_mean_or_median(
    values: list[float], method: str, expected: float
) -> None:
    """The mean, median and weighted mean of finite values are finite: no overflow, no inf."""
    result = s.compromise_value(conflict(values), NO_TRAITS, method)  # type: ignore[arg-type]
    assert isinstance(result, ValueCompromise)
    assert result.resolved_value == expected


@pytest.mark.parametrize(
    ("values", "method"),
    [
        pytest.param(HUGE, "median", id="huge-spread"),  # variance ~1e615 > 0.5
        pytest.param([1.7e308] * 3, "simple_average", id="huge-equal"),  # range 0 < 0.1
        pytest.param([1e308, -1e308], "median", id="range-overflows"),
        pytest.param([1e200, 1e200, 3e200], "median", id="square-overflows"),
    ],
)
def test_the_method_is_chosen_from_huge_values_too(values: list[float], method: str) -> None:
    """Range and variance of huge values decide the method as the rule says."""
    assert s.choose_method(values) == method
    result = s.compromise_value(conflict(values), NO_TRAITS)
    assert isinstance(result, ValueCompromise)
    assert result.compromise_method == method
    assert math.isfinite(result.resolved_value)


def test_weighted_average_with_huge_weights_and_values() -> None:
    """Σ v·w and Σ w may overflow a float while Σ v·w / Σ w does not."""
    traits = {"a0": AgentTraits(weight=1e308), "a1": AgentTraits(weight=1e308)}
    result = s.compromise_value(conflict([1e300, 3e300]), traits, "weighted_average")
    assert isinstance(result, ValueCompromise)
    assert result.resolved_value == 2e300


def test_tiny_positive_weights_are_not_a_zero_total() -> None:
    """Σ weight is 0 only if every weight is 0: tiny weights still weigh (Σ v·w / Σ w)."""
    traits = {"a0": AgentTraits(weight=1e-10), "a1": AgentTraits(weight=3e-10)}
    result = s.compromise_value(conflict([0.0, 1.0]), traits, "weighted_average")
    assert isinstance(result, ValueCompromise)
    assert result.resolved_value == pytest.approx(0.75, rel=1e-12)


def test_leader_outside_the_conflict_decides_a_finite_median_of_huge_values() -> None:
    """The median two huge requests is their midpoint, not inf."""
    result = s.leader_decision(conflict(HUGE), "boss")
    assert isinstance(result, LeaderDecision)
    assert result.resolved_value == 1.25e308


def test_compromise_on_mixed_ints_and_floats() -> None:
    """Integers and floats mix; the compromise is a float."""
    result = s.compromise_value(conflict([1, 2.5, 4]), NO_TRAITS)
    assert isinstance(result, ValueCompromise)
    assert result.compromise_method == "median"  # variance 1.5
    assert result.resolved_value == 2.5
    assert type(result.resolved_value) is float


def test_compromise_on_negative_values() -> None:
    """Negative requests are numbers like any other."""
    result = s.compromise_value(conflict([-1, -5, 2]), NO_TRAITS)
    assert isinstance(result, ValueCompromise)
    assert (result.compromise_method, result.resolved_value) == ("median", -1.0)
    result = s.compromise_value(conflict([-0.2, -0.3]), NO_TRAITS)
    assert isinstance(result, ValueCompromise)
    assert result.compromise_method == "weighted_average"  # range 0.1 after rounding
    assert result.resolved_value == pytest.approx(-0.25)


def test_a_single_agent_conflict_resolves_to_its_request() -> None:
    """One agent: range 0 → simple_average of one value; it wins every other strategy."""
    c = conflict([0.7])
    result = s.compromise_value(c, NO_TRAITS)
    assert isinstance(result, ValueCompromise)
    assert (result.compromise_method, result.resolved_value) == ("simple_average", 0.7)
    override = s.priority_override(c, NO_TRAITS)
    assert (override.winning_agent, override.overridden_agents) == ("a0", [])
    shared = s.time_sharing(c, 10)
    assert (shared.rotation_period, shared.schedule[0].active) == (10, True)


@pytest.mark.parametrize(
    "run",
    [
        pytest.param(lambda c: s.compromise_resources(c, None), id="compromise"),
        pytest.param(lambda c: s.compromise_resources(c, 1.0), id="compromise-scaled"),
        pytest.param(lambda c: s.resource_partitioning(c, 1e308), id="partitioning"),
    ],
)
def test_resource_requests_whose_total_overflows_fail_with_a_code(run: Any) -> None:
    """A total requested beyond the largest float cannot be reported: a failure code, not a
    crash (so the fallback runs)."""
    result = run(conflict([1e308, 1e308], "resource_competition"))
    assert isinstance(result, Failure)
    assert result.code == "total_too_large"


def test_partitions_never_end_past_the_available_resources() -> None:
    """Requests that fit exactly: the last range ends at available, not one ulp beyond it."""
    result = s.resource_partitioning(conflict([0.1, 0.2, 0.3], "resource_competition"), 0.6)
    assert isinstance(result, ResourcePartitioning)
    assert [r.amount for r in result.allocations] == [0.1, 0.2, 0.3]
    assert result.allocations[-1].end == 0.6
    scaled = s.resource_partitioning(conflict([1, 2, 3.3], "resource_competition"), 1.0)
    assert isinstance(scaled, ResourcePartitioning)
    assert scaled.allocations[-1].end == 1.0
    assert [r.amount for r in scaled.allocations] == [x / 6.3 * 1.0 for x in (1, 2, 3.3)]


@given(st.lists(st.integers(-3, 3), min_size=1, max_size=8))
def test_priority_override_picks_the_first_of_the_highest(priorities: list[int]) -> None:
    """The winner has the highest priority and no earlier agent has it; the others are
    overridden in conflicting_agents order."""
    c = conflict(list(range(len(priorities))))
    traits = {f"a{i}": AgentTraits(priority=p) for i, p in enumerate(priorities)}
    result = s.priority_override(c, traits)
    best = priorities.index(max(priorities))
    assert (result.winning_agent, result.resolved_value) == (f"a{best}", best)
    assert result.overridden_agents == [f"a{i}" for i in range(len(priorities)) if i != best]


@given(st.integers(1, 12), st.integers(1, 10**9))
def test_time_sharing_slots_tile_the_rotation(n: int, slot: int) -> None:
    """Slot i is [i·d, (i+1)·d), only the first is active, rotation_period = n·d."""
    result = s.time_sharing(conflict([f"v{i}" for i in range(n)]), slot)
    assert [(t.start_time, t.end_time) for t in result.schedule] == [
        (i * slot, (i + 1) * slot) for i in range(n)
    ]
    assert [t.active for t in result.schedule] == [True] + [False] * (n - 1)
    assert [t.agent for t in result.schedule] == [f"a{i}" for i in range(n)]
    assert result.rotation_period == n * slot
    assert result.resolved_value == "v0"


FINITE = st.floats(allow_nan=False, allow_infinity=False)


@given(st.lists(FINITE, min_size=1, max_size=6), st.data())
def test_compromise_of_any_finite_values_is_finite_and_between_them(
    values: list[float], data: Any
) -> None:
    """Over the whole float range (subnormal to huge, any sign), every method gives a
    finite value within [min, max] of the requests, and the choice never raises."""
    weights = data.draw(
        st.lists(
            st.floats(min_value=0, max_value=1e308).filter(lambda w: w == 0 or w > 1e-300),
            min_size=len(values),
            max_size=len(values),
        ).filter(any)
    )
    traits = {f"a{i}": AgentTraits(weight=w) for i, w in enumerate(weights)}
    for method in (None, "simple_average", "median", "weighted_average"):
        result = s.compromise_value(conflict(values), traits, method)
        assert isinstance(result, ValueCompromise)
        assert math.isfinite(result.resolved_value)
        slack = 1e-9 * max(abs(min(values)), abs(max(values)))
        assert min(values) - slack <= result.resolved_value <= max(values) + slack


@given(st.lists(st.floats(min_value=0, max_value=1e300), min_size=1, max_size=6), FINITE)
def test_resource_strategies_on_any_amounts_never_raise(amounts: list[float], cap: float) -> None:
    """Large amounts: an allocation or total_too_large, never an exception."""
    available = abs(cap)
    c = conflict(amounts, "resource_competition")
    for result in (s.compromise_resources(c, available), s.resource_partitioning(c, available)):
        assert isinstance(result, (ResourceCompromise, ResourcePartitioning, Failure))
        if isinstance(result, ResourcePartitioning):
            assert result.allocations[-1].end <= available


DATA_STRATEGIES = [
    "compromise",
    "priority_override",
    "time_sharing",
    "resource_partitioning",
    "leader_decision",
]


@given(
    st.lists(st.one_of(FINITE, st.integers(-(10**6), 10**6), st.text(max_size=3)), max_size=5),
    st.sampled_from(["value_incompatible", "resource_competition", "temporal_constraint"]),
    st.sampled_from(DATA_STRATEGIES),
    st.one_of(st.none(), st.floats(0, 1e300)),
    st.one_of(st.none(), st.sampled_from(["a0", "boss"])),
)
def test_every_data_strategy_gives_a_resolution_or_a_code_never_an_exception(
    values: list[Any], kind: str, strategy: str, available: float | None, leader: str | None
) -> None:
    """Any requests (numbers of any size, labels, mixed), any conflict type: a failure
    with a snake_case code, or a resolution carrying variable_id, resolution_type and
    affected_agents (the conflicting agents, in order); finish() makes failures failed."""
    values = values or [1.0]
    c = conflict(values, kind)
    settings = ConflictSettings(available_resources=available, leader=leader)
    result = s.resolve(strategy, c, NO_TRAITS, settings)  # type: ignore[arg-type]
    if isinstance(result, Failure):
        assert result.code.replace("_", "").isalpha()
        assert result.code.islower()
        failure = StrategyFailure(strategy=strategy, error=result.code, message=result.message)
        result = s.finish(c, None, [failure])
    document = msgspec.json.decode(msgspec.json.encode(result))
    assert document["variable_id"] == "v"
    assert document["affected_agents"] == c.conflicting_agents
    assert isinstance(document["resolution_type"], str)

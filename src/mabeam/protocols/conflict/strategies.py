"""The strategies' pure cores: a conflict in, a resolution or a :class:`Failure` out.

One function per strategy (and per conflict type where the strategy depends on it),
following PROTOCOLS.md "Conflict resolution" to the number. No I/O, no clock, no
randomness; numbers compared against thresholds are first rounded to 9 places.
:func:`resolve` dispatches the strategies that need nothing but data; the actor runs
``negotiated_settlement`` (an auction among the agents' actors, then :func:`settle`; or
a bargaining session among them, set up by :func:`bargaining_utilities` and
:func:`bargaining_outcomes`, then :func:`settle_bargain`) and finds the leader for
:func:`leader_decision`.
"""

from __future__ import annotations

import math
import statistics
import sys
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any, TypeVar

import msgspec

from ..bargaining.messages import BargainingResult
from ..bargaining.strategies import Utility, outcomes_of
from ._types import CompromiseMethod, Strategy, Value
from .messages import AgentTraits, Conflict, ConflictSettings
from .resolutions import (
    Allocation,
    FailedResolution,
    Failure,
    LeaderDecision,
    NegotiatedAuction,
    NegotiatedBargain,
    PriorityOverride,
    Resolution,
    ResourceCompromise,
    ResourcePartitioning,
    ResourceRange,
    StrategyFailure,
    TemporalCompromise,
    TimeSharing,
    TimeSlot,
    ValueCompromise,
)

PLACES = 9
"""Decimal places numbers are rounded to before a comparison."""
DEFAULT_TRAITS = AgentTraits()

NON_NUMERIC = "non_numeric_values"
NEGATIVE_REQUEST = "negative_request"
ZERO_TOTAL_WEIGHT = "zero_total_weight"
NO_AVAILABLE_RESOURCES = "no_available_resources"
NO_LEADER = "no_leader"
TOTAL_TOO_LARGE = "total_too_large"
NO_AGREEMENT = "no_agreement"
BARGAINING_OUTCOMES = 11
"""The default number of outcomes of a bargaining settlement, from the least to the most
requested value."""
NEEDS_AGENTS = "needs_agents"
"""A strategy the actor must run (it asks agents); :func:`resolve` cannot."""


def _r(x: float) -> float:
    return round(x, PLACES)


def numbers(values: Sequence[Value]) -> list[float] | None:
    """The values as floats, or None if any is not a finite number (booleans are not)."""
    out: list[float] = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        if not math.isfinite(value):
            return None
        out.append(float(value))
    return out


def _non_numeric(conflict: Conflict, strategy: str) -> Failure:
    return Failure(
        NON_NUMERIC, f"{strategy} needs numbers; {conflict.variable_id!r} has non-numeric values"
    )


def _total(amounts: Sequence[float]) -> float | Failure:
    """Σ amounts (correctly rounded), or a failure when it is beyond the largest float."""
    try:
        return math.fsum(amounts)
    except OverflowError:
        return Failure(TOTAL_TOO_LARGE, "the total requested is beyond the largest float")


def mean(values: Sequence[float]) -> float:
    """The mean; exact (and finite) where a float sum would overflow."""
    try:
        value = statistics.fmean(values)
    except OverflowError:
        value = math.inf
    if math.isfinite(value):
        return value
    return float(sum(map(Fraction, values)) / len(values))


def median(values: Sequence[float]) -> float:
    """``statistics.median``; the midpoint of two huge middle values without overflow."""
    value = float(statistics.median(values))
    if math.isfinite(value):
        return value
    ordered = sorted(values)
    low, high = ordered[len(ordered) // 2 - 1], ordered[len(ordered) // 2]
    return low / 2 + high / 2


def weighted_mean(values: Sequence[float], weights: Sequence[float]) -> float | None:
    """Σ v·w / Σ w; None when every weight is 0 (weights are >= 0, so no cancellation).

    In floats; exact where a product underflows or Σ v·w or Σ w overflows (the quotient,
    which lies between the values, never does).
    """
    if not any(weights):
        return None
    products = [v * w for v, w in zip(values, weights, strict=True)]
    underflow = any(
        abs(p) < sys.float_info.min and v != 0 and w != 0
        for p, v, w in zip(products, values, weights, strict=True)
    )
    try:
        value = math.nan if underflow else math.fsum(products) / math.fsum(weights)
    except (OverflowError, ValueError):  # fsum: intermediate overflow, or inf - inf
        value = math.nan
    if math.isfinite(value):
        return value
    total = sum(map(Fraction, weights))
    exact = sum(Fraction(v) * Fraction(w) for v, w in zip(values, weights, strict=True))
    return float(exact / total)


def _requests(conflict: Conflict, strategy: str) -> list[float] | Failure:
    """Resource requests: finite numbers >= 0."""
    amounts = numbers(conflict.requested_values)
    if amounts is None:
        return _non_numeric(conflict, strategy)
    for agent, amount in zip(conflict.conflicting_agents, amounts, strict=True):
        if amount < 0:
            return Failure(NEGATIVE_REQUEST, f"{agent} requests {amount:g} (must be >= 0)")
    return amounts


_R = TypeVar("_R", bound=Resolution)


def _make(cls: type[_R], conflict: Conflict, strategy: str, **fields: Any) -> _R:
    """A resolution of ``conflict`` by ``strategy`` with the fields every resolution has."""
    return cls(
        variable_id=conflict.variable_id,
        affected_agents=list(conflict.conflicting_agents),
        strategy=strategy,
        **fields,
    )


# ---------------------------------------------------------------- compromise


def choose_method(values: Sequence[float]) -> CompromiseMethod:
    """range < 0.1 → simple_average; population variance > 0.5 → median; else weighted."""
    if _r(max(values) - min(values)) < 0.1:
        return "simple_average"
    if _r(pvariance(values)) > 0.5:
        return "median"
    return "weighted_average"


def pvariance(values: Sequence[float]) -> float:
    """The population variance: in floats (two passes), exact near the 0.5 threshold.

    ``statistics.pvariance`` is exact but slow (fractions); the two-pass float result is
    within a few ulps, so only a value that close to 0.5 (or one that overflowed) needs
    the exact one.
    """
    try:
        average = math.fsum(values) / len(values)
        variance = math.fsum((v - average) ** 2 for v in values) / len(values)
    except OverflowError:  # huge values: only the exact figure tells
        variance = math.nan
    if abs(variance - 0.5) <= 1e-9 or not math.isfinite(variance):
        try:
            return statistics.pvariance(values)
        except OverflowError:  # beyond the largest float, so surely > 0.5
            return math.inf
    return variance


def compromise_value(
    conflict: Conflict,
    traits: Mapping[str, AgentTraits],
    method: CompromiseMethod | None = None,
) -> ValueCompromise | Failure:
    """compromise on value_incompatible: mean, median or Σ v·weight / Σ weight."""
    values = numbers(conflict.requested_values)
    if values is None:
        return _non_numeric(conflict, "compromise")
    method = method or choose_method(values)
    if method == "simple_average":
        value = mean(values)
    elif method == "median":
        value = median(values)
    else:
        weights = [traits.get(a, DEFAULT_TRAITS).weight for a in conflict.conflicting_agents]
        weighted = weighted_mean(values, weights)
        if weighted is None:
            return Failure(ZERO_TOTAL_WEIGHT, "weighted_average needs a positive total weight")
        value = weighted
    return _make(
        ValueCompromise,
        conflict,
        "compromise",
        resolved_value=value,
        compromise_method=method,
    )


def compromise_resources(
    conflict: Conflict, available: float | None
) -> ResourceCompromise | Failure:
    """compromise on resource_competition: requests if they fit, else proportional shares."""
    amounts = _requests(conflict, "compromise")
    if isinstance(amounts, Failure):
        return amounts
    total = _total(amounts)
    if isinstance(total, Failure):
        return total
    available = total if available is None else float(available)
    agents = conflict.conflicting_agents
    if _r(available) >= _r(total):
        shares, efficiency = amounts, 1.0
    else:
        shares = [amount / total * available for amount in amounts]
        efficiency = available / total
    return _make(
        ResourceCompromise,
        conflict,
        "compromise",
        allocations=[Allocation(agent=a, amount=s) for a, s in zip(agents, shares, strict=True)],
        efficiency=efficiency,
        available_resources=available,
        total_requested=total,
    )


def compromise_temporal(conflict: Conflict, slot_ms: int) -> TemporalCompromise:
    """compromise on temporal_constraint: the time-sharing schedule."""
    return _make(
        TemporalCompromise,
        conflict,
        "compromise",
        **_schedule(conflict, slot_ms),
    )


def compromise(
    conflict: Conflict, traits: Mapping[str, AgentTraits], settings: ConflictSettings
) -> Resolution | Failure:
    """compromise, by conflict type."""
    if conflict.conflict_type == "resource_competition":
        return compromise_resources(conflict, settings.available_resources)
    if conflict.conflict_type == "temporal_constraint":
        return compromise_temporal(conflict, settings.time_slot_duration)
    return compromise_value(conflict, traits, settings.compromise_method)


# ---------------------------------------------------------------- the others


def priority_override(conflict: Conflict, traits: Mapping[str, AgentTraits]) -> PriorityOverride:
    """The highest priority wins (ties: first in conflicting_agents)."""
    agents = conflict.conflicting_agents
    best = 0
    for i, agent in enumerate(agents):
        if _r(traits.get(agent, DEFAULT_TRAITS).priority) > _r(
            traits.get(agents[best], DEFAULT_TRAITS).priority
        ):
            best = i
    return _make(
        PriorityOverride,
        conflict,
        "priority_override",
        resolved_value=conflict.requested_values[best],
        winning_agent=agents[best],
        overridden_agents=[a for i, a in enumerate(agents) if i != best],
    )


def _schedule(conflict: Conflict, slot_ms: int) -> dict[str, Any]:
    agents = conflict.conflicting_agents
    return {
        "schedule": [
            TimeSlot(
                agent=a,
                value=conflict.requested_values[i],
                start_time=i * slot_ms,
                end_time=(i + 1) * slot_ms,
                active=i == 0,
            )
            for i, a in enumerate(agents)
        ],
        "resolved_value": conflict.requested_values[0],
        "time_slot_duration": slot_ms,
        "rotation_period": len(agents) * slot_ms,
    }


def time_sharing(conflict: Conflict, slot_ms: int) -> TimeSharing:
    """Agent i (in order) gets [i·d, (i+1)·d); the first slot is active."""
    return _make(
        TimeSharing,
        conflict,
        "time_sharing",
        **_schedule(conflict, slot_ms),
    )


def resource_partitioning(
    conflict: Conflict, available: float | None
) -> ResourcePartitioning | Failure:
    """Disjoint contiguous ranges of [0, available) in order: requests, or scaled to fit."""
    if available is None:
        return Failure(NO_AVAILABLE_RESOURCES, "resource_partitioning needs available_resources")
    amounts = _requests(conflict, "resource_partitioning")
    if isinstance(amounts, Failure):
        return amounts
    total = _total(amounts)
    if isinstance(total, Failure):
        return total
    available = float(available)
    # Range ends are the exact running totals (scaled when the requests do not fit),
    # rounded once: so the ranges tile [0, available) and never end past it.
    scaled = _r(total) > _r(available)
    factor = Fraction(available) / sum(map(Fraction, amounts)) if scaled else Fraction(1)
    ranges, start, running = [], 0.0, Fraction(0)
    for agent, amount in zip(conflict.conflicting_agents, amounts, strict=True):
        running += Fraction(amount)
        end = min(float(running * factor), available)
        share = amount / total * available if scaled else amount
        ranges.append(ResourceRange(agent=agent, start=start, end=end, amount=share))
        start = end
    return _make(
        ResourcePartitioning,
        conflict,
        "resource_partitioning",
        allocations=ranges,
        available_resources=available,
        total_requested=total,
    )


def leader_decision(conflict: Conflict, leader: str | None) -> LeaderDecision | Failure:
    """The leader's request; the median when the leader is not in the conflict."""
    if leader is None:
        return Failure(
            NO_LEADER, "no leader: the leader option, or a Raft election among the agents' actors"
        )
    agents = conflict.conflicting_agents
    if leader in agents:
        value: Value = conflict.requested_values[agents.index(leader)]
    else:
        values = numbers(conflict.requested_values)
        if values is None:
            return _non_numeric(conflict, "leader_decision (median)")
        value = median(values)
    return _make(
        LeaderDecision,
        conflict,
        "leader_decision",
        resolved_value=value,
        leader=leader,
    )


def settle(
    conflict: Conflict,
    *,
    winner: str | None,
    winning_value: Value | None,
    payment: float | None,
    efficiency: float | None,
    bids_received: int,
    payment_rule: str,
    error: str | None = None,
    message: str = "",
) -> NegotiatedAuction | Failure:
    """negotiated_settlement from an auction's outcome: the winner's request stands.

    Each agent bids for its requested value, so the resolved value is the winner's
    request in this conflict, not ``winning_value`` as the bid carried it: an agent that
    heard of an earlier conflict over the same variable late may have bid with that
    stale value.
    """
    if error is not None:
        return Failure(error, message or f"the auction ended with {error}")
    if winner is None or winning_value is None or winner not in conflict.conflicting_agents:
        return Failure("no_bids", f"no conflicting agent won the auction (winner {winner!r})")
    return _make(
        NegotiatedAuction,
        conflict,
        "negotiated_settlement",
        resolved_value=conflict.requested_values[conflict.conflicting_agents.index(winner)],
        winning_agent=winner,
        payment=float(payment or 0.0),
        auction_efficiency=1.0 if efficiency is None else float(efficiency),
        negotiation_type="auction",
        payment_rule=payment_rule,
        bids_received=bids_received,
    )


def bargaining_outcomes(values: Sequence[float], given: Sequence[float] | None) -> list[Any]:
    """``given`` (sorted, repeats dropped), else 11 evenly spaced values from the smallest
    to the largest request (rounded to 9 places unless that would merge two of them)."""
    if given is not None:
        return outcomes_of(list(given))
    low, high = min(values), max(values)
    steps = BARGAINING_OUTCOMES - 1
    exact = [low * ((steps - i) / steps) + high * (i / steps) for i in range(steps + 1)]
    exact[0], exact[-1] = low, high
    rounded = [_r(x) for x in exact]
    return outcomes_of(rounded if len(set(rounded)) == len(set(exact)) else exact)


def bargaining_utilities(conflict: Conflict) -> dict[str, Utility] | Failure:
    """Each agent's utility: ideal at its request, worst at the request farthest from it
    (ties: the smaller); every request the same makes the ideal the only good outcome."""
    values = numbers(conflict.requested_values)
    if values is None:
        return _non_numeric(conflict, "negotiated_settlement (bargaining)")
    utilities = {}
    for agent, value in zip(conflict.conflicting_agents, values, strict=True):
        worst = min((-abs(v - value), v) for v in values)[1]
        utilities[agent] = Utility(ideal=value, worst=worst)
    return utilities


def settle_bargain(conflict: Conflict, result: BargainingResult) -> NegotiatedBargain | Failure:
    """negotiated_settlement from a bargaining session: its agreement, or ``no_agreement``."""
    if not result.agreement or result.agreed_value is None or result.step is None:
        problem = f"no agreement after {result.steps} steps ({result.offers} offers)"
        return Failure(result.error or NO_AGREEMENT, problem)
    return _make(
        NegotiatedBargain,
        conflict,
        "negotiated_settlement",
        resolved_value=result.agreed_value,
        negotiation_type="bargaining",
        step=result.step,
        offers=result.offers,
        satisfaction_scores=result.satisfaction_scores or {},
        concessions=result.concessions or {},
        nash_value=result.nash_value,
        pareto_optimal=result.pareto_optimal,
    )


def resolve(
    strategy: Strategy,
    conflict: Conflict,
    traits: Mapping[str, AgentTraits],
    settings: ConflictSettings,
) -> Resolution | Failure:
    """Apply a strategy that needs only data (``leader_decision`` with the leader option)."""
    if strategy == "compromise":
        return compromise(conflict, traits, settings)
    if strategy == "priority_override":
        return priority_override(conflict, traits)
    if strategy == "time_sharing":
        return time_sharing(conflict, settings.time_slot_duration)
    if strategy == "resource_partitioning":
        return resource_partitioning(conflict, settings.available_resources)
    if strategy == "leader_decision":
        return leader_decision(conflict, settings.leader)
    return Failure(NEEDS_AGENTS, f"{strategy} runs among the agents' actors")


def plan(settings: ConflictSettings) -> list[Strategy]:
    """The strategies to try, in order: the strategy, then the fallback if any."""
    fallback = settings.fallback_strategy
    return [settings.strategy] if fallback is None else [settings.strategy, fallback]


def finish(
    conflict: Conflict, resolution: Resolution | None, failures: list[StrategyFailure]
) -> Resolution:
    """The resolution with the failures before it; or a failed one if nothing resolved it."""
    if resolution is not None:
        return msgspec.structs.replace(resolution, failures=failures) if failures else resolution
    last = failures[-1]
    return _make(
        FailedResolution,
        conflict,
        last.strategy,
        failures=failures,
        error=last.error,
        message=last.message,
    )

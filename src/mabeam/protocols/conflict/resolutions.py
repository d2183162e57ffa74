"""What resolving a conflict gives: one resolution per conflict, tagged by ``resolution_type``.

Every resolution carries ``variable_id``, ``resolution_type``, ``affected_agents`` (the
conflicting agents, in order) and ``strategy`` (the strategy that produced it); when the
strategy failed and the fallback resolved it, ``failures`` lists what failed first. A
conflict no strategy could resolve is a :class:`FailedResolution` (``resolution_type =
"failed"``) with the last ``error`` code.
"""

from __future__ import annotations

from typing import TypeAlias

import msgspec

from ._types import CompromiseMethod, Value


class Failure(msgspec.Struct, frozen=True):
    """A strategy could not resolve a conflict: ``code`` (snake_case) and why, in words."""

    code: str
    message: str


class StrategyFailure(msgspec.Struct, frozen=True, kw_only=True):
    """A strategy that failed on a conflict, before the fallback ran (or before giving up)."""

    strategy: str
    error: str
    message: str


class Allocation(msgspec.Struct, frozen=True, kw_only=True):
    """An agent's share of a contested resource."""

    agent: str
    amount: float


class ResourceRange(msgspec.Struct, frozen=True, kw_only=True):
    """An agent's part ``[start, end)`` of ``[0, available_resources)``; amount = end - start."""

    agent: str
    start: float
    end: float
    amount: float


class TimeSlot(msgspec.Struct, frozen=True, kw_only=True):
    """An agent's turn ``[start_time, end_time)`` in ms, with its ``value``, repeating every
    rotation period; the first slot is ``active``."""

    agent: str
    value: Value
    start_time: int
    end_time: int
    active: bool


class _Resolution(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="resolution_type", omit_defaults=True
):
    variable_id: str
    affected_agents: list[str]
    strategy: str
    failures: list[StrategyFailure] = []


class ValueCompromise(_Resolution, frozen=True, kw_only=True, tag="compromise"):
    """compromise on a value: a mean, median or weighted mean of the requests."""

    resolved_value: float
    compromise_method: CompromiseMethod


class ResourceCompromise(_Resolution, frozen=True, kw_only=True, tag="resource_compromise"):
    """compromise on a resource: shares proportional to the requests when they do not fit."""

    allocations: list[Allocation]
    efficiency: float
    available_resources: float
    total_requested: float


class _Schedule(_Resolution, frozen=True, kw_only=True):
    schedule: list[TimeSlot]
    resolved_value: Value
    """The active (first) agent's request: what holds during the first slot."""
    time_slot_duration: int
    rotation_period: int


class TemporalCompromise(_Schedule, frozen=True, kw_only=True, tag="temporal_compromise"):
    """compromise on a temporal constraint: the agents take turns, as in time sharing."""


class TimeSharing(_Schedule, frozen=True, kw_only=True, tag="time_sharing"):
    """time_sharing: one slot per agent in order; the first slot is active."""


class PriorityOverride(_Resolution, frozen=True, kw_only=True, tag="priority_override"):
    """priority_override: the highest-priority agent's request stands."""

    resolved_value: Value
    winning_agent: str
    overridden_agents: list[str]


class ResourcePartitioning(_Resolution, frozen=True, kw_only=True, tag="resource_partitioning"):
    """resource_partitioning: disjoint contiguous ranges of the available resources."""

    allocations: list[ResourceRange]
    available_resources: float
    total_requested: float


class NegotiatedAuction(_Resolution, frozen=True, kw_only=True, tag="negotiated_auction"):
    """negotiated_settlement by auction: the winner of a sealed-bid auction among the agents."""

    resolved_value: Value
    winning_agent: str
    payment: float
    auction_efficiency: float
    negotiation_type: str
    payment_rule: str
    bids_received: int


class NegotiatedBargain(_Resolution, frozen=True, kw_only=True, tag="negotiated_bargaining"):
    """negotiated_settlement by bargaining: the agreement of alternating offers among the
    agents (PROTOCOLS.md "Bargaining"), with its step, offers and analysis."""

    resolved_value: Value
    negotiation_type: str
    step: int
    offers: int
    satisfaction_scores: dict[str, float]
    concessions: dict[str, float]
    nash_value: Value | None = None
    pareto_optimal: bool | None = None


class LeaderDecision(_Resolution, frozen=True, kw_only=True, tag="leader_decision"):
    """leader_decision: the leader's request, or the median when it is not in the conflict."""

    resolved_value: Value
    leader: str


class FailedResolution(_Resolution, frozen=True, kw_only=True, tag="failed"):
    """No strategy resolved the conflict: ``error`` is the last strategy's failure code."""

    error: str
    message: str


Resolution: TypeAlias = (
    ValueCompromise
    | ResourceCompromise
    | TemporalCompromise
    | TimeSharing
    | PriorityOverride
    | ResourcePartitioning
    | NegotiatedAuction
    | NegotiatedBargain
    | LeaderDecision
    | FailedResolution
)


class ConflictResult(msgspec.Struct, frozen=True, kw_only=True):
    """One resolution per conflict, in the conflicts' order.

    ``ok`` is false when any resolution failed; ``error`` is then ``"unresolved_conflicts"``.
    """

    resolutions: list[Resolution]
    ok: bool
    error: str | None = None

    @property
    def unresolved(self) -> list[str]:
        """The variable ids of the conflicts that failed, in order."""
        return [r.variable_id for r in self.resolutions if isinstance(r, FailedResolution)]


UNRESOLVED = "unresolved_conflicts"


def conflict_result(resolutions: list[Resolution]) -> ConflictResult:
    """The result of a batch: ok unless a resolution failed."""
    ok = not any(isinstance(r, FailedResolution) for r in resolutions)
    return ConflictResult(resolutions=resolutions, ok=ok, error=None if ok else UNRESOLVED)

"""Conflict resolution: agents asking for incompatible values, resolved by a strategy.

``await resolve_conflicts(system, conflicts, strategy=..., fallback_strategy=..., **opts)``
resolves :class:`Conflict` s with the strategies of PROTOCOLS.md (compromise,
priority_override, time_sharing, resource_partitioning, negotiated_settlement — a real
auction or bargaining session among the agents' actors — and leader_decision) and
returns a :class:`ConflictResult` of resolutions. The pure cores are in :mod:`.strategies`, the
actors (:class:`ConflictCoordinator`, :class:`ConflictAgent`) in :mod:`.actor`.
"""

from ._api import OPTIONS as OPTIONS
from ._api import resolve_conflicts as resolve_conflicts
from .actor import ConflictAgent as ConflictAgent
from .actor import ConflictCoordinator as ConflictCoordinator
from .messages import AgentTraits as AgentTraits
from .messages import Conflict as Conflict
from .messages import ConflictResolved as ConflictResolved
from .messages import ConflictSettings as ConflictSettings
from .messages import OutcomeOf as OutcomeOf
from .messages import ResolveConflicts as ResolveConflicts
from .resolutions import Allocation as Allocation
from .resolutions import ConflictResult as ConflictResult
from .resolutions import FailedResolution as FailedResolution
from .resolutions import LeaderDecision as LeaderDecision
from .resolutions import NegotiatedAuction as NegotiatedAuction
from .resolutions import NegotiatedBargain as NegotiatedBargain
from .resolutions import PriorityOverride as PriorityOverride
from .resolutions import Resolution as Resolution
from .resolutions import ResourceCompromise as ResourceCompromise
from .resolutions import ResourcePartitioning as ResourcePartitioning
from .resolutions import ResourceRange as ResourceRange
from .resolutions import StrategyFailure as StrategyFailure
from .resolutions import TemporalCompromise as TemporalCompromise
from .resolutions import TimeSharing as TimeSharing
from .resolutions import TimeSlot as TimeSlot
from .resolutions import ValueCompromise as ValueCompromise

__all__ = [
    "OPTIONS",
    "AgentTraits",
    "Allocation",
    "Conflict",
    "ConflictAgent",
    "ConflictCoordinator",
    "ConflictResolved",
    "ConflictResult",
    "ConflictSettings",
    "FailedResolution",
    "LeaderDecision",
    "NegotiatedAuction",
    "NegotiatedBargain",
    "OutcomeOf",
    "PriorityOverride",
    "Resolution",
    "ResolveConflicts",
    "ResourceCompromise",
    "ResourcePartitioning",
    "ResourceRange",
    "StrategyFailure",
    "TemporalCompromise",
    "TimeSharing",
    "TimeSlot",
    "ValueCompromise",
    "resolve_conflicts",
]

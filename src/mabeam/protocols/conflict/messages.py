"""What conflict resolution exchanges: the conflict, the agents' traits, the options, messages.

:class:`Conflict` and :class:`AgentTraits` are the application's input;
:class:`ConflictSettings` holds the strategy options of PROTOCOLS.md;
:class:`ResolveConflicts` asks a coordinator to resolve a batch; :class:`JoinNegotiation`
tells an agent what it asks for before a negotiated settlement's auction,
:class:`JoinElection` asks it to take part in a leader election, :class:`JoinBargaining`
in a bargaining session;
:class:`ConflictResolved` tells each affected agent the outcome, which
:class:`OutcomeOf` asks an agent for again.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from ..bargaining.strategies import Utility
from ._types import CompromiseMethod, ConflictType, Strategy, Value
from .resolutions import Resolution


class Conflict(msgspec.Struct, frozen=True, kw_only=True):
    """Agents asking for incompatible values of one variable (one value per agent, in order)."""

    variable_id: str
    conflicting_agents: list[str]
    requested_values: list[Value]
    conflict_type: ConflictType = "value_incompatible"


class AgentTraits(msgspec.Struct, frozen=True, kw_only=True):
    """What strategies weigh an agent by; an agent not described has these defaults.

    ``strategy`` (boulware, linear, conceder, hardliner), ``reserved`` and ``exponent``
    are how it bargains in a negotiated settlement by bargaining.
    """

    weight: float = 1.0
    priority: float = 0.0
    urgency: float = 1.0
    importance: float = 1.0
    resources: float = 1.0
    strategy: str = "linear"
    reserved: float = 0.0
    exponent: float | None = None


class ConflictSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The strategy options (PROTOCOLS.md "Conflict resolution"), times in ms.

    ``leader`` None: elected by Raft among the conflicting agents.
    """

    strategy: Strategy = "compromise"
    fallback_strategy: Strategy | None = None
    compromise_method: CompromiseMethod | None = None
    available_resources: float | None = None
    time_slot_duration: int = 600_000
    negotiation_type: Literal["auction", "bargaining"] = "auction"
    payment_rule: Literal["first_price", "second_price"] = "first_price"
    base_bid: float = 1.0
    leader: str | None = None
    bargaining_outcomes: list[int | float] | None = None
    notify_agents: bool = False
    """Tell each affected agent the outcome (:class:`ConflictResolved`) and await its answer."""
    reply_timeout: float = 1.0
    """Seconds an agent has to answer each request (virtual seconds in simulation)."""


class ResolveConflicts(msgspec.Struct, frozen=True, tag=True):
    """Application → coordinator: resolve these conflicts, in order; answered with a result."""

    conflicts: list[Conflict]
    settings: ConflictSettings
    agents: dict[str, AgentTraits] = {}


class JoinNegotiation(msgspec.Struct, frozen=True, tag=True):
    """Coordinator → agent: an auction over ``variable_id`` follows; bid for ``value``.

    The agent bids ``base_bid · urgency · importance · resources``. Answered with
    :class:`NegotiationJoined`.
    """

    variable_id: str
    value: Value
    base_bid: float


class NegotiationJoined(msgspec.Struct, frozen=True, tag=True):
    """Agent → coordinator: ready to bid ``amount`` for its value of ``variable_id``."""

    agent: str
    variable_id: str
    amount: float


class JoinBargaining(msgspec.Struct, frozen=True, tag=True):
    """Coordinator → agent: bargaining ``session`` over ``variable_id`` follows.

    The agent bargains over ``outcomes`` with ``utility`` (ideal at its request, worst at
    the request farthest from it) and its own strategy; answered with
    :class:`BargainingJoined`. An agent that does not answer stays silent in the session.
    """

    variable_id: str
    session: str
    utility: Utility
    outcomes: list[int | float]


class BargainingJoined(msgspec.Struct, frozen=True, tag=True):
    """Agent → coordinator: ``agent`` takes part in bargaining ``session``."""

    agent: str
    session: str


class JoinElection(msgspec.Struct, frozen=True, tag=True):
    """Coordinator → agent: a Raft election of a leader for ``variable_id`` follows.

    Answered with :class:`ElectionJoined`; an agent that does not answer in time (down,
    cut off) takes no part: its Raft node stays down.
    """

    variable_id: str


class ElectionJoined(msgspec.Struct, frozen=True, tag=True):
    """Agent → coordinator: ``agent`` takes part in the election for ``variable_id``."""

    agent: str
    variable_id: str


class ConflictResolved(msgspec.Struct, frozen=True, tag=True):
    """Coordinator → each affected agent: how the conflict over a variable ended.

    Answered with :class:`ResolutionNoted`.
    """

    resolution: Resolution


class ResolutionNoted(msgspec.Struct, frozen=True, tag=True):
    """Agent → coordinator: ``agent`` has taken note of the outcome for ``variable_id``."""

    agent: str
    variable_id: str


class OutcomeOf(msgspec.Struct, frozen=True, tag=True):
    """Anyone → agent: the last resolution it was told of for ``variable_id`` (or None)."""

    variable_id: str

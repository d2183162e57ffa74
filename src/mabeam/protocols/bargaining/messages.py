"""What a bargaining mediator and its negotiators exchange, and the result.

Every request names its ``session``, so one agent can negotiate in several at once.

- :class:`TakeTurn` (mediator → agent): your turn in ``step`` at relative time ``t``;
  answer ``offer`` (made by ``proposer``) if there is one. Answered with
  :class:`TurnTaken`: ``accept``, or an ``offer`` of one of the outcomes.
- :class:`Appraise` (mediator → agent, after an agreement): your utilities over the
  outcomes, for the analysis. Answered with :class:`Appraisal`.
- :class:`RunBargaining` (application → mediator): run the session; answered with a
  :class:`BargainingResult`.
"""

from __future__ import annotations

import msgspec

from .strategies import Number


class TakeTurn(msgspec.Struct, frozen=True, tag=True):
    """Mediator → agent: your turn; answer ``offer`` if not None, else propose."""

    session: str
    step: int
    t: float
    offer: Number | None = None
    proposer: str | None = None


class TurnTaken(msgspec.Struct, frozen=True, tag=True):
    """Agent → mediator: ``accept`` the offer answered, or make ``offer`` (not both)."""

    step: int
    accept: bool = False
    offer: Number | None = None


class Appraise(msgspec.Struct, frozen=True, tag=True):
    """Mediator → agent: what is each outcome worth to you (for the analysis)?"""

    session: str
    outcomes: list[Number]


class Appraisal(msgspec.Struct, frozen=True, tag=True):
    """Agent → mediator: ``utilities`` aligned with the outcomes (None: not telling)."""

    utilities: list[float] | None
    reserved: float = 0.0


class RunBargaining(msgspec.Struct, frozen=True, tag=True):
    """Application → mediator: run the session now."""


class BargainingResult(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """How a negotiation ended (PROTOCOLS.md "Bargaining" result fields).

    ``offers`` counts the offers made, ``steps`` the steps run. Without agreement,
    ``agreement`` is false and ``error`` is ``"no_agreement"``; the
    analysis fields are then absent. ``satisfaction_scores`` and ``concessions`` list the
    agents that reported their utilities; ``nash_value``, ``pareto_frontier`` and
    ``pareto_optimal`` need them all (absent otherwise). ``pareto_frontier`` lists the
    frontier's outcomes for up to 10,000 outcomes (absent beyond).
    """

    agreement: bool
    offers: int
    steps: int
    agreed_value: Number | None = None
    step: int | None = None
    satisfaction_scores: dict[str, float] | None = None
    concessions: dict[str, float] | None = None
    nash_value: Number | None = None
    pareto_optimal: bool | None = None
    pareto_frontier: list[Number] | None = None
    error: str | None = None

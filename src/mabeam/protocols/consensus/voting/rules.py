"""Voting rules (PROTOCOLS.md, "Voting consensus"): pure counting, no actors, no clock.

:func:`count_votes` takes the eligible voters (every agent in the vote, including those
that crashed or never answered), the votes that arrived before the deadline and the
weights, and returns a :class:`VotingOutcome`: a :class:`VotingResult`, or a
:class:`VotingFailure` with a code (``no_majority``, ``no_weighted_majority``,
``no_unanimity``). A vote that did not
arrive is not a vote: nothing pending is ever counted as cast (etcd's ``VoteResult``
treats pending as lost at the deadline, so does this), and a tie never passes.

Thresholds are compared after rounding to 9 decimal places, as PROTOCOLS.md says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeAlias, get_args

import msgspec

from ...._errors import ConfigError

__all__ = [
    "DEFAULT_WEIGHT",
    "VOTING_ALGORITHMS",
    "VotingAlgorithm",
    "VotingError",
    "VotingFailure",
    "VotingOutcome",
    "VotingResult",
    "cast_votes",
    "count_votes",
]

VotingAlgorithm: TypeAlias = Literal["simple_majority", "weighted_voting", "unanimous"]
"""The voting rules :func:`count_votes` knows."""

VOTING_ALGORITHMS: tuple[str, ...] = get_args(VotingAlgorithm)

DEFAULT_WEIGHT = 1.0
"""A voter without a weight weighs this much (never 0: that would silence it)."""


class VotingResult(msgspec.Struct, frozen=True, omit_defaults=True):
    """An agreement: the fields of PROTOCOLS.md (``total_weight`` only for weighted voting)."""

    consensus: Any
    algorithm: str
    proposal: int
    vote_count: int
    total_voters: int
    votes_cast: int
    confidence: float
    total_weight: float | None = None


class VotingFailure(msgspec.Struct, frozen=True, omit_defaults=True):
    """No agreement: ``code`` as in PROTOCOLS.md, ``details`` for unanimous voting.

    A result, not an exception: it is what :attr:`VotingOutcome.error` holds.
    """

    code: str
    message: str
    details: dict[str, Any] | None = None


VotingError = VotingFailure
"""The former name of :class:`VotingFailure` (a Struct, never raised), kept for old imports."""


class VotingOutcome(msgspec.Struct, frozen=True):
    """Either a result (``ok``) or a failure (``error``)."""

    ok: bool
    result: VotingResult | None = None
    error: VotingFailure | None = None


def _round(value: float) -> float:
    return round(value, 9)


def _tally(voters: Sequence[str], votes: Mapping[str, int | None], proposals: int) -> list[int]:
    counts = [0] * proposals
    for voter in voters:
        choice = votes.get(voter)
        if choice is not None and 0 <= choice < proposals:
            counts[choice] += 1
    return counts


def cast_votes(
    voters: Sequence[str], votes: Mapping[str, int | None], proposals: int
) -> dict[str, int]:
    """The valid votes of eligible voters, in voter order (abstentions, strangers and
    indices outside the proposals dropped)."""
    cast: dict[str, int] = {}
    for voter in voters:
        choice = votes.get(voter)
        if choice is not None and 0 <= choice < proposals:
            cast[voter] = choice
    return cast


def _most_voted(counts: Sequence[int]) -> int:
    """The proposal with the most votes; ties: the lowest index (explicit, never arrival)."""
    return max(range(len(counts)), key=lambda i: (counts[i], -i))


def count_votes(
    algorithm: str,
    proposals: Sequence[Any],
    voters: Sequence[str],
    votes: Mapping[str, int | None],
    *,
    weights: Mapping[str, float] | None = None,
) -> VotingOutcome:
    """Count ``votes`` (voter id -> proposal index; missing or None: did not vote).

    ``voters`` are every eligible voter, in agent order: n = len(voters), whoever
    answered. ``weights`` (weighted voting) maps voter ids to weights; a voter missing
    from it weighs :data:`DEFAULT_WEIGHT`.
    """
    if algorithm not in VOTING_ALGORITHMS:
        raise ConfigError(
            "algorithm", f"unknown voting rule {algorithm!r}", allowed=VOTING_ALGORITHMS
        )
    if not proposals:
        raise ConfigError("proposals", "needs at least one proposal")
    if not voters:
        raise ConfigError("voters", "needs at least one eligible voter")
    if len(set(voters)) != len(voters):
        raise ConfigError("voters", "voter ids must be unique")
    n = len(voters)
    cast = cast_votes(voters, votes, len(proposals))
    counts = _tally(voters, cast, len(proposals))
    if algorithm == "simple_majority":
        return _simple_majority(proposals, n, len(cast), counts)
    if algorithm == "weighted_voting":
        return _weighted(proposals, voters, cast, counts, weights or {})
    return _unanimous(proposals, voters, cast, counts)


def _simple_majority(
    proposals: Sequence[Any], n: int, votes_cast: int, counts: list[int]
) -> VotingOutcome:
    needed = n // 2 + 1
    best = _most_voted(counts)
    if counts[best] < needed:
        message = f"no proposal has {needed} of {n} votes (best: {counts[best]})"
        return VotingOutcome(ok=False, error=VotingFailure(code="no_majority", message=message))
    result = VotingResult(
        consensus=proposals[best],
        algorithm="simple_majority",
        proposal=best,
        vote_count=counts[best],
        total_voters=n,
        votes_cast=votes_cast,
        confidence=counts[best] / n,
    )
    return VotingOutcome(ok=True, result=result)


def _weight(weights: Mapping[str, float], voter: str) -> float:
    weight = weights.get(voter, DEFAULT_WEIGHT)
    if not (isinstance(weight, int | float) and weight >= 0 and weight != float("inf")):
        raise ConfigError(f"weights.{voter}", f"must be a finite number >= 0, got {weight!r}")
    return float(weight)


def _weighted(
    proposals: Sequence[Any],
    voters: Sequence[str],
    cast: Mapping[str, int],
    counts: list[int],
    weights: Mapping[str, float],
) -> VotingOutcome:
    total = sum(_weight(weights, voter) for voter in voters)
    per_proposal = [0.0] * len(proposals)
    for voter, choice in cast.items():
        per_proposal[choice] += _weight(weights, voter)
    best = max(range(len(proposals)), key=lambda i: (_round(per_proposal[i]), -i))
    # Strictly more than half: a proposal holding exactly half is a tie, and a tie fails.
    if not _round(per_proposal[best]) > _round(total / 2):
        message = (
            f"no proposal has more than half of the weight {total:g} (best: {per_proposal[best]:g})"
        )
        error = VotingFailure(code="no_weighted_majority", message=message)
        return VotingOutcome(ok=False, error=error)
    weight_cast = sum(_weight(weights, voter) for voter in cast)
    result = VotingResult(
        consensus=proposals[best],
        algorithm="weighted_voting",
        proposal=best,
        vote_count=counts[best],
        total_voters=len(voters),
        votes_cast=len(cast),
        confidence=per_proposal[best] / weight_cast,
        total_weight=total,
    )
    return VotingOutcome(ok=True, result=result)


def _unanimous(
    proposals: Sequence[Any], voters: Sequence[str], cast: Mapping[str, int], counts: list[int]
) -> VotingOutcome:
    n = len(voters)
    best = _most_voted(counts)
    if counts[best] == n:
        result = VotingResult(
            consensus=proposals[best],
            algorithm="unanimous",
            proposal=best,
            vote_count=n,
            total_voters=n,
            votes_cast=len(cast),
            confidence=1.0,
        )
        return VotingOutcome(ok=True, result=result)
    dissenters = sorted(voter for voter, choice in cast.items() if choice != best)
    silent = sorted(voter for voter in voters if voter not in cast)
    message = f"{counts[best]} of {n} voted for the same proposal"
    details: dict[str, Any] = {"dissenters": dissenters, "silent": silent}
    error = VotingFailure(code="no_unanimity", message=message, details=details)
    return VotingOutcome(ok=False, error=error)

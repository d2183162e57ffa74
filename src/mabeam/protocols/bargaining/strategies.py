"""What a negotiator decides from: its utility, its aspiration curve, and the outcomes.

A :class:`Strategy` is anything with ``respond(offer, t)`` (accept?) and ``propose(t)``
(an outcome to offer) at relative time ``t`` in (0, 1); either may be a coroutine (an
LLM-backed agent, say), the protocol waits for it up to the reply timeout. A strategy
may also carry ``utility(value)`` and ``reserved`` for the run's analysis.

:class:`AspirationStrategy` is PROTOCOLS.md's time-based concession ("Bargaining"):
aspiration ``a(t) = r + (1 - r)(1 - t^x)`` with ``x`` = 4 (boulware), 1 (linear),
0.25 (conceder) or infinity (hardliner, ``a = 1``); it accepts iff ``u(offer) >= a(t)``
and proposes the outcome of lowest utility to itself with ``u >= a(t)`` (ties: the
smaller value; none: its best outcome). Comparisons are rounded to 9 places.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Awaitable, Sequence
from typing import Protocol, TypeAlias

import msgspec

from ..._errors import ConfigError

Number: TypeAlias = int | float
"""An outcome: a point of the one numeric issue."""

PLACES = 9
EXPONENTS: dict[str, float] = {
    "boulware": 4.0,
    "linear": 1.0,
    "conceder": 0.25,
    "hardliner": math.inf,
}
"""The documented strategies' concession exponents, in the order they are listed."""


def round9(x: float) -> float:
    """``x`` rounded to the 9 places every comparison uses."""
    return round(x, PLACES)


class Strategy(Protocol):
    """What a negotiator implements: answer an offer, and propose one, at relative time t."""

    def respond(self, offer: Number, t: float) -> bool | Awaitable[bool]:
        """Whether to accept ``offer`` (another agent's) at relative time ``t``."""
        ...

    def propose(self, t: float) -> Number | Awaitable[Number]:
        """The outcome to offer at relative time ``t`` (one of the session's outcomes)."""
        ...


class Utility(msgspec.Struct, frozen=True, kw_only=True):
    """u(v) = clip((v - worst) / (ideal - worst), 0, 1).

    ``ideal == worst`` (a conflict where every request is the same) is the limit: 1 at
    the ideal, 0 elsewhere.
    """

    ideal: float
    worst: float

    def __call__(self, value: Number) -> float:
        if self.ideal == self.worst:
            return 1.0 if value == self.ideal else 0.0
        u = (value - self.worst) / (self.ideal - self.worst)
        return min(1.0, max(0.0, u))


def aspiration(t: float, reserved: float, exponent: float) -> float:
    """a(t) = r + (1 - r)(1 - t^x); with x = infinity, t^x = 0 for t < 1 (a hardliner)."""
    return float(reserved + (1.0 - reserved) * (1.0 - t**exponent))


def exponent_of(strategy: str, exponent: float | None = None) -> float:
    """The concession exponent: ``exponent`` if given, else the named strategy's."""
    if strategy not in EXPONENTS:
        raise ConfigError("strategy", f"invalid value {strategy!r}", allowed=", ".join(EXPONENTS))
    if exponent is None:
        return EXPONENTS[strategy]
    if isinstance(exponent, bool) or not isinstance(exponent, (int, float)) or not exponent > 0:
        raise ConfigError("exponent", f"must be a number > 0, got {exponent!r}")
    return float(exponent)


def outcomes_of(
    outcomes: Sequence[Number] | None = None,
    outcome_range: tuple[Number, Number] | None = None,
    outcome_step: Number = 1,
) -> list[Number]:
    """The issue's outcomes, ascending and without repeats.

    Exactly one of ``outcomes`` (a list) and ``outcome_range = (lo, hi)``, which yields
    lo, lo + step, ... up to and including hi where the grid reaches it (each value
    computed as ``lo + k * step``, rounded to 9 places, never by repeated addition).
    """
    if (outcomes is None) == (outcome_range is None):
        raise ConfigError("outcomes", "give exactly one of outcomes and outcome_range")
    if outcomes is not None:
        values = list(outcomes)
        if not values:
            raise ConfigError("outcomes", "must not be empty")
        for i, value in enumerate(values):
            if not _finite(value):
                raise ConfigError(f"outcomes[{i}]", f"must be a finite number, got {value!r}")
        return sorted(set(values))
    assert outcome_range is not None
    low, high = outcome_range
    if not (_finite(low) and _finite(high)) or high < low:
        raise ConfigError("outcome_range", f"needs finite lo <= hi, got {list(outcome_range)}")
    if not _finite(outcome_step) or not outcome_step > 0:
        raise ConfigError("outcome_step", f"must be a number > 0, got {outcome_step!r}")
    count = math.floor(round9((high - low) / outcome_step)) + 1
    exact = all(isinstance(x, int) for x in (low, outcome_step))
    if exact:
        return [low + k * outcome_step for k in range(count)]
    return [round9(low + k * outcome_step) for k in range(count)]


def _finite(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


class AspirationStrategy:
    """Time-based concession (PROTOCOLS.md): accept at or above the aspiration, offer the
    least the aspiration allows.

    ``strategy`` names the curve (boulware, linear, conceder, hardliner); ``exponent``
    overrides its exponent; ``reserved`` is the utility below which it never goes.
    """

    def __init__(
        self,
        utility: Utility,
        outcomes: Sequence[Number],
        *,
        strategy: str = "linear",
        reserved: float = 0.0,
        exponent: float | None = None,
    ) -> None:
        if not outcomes:
            raise ConfigError("outcomes", "must not be empty")
        if not (_finite(reserved) and 0.0 <= reserved <= 1.0):
            raise ConfigError("reserved", f"must be a number in [0, 1], got {reserved!r}")
        self.utility = utility
        self.strategy = strategy
        self.exponent = exponent_of(strategy, exponent)
        self.reserved = float(reserved)
        # (rounded utility, value) ascending: the first at or above a(t) is the offer.
        ranked = sorted((round9(utility(v)), v) for v in set(outcomes))
        self._utilities = [u for u, _ in ranked]
        self._values = [v for _, v in ranked]
        best = self._utilities[-1]
        self.best: Number = self._values[bisect.bisect_left(self._utilities, best)]

    def aspiration(self, t: float) -> float:
        """Its aspiration at relative time ``t``, rounded to 9 places."""
        return round9(aspiration(t, self.reserved, self.exponent))

    def respond(self, offer: Number, t: float) -> bool:
        """Accept iff u(offer) >= a(t)."""
        return round9(self.utility(offer)) >= self.aspiration(t)

    def propose(self, t: float) -> Number:
        """The outcome of lowest own utility with u >= a(t) (ties: smaller; none: the best)."""
        index = bisect.bisect_left(self._utilities, self.aspiration(t))
        return self._values[index] if index < len(self._values) else self.best

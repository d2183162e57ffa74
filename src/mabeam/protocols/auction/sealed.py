"""Sealed-bid auctions, first or second price: the pure rule (no actors, no clock).

``PROTOCOLS.md``: valid bids (finite, >= 0, not below ``reserve_price`` after rounding
to 9 places) are ordered by amount descending, ties by agent id order; the first wins.
``first_price`` pays the winning bid; ``second_price`` pays max(second-highest valid bid,
reserve_price), or with a single valid bid the reserve if one was set (> 0), else the
winning bid. No valid bid: error ``no_bids``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ._config import round9

__all__ = ["Award", "efficiency", "is_valid_bid", "settle_sealed"]


@dataclass(frozen=True)
class Award:
    """Who won a single-item auction and what they pay, or why nobody did (``error``)."""

    winner: str | None
    payment: float | None
    rounds: int
    error: str | None = None


def is_valid_bid(amount: float, reserve_price: float) -> bool:
    """A bid that can win and set a price: finite, >= 0 and not below the reserve."""
    return math.isfinite(amount) and amount >= 0 and round9(amount) >= round9(reserve_price)


def settle_sealed(
    bids: Sequence[tuple[str, float]], payment_rule: str, reserve_price: float = 0.0
) -> Award:
    """The winner and payment for ``(agent, amount)`` bids, one per agent."""
    valid = sorted(
        (
            (round9(amount), agent, amount)
            for agent, amount in bids
            if is_valid_bid(amount, reserve_price)
        ),
        key=lambda bid: (-bid[0], bid[1]),
    )
    if not valid:
        return Award(None, None, 1, "no_bids")
    _, winner, amount = valid[0]
    if payment_rule == "first_price":
        payment = amount
    elif len(valid) >= 2:
        payment = max(valid[1][2], reserve_price)  # a valid second meets the reserve
        # after rounding, yet may sit a hair under it: the rule's max is the larger one
    else:
        payment = reserve_price if reserve_price > 0 else amount
    return Award(winner, float(payment), 1)


def efficiency(winner: str, valuations: Mapping[str, float]) -> float | None:
    """Winner's valuation / the highest among ``valuations`` (1.0 when that is 0).

    ``valuations`` holds the agents whose answers were received; None when the
    winner's valuation is unknown.
    """
    if winner not in valuations:
        return None
    highest = max(valuations.values())
    if round9(highest) <= 0:
        return 1.0
    return valuations[winner] / highest

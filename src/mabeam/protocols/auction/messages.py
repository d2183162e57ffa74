"""The auction messages: what an auctioneer asks and what a bidder answers.

Every message is a frozen, tagged msgspec Struct, so it crosses the simulated network
(and a wire) as plain data. The auctioneer *asks* each bidder (one request, one answer,
``reply_timeout`` each); no answer in time counts as a decline, as ``PROTOCOLS.md`` says.

========================  ==================================  ======================
auction                   auctioneer asks                     a bidder answers
========================  ==================================  ======================
sealed_bid                :class:`CallForBids`                :class:`Bid` | :class:`Decline`
english (ascending)       :class:`PriceAnnouncement`          :class:`Stay` | :class:`Drop`
dutch (descending)        :class:`PriceAnnouncement`          :class:`Accept` | :class:`Decline`
combinatorial             :class:`CallForBundles`             :class:`BundleBids` | :class:`Decline`
========================  ==================================  ======================

``valuation`` in an answer is the bidder's report of its private value, used only for the
``efficiency`` figure of the result, never to pick the winner or the price. A bidder that
leaves it out is taken at its word: a :class:`Bid`'s amount, a :class:`Drop`'s
``max_bid``, an :class:`Accept`'s ``bid``.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

__all__ = [
    "Accept",
    "AuctionResult",
    "Bid",
    "BundleBid",
    "BundleBids",
    "CallForBids",
    "CallForBundles",
    "Decline",
    "Drop",
    "PriceAnnouncement",
    "RunAuction",
    "Stay",
]


class CallForBids(msgspec.Struct, frozen=True, tag=True):
    """Sealed bid: send one bid for ``variable`` (answer :class:`Bid` or :class:`Decline`)."""

    auction_id: str
    variable: str | None = None


class Bid(msgspec.Struct, frozen=True, tag=True):
    """A sealed bid of ``amount`` for the bidder's preferred ``value`` of the variable."""

    amount: float
    value: Any = None
    valuation: float | None = None


class Decline(msgspec.Struct, frozen=True, tag=True):
    """No bid (sealed bid, combinatorial), or not at this price (dutch)."""

    valuation: float | None = None


class PriceAnnouncement(msgspec.Struct, frozen=True, tag=True):
    """A clock price: round ``round`` (0, 1, 2 ...) of an english or dutch auction.

    English: answer :class:`Stay` (iff max_bid >= price) or :class:`Drop`.
    Dutch: answer :class:`Accept` (iff price <= bid) or :class:`Decline`.
    """

    auction_id: str
    clock: Literal["english", "dutch"]
    round: int
    price: float
    variable: str | None = None


class Stay(msgspec.Struct, frozen=True, tag=True):
    """English: still in at this price."""

    value: Any = None
    valuation: float | None = None


class Drop(msgspec.Struct, frozen=True, tag=True):
    """English: out from this price on, for good.

    ``max_bid`` (optional) ranks the bidders of a round that all drop together; one
    their own answers contradict (outside [previous price, this price)) is not believed.
    """

    max_bid: float | None = None
    value: Any = None
    valuation: float | None = None


class Accept(msgspec.Struct, frozen=True, tag=True):
    """Dutch: take the item at this price; ``bid`` ranks acceptors of the same round."""

    bid: float
    value: Any = None
    valuation: float | None = None


class CallForBundles(msgspec.Struct, frozen=True, tag=True):
    """Combinatorial: bid on bundles of ``items`` (answer :class:`BundleBids`)."""

    auction_id: str
    items: list[str]
    variable: str | None = None


class BundleBid(msgspec.Struct, frozen=True):
    """One bundle: the items, all or nothing, for ``bid``."""

    items: list[str]
    bid: float


class BundleBids(msgspec.Struct, frozen=True, tag=True):
    """Combinatorial: the bidder's bundles; it wins at most one of them (XOR)."""

    bundles: list[BundleBid]
    value: Any = None


class RunAuction(msgspec.Struct, frozen=True, tag=True):
    """Application → auctioneer: run the auction now; the answer is an ``AuctionResult``."""


class AuctionResult(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """An auction's outcome, with the result fields of ``PROTOCOLS.md``.

    Fields that do not apply are left out when encoded: ``winner`` and ``winning_value``
    of a combinatorial auction, ``allocations`` ... ``optimal`` of the others. An
    outcome that is not an agreement has ``error`` set to the ``PROTOCOLS.md`` code
    (``no_bids``, ``no_winning_bid``, ``auction_timeout``) and ``ok`` false.
    """

    winner: str | None = None
    winning_value: Any = None
    payment: float | None = None
    auction_type: str
    payment_rule: str
    participants: int
    bids_received: int
    rounds: int
    efficiency: float | None = None
    allocations: dict[str, list[str]] | None = None
    payments: dict[str, float] | None = None
    total_value: float | None = None
    optimal: bool | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the auction reached an outcome (``error`` is None)."""
        return self.error is None

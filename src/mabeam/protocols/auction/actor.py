"""The actor shells: an :class:`Auctioneer` that runs one auction by messages, and a
:class:`BidderAgent` that answers every auction message from its own private state.

The auctioneer asks every bidder concurrently, each ask bounded by ``reply_timeout``:
a bidder that is not running, crashes on the request, or answers late counts as a
decline (sealed bid, dutch, combinatorial) or a drop (english), so the auction always
ends. An answer of the wrong type is no answer; a number in an answer that is not a
finite number >= 0 (a string, None, NaN, a negative) makes a Bid invalid and an Accept
a decline, and is never trusted as a valuation: a bidder cannot crash the auctioneer.
Bidders are addressed by name (``whereis``) at every request, as a restarted actor
has a new ref. The rules themselves are the pure cores in :mod:`.sealed`, :mod:`.clock`
and :mod:`.combinatorial`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from ..._errors import ConfigError
from ...runtime import Actor
from .._asking import ask_agents
from ._config import AuctionConfig, round9
from .clock import DutchClock, EnglishClock
from .combinatorial import BundleOffer, settle_combinatorial
from .messages import (
    Accept,
    AuctionResult,
    Bid,
    BundleBid,
    BundleBids,
    CallForBids,
    CallForBundles,
    Decline,
    Drop,
    PriceAnnouncement,
    RunAuction,
    Stay,
)
from .sealed import Award, efficiency, settle_sealed

__all__ = ["Auctioneer", "BidderAgent"]


def _first(*values: float | None) -> float | None:
    return next((float(v) for v in values if v is not None), None)


def _real(x: Any) -> float:
    """A number a bidder sent, as a float: NaN when it is no real number (None, a bool,
    a string ...), +-inf when it is beyond a float (a huge integer). The rules then
    refuse it as they refuse any amount that is not a finite number >= 0."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        return math.nan
    try:
        return float(x)
    except OverflowError:
        return math.inf if x > 0 else -math.inf  # type: ignore[operator]


def _amount(x: Any) -> float | None:
    """``x`` if it is a finite number >= 0 (a usable bid or valuation), else None."""
    value = _real(x)
    return value if math.isfinite(value) and value >= 0 else None


def _checked(field: str, value: float | None) -> float | None:
    if value is not None and _amount(value) is None:
        raise ConfigError(field, f"must be a finite number >= 0, got {value!r}")
    return value


class BidderAgent(Actor):
    """A bidder answering from its own state: ``bid``, ``valuation``, ``max_bid``, ``bundles``.

    - sealed bid: bids ``bid``, else its ``valuation`` (truthful), else ``max_bid``;
      declines with none of them;
    - english: stays while the price is <= ``max_bid`` (default ``valuation``, then ``bid``);
    - dutch: accepts the first price <= its sealed-bid amount;
    - combinatorial: sends its ``bundles`` (declines with none).

    Every answer reports its valuation (``valuation``, else ``bid``, else ``max_bid``) for
    the result's ``efficiency``.
    """

    def __init__(
        self,
        agent_id: str,
        *,
        value: Any = None,
        bid: float | None = None,
        valuation: float | None = None,
        max_bid: float | None = None,
        bundles: Iterable[BundleBid | Mapping[str, Any]] = (),
    ) -> None:
        self.agent_id = agent_id
        self.value = value
        bid, valuation = _checked("bid", bid), _checked("valuation", valuation)
        max_bid = _checked("max_bid", max_bid)
        self.bid = _first(bid, valuation, max_bid)
        self.max_bid = _first(max_bid, valuation, bid)
        self.valuation = _first(valuation, bid, max_bid)
        self.bundles = [
            b
            if isinstance(b, BundleBid)
            else BundleBid(items=list(b["items"]), bid=float(b["bid"]))
            for b in bundles
        ]

    async def receive(self, message: Any) -> Any:
        if isinstance(message, CallForBids):
            if self.bid is None:
                return Decline(valuation=self.valuation)
            return Bid(amount=self.bid, value=self.value, valuation=self.valuation)
        if isinstance(message, PriceAnnouncement):
            return self._answer_price(message)
        if isinstance(message, CallForBundles):
            if not self.bundles:
                return Decline(valuation=self.valuation)
            return BundleBids(bundles=self.bundles, value=self.value)
        raise TypeError(f"unexpected message {type(message).__name__}")

    def _answer_price(self, message: PriceAnnouncement) -> Any:
        price = round9(message.price)
        if message.clock == "english":
            if self.max_bid is not None and round9(self.max_bid) >= price:
                return Stay(value=self.value, valuation=self.valuation)
            return Drop(max_bid=self.max_bid, value=self.value, valuation=self.valuation)
        if self.bid is not None and price <= round9(self.bid):
            return Accept(bid=self.bid, value=self.value, valuation=self.valuation)
        return Decline(valuation=self.valuation)


class Auctioneer(Actor):
    """Runs one auction among ``bidders`` (actor names) when asked :class:`RunAuction`.

    ``auction_id`` names the auction in every request; by default the auctioneer's
    registered name, else ``auction-<actor id>``.

    The answer is an :class:`AuctionResult`; an auction without a winner has ``error``
    set, it never raises. It serves one auction at a time (its mailbox waits meanwhile).
    """

    def __init__(
        self, bidders: Sequence[str], config: AuctionConfig, auction_id: str | None = None
    ) -> None:
        self.bidders = list(bidders)
        self.config = config
        self.auction_id = auction_id or ""
        self._values: dict[str, Any] = {}
        self._valuations: dict[str, float] = {}

    async def on_start(self) -> None:
        if not self.auction_id:
            # The auctioneer's name, else a name from its id: unique in its system.
            self.auction_id = self.context.name or f"auction-{self.context.id}"

    async def receive(self, message: Any) -> Any:
        if not isinstance(message, RunAuction):
            raise TypeError(f"unexpected message {type(message).__name__}")
        config = self.config
        log = self.context.log.bind(auction_id=self.auction_id)
        log.info(
            "auction_started",
            auction_type=config.auction_type,
            payment_rule=config.payment_rule,
            participants=len(self.bidders),
        )
        self._values, self._valuations = {}, {}
        if config.auction_type == "sealed_bid":
            result = await self._sealed()
        elif config.auction_type == "english":
            result = await self._english(log)
        elif config.auction_type == "dutch":
            result = await self._dutch(log)
        else:
            result = await self._combinatorial()
        log.info(
            "auction_closed",
            winner=result.winner,
            payment=result.payment,
            rounds=result.rounds,
            bids_received=result.bids_received,
            error=result.error,
        )
        return result

    # ------------------------------------------------------------------ asking

    async def _ask_all(self, agents: Sequence[str], message: Any) -> list[Any]:
        return await ask_agents(self.context, agents, message, self.config.reply_timeout)

    def _note(self, agent: str, answer: Any, default: float | None = None) -> None:
        """Remember what an answer tells about the bidder: its value and valuation.

        The valuation is the answer's ``valuation`` if it is a finite number >= 0, else
        ``default`` (the amount the answer carries) if that is one, else unknown."""
        value = getattr(answer, "value", None)
        if value is not None or agent not in self._values:
            self._values[agent] = value
        valuation = _amount(getattr(answer, "valuation", None))
        if valuation is None:
            valuation = _amount(default)
        if valuation is not None:
            self._valuations[agent] = valuation

    def _result(self, award: Award, bids_received: int) -> AuctionResult:
        config = self.config
        winner = award.winner
        return AuctionResult(
            winner=winner,
            winning_value=None if winner is None else self._values.get(winner),
            payment=award.payment,
            auction_type=config.auction_type,
            payment_rule=config.payment_rule,
            participants=len(self.bidders),
            bids_received=bids_received,
            rounds=award.rounds,
            efficiency=None if winner is None else efficiency(winner, self._valuations),
            error=award.error,
        )

    # ------------------------------------------------------------------ auction types

    async def _sealed(self) -> AuctionResult:
        call = CallForBids(auction_id=self.auction_id, variable=self.config.variable)
        answers = await self._ask_all(self.bidders, call)
        bids: list[tuple[str, float]] = []
        for agent, answer in zip(self.bidders, answers, strict=True):
            if isinstance(answer, Bid):
                amount = _real(answer.amount)  # NaN for no number: an invalid bid
                bids.append((agent, amount))
                self._note(agent, answer, amount)
            elif isinstance(answer, Decline):
                self._note(agent, answer)
        award = settle_sealed(bids, self.config.payment_rule, self.config.reserve_price)
        return self._result(award, len(bids))

    async def _english(self, log: Any) -> AuctionResult:
        config = self.config
        clock = EnglishClock(
            self.bidders,
            starting_price=config.start,
            increment=config.increment,
            max_rounds=config.max_rounds,
        )
        answered = 0
        while True:
            r, price = clock.announce()
            announcement = PriceAnnouncement(
                auction_id=self.auction_id,
                clock="english",
                round=r,
                price=price,
                variable=config.variable,
            )
            agents = list(clock.active)
            answers = await self._ask_all(agents, announcement)
            stayed: list[str] = []
            max_bids: dict[str, float | None] = {}
            for agent, answer in zip(agents, answers, strict=True):
                if isinstance(answer, Stay):
                    stayed.append(agent)
                    self._note(agent, answer)
                elif isinstance(answer, Drop):
                    max_bid = _real(answer.max_bid)
                    # None: kept private (or no number); the clock checks a told one.
                    max_bids[agent] = max_bid if math.isfinite(max_bid) else None
                    self._note(agent, answer, max_bid)
                else:
                    continue
                answered += r == 0
            log.debug("auction_round", round=r, price=price, active=len(agents), stayed=len(stayed))
            award = clock.step(stayed, max_bids)
            if award is not None:
                return self._result(award, answered)

    async def _dutch(self, log: Any) -> AuctionResult:
        config = self.config
        assert config.starting_price is not None  # checked by AuctionConfig
        clock = DutchClock(
            starting_price=config.starting_price,
            decrement=config.decrement,
            reserve_price=config.reserve_price,
            max_rounds=config.max_rounds,
        )
        answered = 0
        while True:
            announced = clock.announce()
            if isinstance(announced, Award):
                return self._result(announced, answered)
            r, price = announced
            announcement = PriceAnnouncement(
                auction_id=self.auction_id,
                clock="dutch",
                round=r,
                price=price,
                variable=config.variable,
            )
            answers = await self._ask_all(self.bidders, announcement)
            accepted: dict[str, float] = {}
            for agent, answer in zip(self.bidders, answers, strict=True):
                if isinstance(answer, Accept):
                    bid = _real(answer.bid)
                    # Accept iff p_r <= bid: an Accept whose bid is no number, or is below
                    # the price it accepts, contradicts itself and counts as a decline.
                    if math.isfinite(bid) and round9(bid) >= price:
                        accepted[agent] = bid
                    self._note(agent, answer, bid)
                elif isinstance(answer, Decline):
                    self._note(agent, answer)
                else:
                    continue
                answered += r == 0
            log.debug("auction_round", round=r, price=price, accepted=len(accepted))
            award = clock.step(accepted)
            if award is not None:
                return self._result(award, answered)

    async def _combinatorial(self) -> AuctionResult:
        config = self.config
        items = list(config.items or ())
        call = CallForBundles(auction_id=self.auction_id, items=items, variable=config.variable)
        answers = await self._ask_all(self.bidders, call)
        known = set(items)
        offers: list[BundleOffer] = []
        received = 0
        for agent, answer in zip(self.bidders, answers, strict=True):
            if not isinstance(answer, BundleBids):
                continue
            received += 1
            bundles = answer.bundles if isinstance(answer.bundles, list | tuple) else ()
            for index, bundle in enumerate(bundles):
                offer = _offer(agent, index, bundle, known)
                if offer is not None:
                    offers.append(offer)
        outcome = settle_combinatorial(offers, config.payment_rule, time_budget=config.time_budget)
        return AuctionResult(
            auction_type=config.auction_type,
            payment_rule=config.payment_rule,
            participants=len(self.bidders),
            bids_received=received,
            rounds=1,
            allocations=None if outcome.error else outcome.allocations,
            payments=None if outcome.error else outcome.payments,
            total_value=None if outcome.error else outcome.total_value,
            optimal=None if outcome.error else outcome.optimal,
            error=outcome.error,
        )


def _offer(agent: str, index: int, bundle: Any, known: Collection[str]) -> BundleOffer | None:
    """``agent``'s bundle number ``index`` as an offer, or None if it is malformed: not a
    BundleBid, items not a non-empty list of distinct known names, bid not a finite
    number >= 0."""
    if not isinstance(bundle, BundleBid) or not isinstance(bundle.items, list | tuple):
        return None
    items = tuple(bundle.items)
    valid = (
        items
        and all(isinstance(item, str) and item in known for item in items)
        and len(set(items)) == len(items)
    )
    bid = _amount(bundle.bid)
    if not valid or bid is None:
        return None
    return BundleOffer(agent, index, items, bid)

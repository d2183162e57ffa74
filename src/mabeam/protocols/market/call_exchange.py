"""The call market's exchange: double auction, posted price and combinatorial auction.

On :class:`RunMarket` it asks every trader concurrently for its orders
(:class:`CallForOrders`, ``reply_timeout`` each: a trader that is down, crashes on it
or answers late sends nothing), adds the orders submitted to it since (checked when
they arrive, held until the call), clears with the pure cores (:mod:`.call`,
:mod:`.posted`, the auction package's combinatorial winner determination) and tells
every trader a :class:`Fill` per trade it is in. Log event: ``market_cleared``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..._errors import ActorError, ConfigError
from .._asking import ask_agents
from ..auction.combinatorial import BundleOffer, settle_combinatorial
from ._config import MarketConfig
from .book import OrderError, check_order
from .call import CallOrder, clear_call
from .exchange import Exchange
from .messages import (
    BookView,
    BundleBid,
    CallForOrders,
    CallMarketResult,
    CallTradeRecord,
    CloseMarket,
    CombinatorialMarketResult,
    Fill,
    OpenMarket,
    Orders,
    OrderSpec,
    PostedPriceResult,
    PostedTradeRecord,
    RunMarket,
    SubmitOrder,
    TradeEvent,
)
from .posted import PostedOrder, serve_posted

__all__ = ["CallExchange", "MarketResult"]

MarketResult = CallMarketResult | PostedPriceResult | CombinatorialMarketResult
"""What a call market's run answers."""

CALL_MECHANISMS = ("double_auction", "posted_price", "combinatorial_auction")


def _listed(values: Any) -> list[Any]:
    """What a trader sent as a list (anything else counts as nothing)."""
    return values if isinstance(values, list) else []


def _at_ms(value: Any) -> float:
    """An order's at_ms, checked: a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise OrderError("at_ms", f"must be a number of ms >= 0, got {value!r}")
    if not (0 <= value < math.inf):
        raise OrderError("at_ms", f"must be a number of ms >= 0, got {value!r}")
    return float(value)


def _offer(agent: str, index: int, bundle: Any) -> BundleOffer:
    """A trader's bundle as a combinatorial offer, checked (items names, bid finite >= 0)."""
    items = getattr(bundle, "items", None)
    if not isinstance(bundle, BundleBid) or not isinstance(items, list) or not items:
        raise OrderError("bundles", f"not a bundle of item names: {bundle!r}")
    if not all(isinstance(item, str) and item for item in items) or len(set(items)) < len(items):
        raise OrderError("bundles.items", f"must be distinct item names, got {items!r}")
    try:
        bid = check_order("buy", 1, bundle.bid)
    except OrderError as error:
        raise OrderError("bundles.bid", error.problem) from None
    if bid is None:
        raise OrderError("bundles.bid", "required")
    return BundleOffer(agent, index, tuple(items), float(bundle.bid))


class CallExchange(Exchange):
    """A call market among ``traders``: it clears once per :class:`RunMarket`.

    Orders submitted before the call are checked on arrival and held (cancellable) until
    it runs. It has no book to show (:class:`GetBook` answers an empty one) and does not
    open or close: :class:`OpenMarket` and :class:`CloseMarket` fail with an
    :class:`~.book.OrderError` naming ``pricing_mechanism``.
    """

    def __init__(
        self, traders: Sequence[str], config: MarketConfig, market_id: str | None = None
    ) -> None:
        if config.pricing_mechanism not in CALL_MECHANISMS:
            raise ConfigError(
                "pricing_mechanism",
                f"a call market does not trade by {config.pricing_mechanism!r}",
                allowed=", ".join(CALL_MECHANISMS),
            )
        super().__init__(traders, config, market_id)
        self.positions = {agent: i for i, agent in enumerate(self.traders)}
        self._pending: dict[tuple[str, int], tuple[SubmitOrder, float]] = {}

    async def receive(self, message: Any) -> Any:
        if isinstance(message, RunMarket):
            return await self._run_call()
        if isinstance(message, OpenMarket):
            raise OrderError(
                "pricing_mechanism", "only continuous trading opens; run a call market"
            )
        if isinstance(message, CloseMarket):
            raise OrderError(
                "pricing_mechanism", "only continuous trading closes; run a call market"
            )
        return await super().receive(message)

    # ------------------------------------------------------------------ orders in

    def _place(self, message: SubmitOrder) -> None:
        """A call market keeps submitted orders until it runs (checked now)."""
        self._check_call_order(message.side, message.resource, message.quantity, message.price)
        key = (message.agent, message.order_id)
        if key in self._pending:
            raise OrderError(
                "order_id", f"{message.agent!r} already used order id {message.order_id!r}"
            )
        self._pending[key] = (message, self._now_ms())

    def _withdraw(self, agent: str, order_id: Any) -> int:
        held = self._pending.pop((agent, order_id), None)
        if held is None:
            raise OrderError("order_id", f"{agent!r} has no pending order {order_id!r}")
        units: int = held[0].quantity
        return units

    def _book(self, resource: str) -> BookView:
        """A call market holds orders until it runs: no resting book."""
        return BookView(resource=resource, bids=[], asks=[])

    def _check_call_order(self, side: Any, resource: Any, quantity: Any, price: Any) -> None:
        if not isinstance(resource, str) or not resource.strip():
            raise OrderError("resource", f"must be a non-empty name, got {resource!r}")
        if check_order(side, quantity, price) is None:
            mechanism = self.config.pricing_mechanism
            raise OrderError(
                "price", f"required with {mechanism} (market orders need continuous_trading)"
            )
        if side == "sell" and self.config.pricing_mechanism == "posted_price":
            raise OrderError("side", "sell orders are invalid with posted_price", allowed="buy")

    # ------------------------------------------------------------------ the call

    async def _ask(self, agent: str, message: Any) -> Any:
        """The trader's answer, or None: not running, crashed on it, or too late."""
        # An ask needs the actor running now: nobody under the name is no answer at
        # once, as a crash or a late answer is (what the protocol counts as absent).
        ref = self.context.whereis(agent)
        if ref is None:
            return None
        try:
            return await ref.ask(message, timeout=self.config.reply_timeout)
        except (ActorError, TimeoutError):
            return None

    async def _collect(self) -> tuple[list[tuple[str, int, OrderSpec, float]], list[BundleOffer]]:
        """Every trader's orders (agent, index, order, at_ms) and bundles, then the held ones."""
        request = CallForOrders(market_id=self.market_id)
        answers = await ask_agents(self.context, self.traders, request, self.config.reply_timeout)
        orders: list[tuple[str, int, OrderSpec, float]] = []
        bundles: list[BundleOffer] = []
        combinatorial = self.config.pricing_mechanism == "combinatorial_auction"
        for agent, answer in zip(self.traders, answers, strict=True):
            if not isinstance(answer, Orders):
                continue
            # a combinatorial market trades bundles only, the others orders only
            for index, spec in enumerate(_listed(None if combinatorial else answer.orders)):
                try:
                    if not isinstance(spec, OrderSpec):
                        raise OrderError("orders", f"not an order: {spec!r}")
                    self._check_call_order(spec.side, spec.resource, spec.quantity, spec.price)
                    at_ms = _at_ms(spec.at_ms)
                except OrderError as error:
                    self._reject(agent, index, error)
                    continue
                orders.append((agent, index, spec, at_ms))
            for index, bundle in enumerate(_listed(answer.bundles if combinatorial else None)):
                try:
                    bundles.append(_offer(agent, index, bundle))
                except OrderError as error:
                    self._reject(agent, index, error)
        for (agent, order_id), (message, at_ms) in self._pending.items():
            spec = OrderSpec(message.side, message.resource, message.quantity, message.price)
            orders.append((agent, order_id, spec, at_ms))
        self._pending = {}
        return orders, bundles

    async def _run_call(self) -> MarketResult:
        config = self.config
        orders, bundles = await self._collect()
        self._received += len(orders)
        result: MarketResult
        if config.pricing_mechanism == "double_auction":
            result = self._double_auction(orders)
        elif config.pricing_mechanism == "posted_price":
            result = self._posted(orders)
        else:
            result = self._combinatorial(bundles)
        self.context.log.info(
            "market_cleared",
            market_id=self.market_id,
            pricing_mechanism=config.pricing_mechanism,
            orders_received=len(orders),
            volume=getattr(result, "volume", None),
            error=getattr(result, "error", None),
        )
        return result

    def _fill(
        self,
        buyer: tuple[str, int],
        seller: tuple[str, int],
        resource: str,
        quantity: int,
        prices: tuple[float, float],
        at_ms: float,
    ) -> None:
        """Tell both sides their fill, and every subscriber the trade."""
        (b_agent, b_id), (s_agent, s_id) = buyer, seller
        self._tell(b_agent, Fill(b_id, "buy", resource, s_agent, quantity, prices[0], at_ms))
        self._tell(s_agent, Fill(s_id, "sell", resource, b_agent, quantity, prices[1], at_ms))
        self._publish(TradeEvent(b_agent, s_agent, resource, quantity, prices[0], at_ms))

    def _double_auction(self, orders: list[tuple[str, int, OrderSpec, float]]) -> CallMarketResult:
        call = [
            CallOrder(a, i, s.side, s.resource, s.quantity, float(s.price)) for a, i, s, _ in orders
        ]
        clearing = clear_call(call, self.config.pricing)
        at_ms = self._now_ms()
        for f in clearing.fills:
            prices = (f.price, f.seller_price)
            self._fill(
                (f.buyer, f.buy_index),
                (f.seller, f.sell_index),
                f.resource,
                f.quantity,
                prices,
                at_ms,
            )
        return CallMarketResult(
            pricing_mechanism="double_auction",
            pricing=self.config.pricing,
            trades=[
                CallTradeRecord(t.buyer, t.seller, t.resource, t.quantity, t.price, t.seller_price)
                for t in clearing.trades
            ],
            clearing_price=clearing.clearing_price,
            volume=clearing.volume,
            gains_from_trade=clearing.gains_from_trade,
            surplus=clearing.surplus,
            participants=len(self.traders),
            orders_received=len(orders),
        )

    def _posted(self, orders: list[tuple[str, int, OrderSpec, float]]) -> PostedPriceResult:
        unknown = len(self.traders)
        posted = [
            PostedOrder(
                a, self.positions.get(a, unknown), i, s.resource, s.quantity, float(s.price), at
            )
            for a, i, s, at in orders
        ]
        sale = serve_posted(posted, self.config.prices, self.config.supply)
        at_ms = self._now_ms()
        for order, trade in sale.served:
            self._tell(
                trade.buyer,
                Fill(
                    order.index, "buy", trade.resource, "market", trade.quantity, trade.price, at_ms
                ),
            )
            self._publish(
                TradeEvent(
                    trade.buyer, "market", trade.resource, trade.quantity, trade.price, at_ms
                )
            )
        return PostedPriceResult(
            pricing_mechanism="posted_price",
            trades=[
                PostedTradeRecord(t.buyer, t.seller, t.resource, t.quantity, t.price)
                for t in sale.trades
            ],
            revenue=sale.revenue,
            unsold=sale.unsold,
            volume=sale.volume,
            participants=len(self.traders),
            orders_received=len(orders),
        )

    def _combinatorial(self, bundles: list[BundleOffer]) -> CombinatorialMarketResult:
        config = self.config
        items = config.items
        valid = []
        for offer in bundles:
            outside = [item for item in offer.items if items is not None and item not in items]
            if outside:
                problem = f"item {outside[0]!r} is not a resource of this market"
                self._reject(offer.agent, offer.index, OrderError("bundles.items", problem))
                continue
            valid.append(offer)
        outcome = settle_combinatorial(valid, config.payment_rule, time_budget=config.time_budget)
        at_ms = self._now_ms()
        for agent, won in outcome.allocations.items():
            payment = outcome.payments.get(agent, 0.0)
            index = next(o.index for o in valid if o.agent == agent and list(o.items) == won)
            self._tell(agent, Fill(index, "buy", ",".join(won), "market", 1, payment, at_ms))
        return CombinatorialMarketResult(
            pricing_mechanism="combinatorial_auction",
            payment_rule=config.payment_rule,
            allocations=outcome.allocations,
            payments=outcome.payments,
            total_value=outcome.total_value,
            optimal=outcome.optimal,
            participants=len(self.traders),
            error=outcome.error,
        )

"""The actor shells: an :class:`Exchange` per market and a :class:`TraderAgent` per agent.

The exchange collects orders by message. Call markets (double auction, posted price,
combinatorial): on :class:`RunMarket` it asks every trader concurrently for its orders
(:class:`CallForOrders`, ``reply_timeout`` each: a trader that is down, crashes on it or
answers late sends nothing), adds the orders submitted to it since, clears with the pure
cores (:mod:`.call`, :mod:`.posted`, the auction package's combinatorial winner
determination) and tells every trader a :class:`Fill` per trade it is in. Continuous
trading: on :class:`OpenMarket` it tells every trader :class:`StartTrading`; each trader
sends its orders at their ``at_ms`` (``send_after`` timers), the exchange matches each
:class:`SubmitOrder` as it arrives (:mod:`.book`) and tells fills at once; a bad order is
answered :class:`OrderRejected` and changes nothing. :class:`CloseMarket` ends trading.

Traders are addressed by name (``whereis``) at every message: a restarted actor has a
new ref. Log events: ``market_opened``, ``market_cleared``, ``market_closed``,
``order_rejected``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import msgspec

from ..._errors import ActorError
from ...runtime import Actor, ActorRef
from ..auction.combinatorial import BundleOffer, settle_combinatorial
from ._config import MarketConfig
from .book import ContinuousMarket, OrderError, Trade, check_order
from .call import CallOrder, clear_call
from .messages import (
    Activity,
    BookSide,
    BookTrade,
    BookView,
    BundleBid,
    CallForOrders,
    CallMarketResult,
    CallTradeRecord,
    Cancel,
    CancelOrder,
    CloseMarket,
    CombinatorialMarketResult,
    ContinuousResult,
    Fill,
    GetActivity,
    GetBook,
    OpenMarket,
    OrderCancelled,
    OrderRejected,
    Orders,
    OrderSpec,
    PostedPriceResult,
    PostedTradeRecord,
    RunMarket,
    StartTrading,
    Submit,
    SubmitOrder,
    Subscribe,
    TradeEvent,
)
from .posted import PostedOrder, serve_posted

__all__ = ["Exchange", "TraderAgent"]

MarketResult = CallMarketResult | PostedPriceResult | CombinatorialMarketResult


class _SendOrders(msgspec.Struct, frozen=True, tag=True):
    """A trader's timer: send these orders (indexes) now."""

    indexes: list[int]


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


def _spec(order: OrderSpec | Mapping[str, Any]) -> OrderSpec:
    return order if isinstance(order, OrderSpec) else OrderSpec(**order)


class TraderAgent(Actor):
    """An agent holding ``orders`` (and combinatorial ``bundles``), trading by message.

    It answers :class:`CallForOrders` with them; after :class:`StartTrading` it sends
    each order to the exchange at its ``at_ms`` (order id = its index). The application
    can make it :class:`Submit` or :class:`Cancel` more. Fills, rejections and
    cancellations it receives are kept (:class:`GetActivity`) and, if ``listener`` names
    an actor, forwarded to it.
    """

    def __init__(
        self,
        agent_id: str,
        orders: Iterable[OrderSpec | Mapping[str, Any]] = (),
        bundles: Iterable[BundleBid | Mapping[str, Any]] = (),
        *,
        listener: str | None = None,
    ) -> None:
        self.agent_id = agent_id
        self.orders = [_spec(o) for o in orders]
        self.bundles = [
            b
            if isinstance(b, BundleBid)
            else BundleBid(items=list(b["items"]), bid=float(b["bid"]))
            for b in bundles
        ]
        self.listener = listener
        self.fills: list[Fill] = []
        self.rejected: list[OrderRejected] = []
        self.cancelled: list[OrderCancelled] = []
        self._next_id = len(self.orders)
        self._exchange: str | None = None

    async def receive(self, message: Any) -> Any:
        if isinstance(message, (Fill, OrderRejected, OrderCancelled)):
            self._note(message)
            return None
        if isinstance(message, _SendOrders):
            for index in message.indexes:
                self._send(self._exchange, index, self.orders[index])
            return None
        if isinstance(message, CallForOrders):
            return Orders(agent=self.agent_id, orders=self.orders, bundles=self.bundles)
        if isinstance(message, StartTrading):
            self._start(message)
            return None
        if isinstance(message, Submit):
            order_id, self._next_id = self._next_id, self._next_id + 1
            self._send(message.exchange, order_id, message.order)
            return order_id
        if isinstance(message, Cancel):
            exchange = self.context.whereis(message.exchange)
            if exchange is not None:
                exchange.tell(CancelOrder(agent=self.agent_id, order_id=message.order_id))
            return None
        if isinstance(message, GetActivity):
            return Activity(fills=self.fills, rejected=self.rejected, cancelled=self.cancelled)
        raise TypeError(f"unexpected message {type(message).__name__}")

    def _start(self, message: StartTrading) -> None:
        """One timer per distinct at_ms, so one agent's orders go in index order."""
        self._exchange = message.exchange
        due: dict[float, list[int]] = {}
        for index, order in enumerate(self.orders):
            due.setdefault(float(order.at_ms), []).append(index)
        now = self.context.time()
        for at_ms in sorted(due):
            delay = message.t0 + at_ms / 1000.0 - now
            if delay <= 0:
                for index in due[at_ms]:
                    self._send(message.exchange, index, self.orders[index])
            else:
                self.context.send_after(delay, _SendOrders(indexes=due[at_ms]))

    def _send(self, exchange_name: str | None, order_id: int, order: OrderSpec) -> None:
        exchange = None if exchange_name is None else self.context.whereis(exchange_name)
        if exchange is None:
            return
        exchange.tell(
            SubmitOrder(
                agent=self.agent_id,
                order_id=order_id,
                side=order.side,
                resource=order.resource,
                quantity=order.quantity,
                price=order.price,
            )
        )

    def _note(self, message: Fill | OrderRejected | OrderCancelled) -> None:
        if isinstance(message, Fill):
            self.fills.append(message)
        elif isinstance(message, OrderRejected):
            self.rejected.append(message)
        else:
            self.cancelled.append(message)
        if self.listener is not None and (ref := self.context.whereis(self.listener)):
            ref.tell(message)


class Exchange(Actor):
    """One market among ``traders`` (actor names, in agent order) under ``config``."""

    _clock: Callable[[], float]  # the context's clock, set in on_start
    _whereis: Callable[[str], ActorRef | None]  # the system's name lookup, set in on_start

    def __init__(
        self, traders: Sequence[str], config: MarketConfig, market_id: str | None = None
    ) -> None:
        self.traders = list(traders)
        self.positions = {agent: i for i, agent in enumerate(self.traders)}
        self.config = config
        self.market_id = market_id or ""
        self.market = ContinuousMarket()
        self.subscribers: list[str] = []
        self._open = False
        self._closed = False
        self._t0 = 0.0
        self._received = 0
        self._rejected = 0
        self._pending: dict[tuple[str, int], tuple[SubmitOrder, float]] = {}

    async def on_start(self) -> None:
        if not self.market_id:
            self.market_id = self.context.name or f"market-{self.context.id}"
        self._clock = self.context.time
        self._whereis = self.context.system.whereis
        self._t0 = self._clock()

    async def receive(self, message: Any) -> Any:
        if (
            type(message) is SubmitOrder
            and self._open
            and type(message.agent) is str
            and type(message.order_id) is int
        ):
            self._trade(message)  # the hot path: an order while continuous trading is open
            return None
        if isinstance(message, SubmitOrder):
            self._submit(message)
            return None
        if isinstance(message, CancelOrder):
            self._cancel(message)
            return None
        if isinstance(message, RunMarket):
            return await self._run_call()
        if isinstance(message, OpenMarket):
            return self._open_market()
        if isinstance(message, CloseMarket):
            return self._close_market()
        if isinstance(message, GetBook):
            book = self.market.books.get(message.resource)
            bids, asks = (book.bids(), book.asks()) if book is not None else ([], [])
            return BookView(resource=message.resource, bids=bids, asks=asks)
        if isinstance(message, Subscribe):
            if message.name not in self.subscribers:
                self.subscribers.append(message.name)
            return None
        raise TypeError(f"unexpected message {type(message).__name__}")

    # ------------------------------------------------------------------ messages out

    def _now_ms(self) -> float:
        return self._ms(self.context.time())

    def _ms(self, clock: float) -> float:
        """A clock reading as virtual ms since the market opened (or started)."""
        return round((clock - self._t0) * 1000.0, 6)

    def _tell(self, agent: str, message: Any) -> None:
        ref = self._whereis(agent)
        if ref is not None:
            ref.tell(message)

    def _tell_fills(self, fills: list[Trade]) -> None:
        """Tell both sides of each continuous trade their fill, and every subscriber the trade.

        One clock reading (the first fill's) stamps them all: they come from one order.
        """
        at_ms = self._ms(fills[0][7])
        whereis = self._whereis
        subscribers = self.subscribers
        # the market keys orders (agent, order id): [1] is the agent's own id
        for buyer, seller, resource, quantity, price, buy_key, sell_key, _ in fills:
            ref = whereis(buyer)
            if ref is not None:
                buy_id = buy_key[1]  # type: ignore[index]
                ref.tell(Fill(buy_id, "buy", resource, seller, quantity, price, at_ms))
            ref = whereis(seller)
            if ref is not None:
                sell_id = sell_key[1]  # type: ignore[index]
                ref.tell(Fill(sell_id, "sell", resource, buyer, quantity, price, at_ms))
            for name in subscribers:
                self._tell(name, TradeEvent(buyer, seller, resource, quantity, price, at_ms))

    def _reject(self, agent: str, order_id: Any, error: OrderError) -> None:
        self._rejected += 1
        self.context.log.info(
            "order_rejected",
            market_id=self.market_id,
            agent=agent,
            order_id=order_id,
            field=error.field,
            problem=error.problem,
        )
        self._tell(
            agent, OrderRejected(order_id=order_id, field=error.field, problem=error.problem)
        )

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
        for name in self.subscribers:
            self._tell(name, TradeEvent(b_agent, s_agent, resource, quantity, prices[0], at_ms))

    # ------------------------------------------------------------------ orders in

    def _submit(self, message: SubmitOrder) -> None:
        agent, order_id = message.agent, message.order_id
        if type(agent) is not str or type(order_id) is not int:
            self._rejected += 1
            sender = self.context.sender
            if sender is not None:
                problem = "agent must be a name and order_id an integer"
                sender.tell(
                    OrderRejected(order_id=repr(order_id), field="order_id", problem=problem)
                )
            return
        if self._open:  # a subclass of SubmitOrder (receive's hot path takes the rest)
            self._trade(message)
            return
        try:
            if self.config.pricing_mechanism != "continuous_trading":
                self._hold(message)
                return
            state = "closed" if self._closed else "not open yet"
            raise OrderError("market", f"continuous trading is {state}")
        except OrderError as error:
            self._reject(agent, order_id, error)

    def _trade(self, message: SubmitOrder) -> None:
        """Match an order of an open continuous market (agent and order_id checked)."""
        agent, order_id = message.agent, message.order_id
        try:
            # The book reads the clock at the first fill; it becomes ms since opening when told.
            fills, _, cancelled = self.market._submit(
                agent,
                order_id,
                message.side,
                message.resource,
                message.quantity,
                message.price,
                self._clock,
            )
        except OrderError as error:
            self._reject(agent, order_id, error)
            return
        self._received += 1
        if fills:
            self._tell_fills(fills)
        if cancelled:
            self._tell(agent, OrderCancelled(order_id=order_id, quantity=cancelled))

    def _hold(self, message: SubmitOrder) -> None:
        """A call market keeps submitted orders until it runs (checked now)."""
        self._check_call_order(message.side, message.resource, message.quantity, message.price)
        key = (message.agent, message.order_id)
        if key in self._pending:
            raise OrderError(
                "order_id", f"{message.agent!r} already used order id {message.order_id!r}"
            )
        self._pending[key] = (message, self._now_ms())

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

    def _cancel(self, message: CancelOrder) -> None:
        agent, order_id = message.agent, message.order_id
        key = (agent, order_id)
        try:
            if self.config.pricing_mechanism != "continuous_trading":
                held = self._pending.pop(key, None)
                if held is None:
                    raise OrderError("order_id", f"{agent!r} has no pending order {order_id!r}")
                units = held[0].quantity
            else:
                units = self.market.cancel(agent, order_id)
        except OrderError as error:
            self._reject(agent, order_id, error)
            return
        self._tell(agent, OrderCancelled(order_id=order_id, quantity=units))

    # ------------------------------------------------------------------ continuous

    def _open_market(self) -> None:
        if self.config.pricing_mechanism != "continuous_trading":
            raise OrderError(
                "pricing_mechanism", "only continuous trading opens; run a call market"
            )
        self._open, self._closed = True, False
        self._t0 = self.context.time()
        self.context.log.info("market_opened", market_id=self.market_id, traders=len(self.traders))
        start = StartTrading(exchange=self.context.name or "", t0=self._t0)
        for agent in self.traders:
            self._tell(agent, start)

    def _close_market(self) -> ContinuousResult:
        self._open, self._closed = False, True
        result = self.continuous_result()
        self.context.log.info(
            "market_closed",
            market_id=self.market_id,
            trades=len(result.trades),
            volume=result.volume,
            orders_received=result.orders_received,
            orders_rejected=result.orders_rejected,
        )
        return result

    def continuous_result(self) -> ContinuousResult:
        """The trades so far, the books and the vwap (resources in name order)."""
        market = self.market
        trades = [
            BookTrade(f.buyer, f.seller, f.resource, f.quantity, f.price, self._ms(f.at_ms))
            for f in market.trades
        ]
        book = {
            r: BookSide(bids=market.books[r].bids(), asks=market.books[r].asks())
            for r in sorted(market.books)
        }
        return ContinuousResult(
            pricing_mechanism="continuous_trading",
            trades=trades,
            book=book,
            vwap=market.vwap(),
            volume=sum(t.quantity for t in trades),
            orders_received=self._received,
            orders_rejected=self._rejected,
        )

    # ------------------------------------------------------------------ call markets

    async def _ask(self, agent: str, message: Any) -> Any:
        """The trader's answer, or None: not running, crashed on it, or too late."""
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
        answers = await asyncio.gather(*(self._ask(a, request) for a in self.traders))
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
        if config.pricing_mechanism == "continuous_trading":
            raise OrderError(
                "pricing_mechanism", "continuous trading opens and closes; it has no call"
            )
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
            for name in self.subscribers:
                self._tell(
                    name,
                    TradeEvent(
                        trade.buyer, "market", trade.resource, trade.quantity, trade.price, at_ms
                    ),
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

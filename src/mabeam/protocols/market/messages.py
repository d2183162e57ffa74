"""The market messages: what the exchange, the traders and the application say.

Every message is a frozen, tagged msgspec Struct, so it crosses the simulated network
as plain data. Fields an agent fills in (side, quantity, price) are loosely typed on
purpose: the exchange checks them and answers a bad order with :class:`OrderRejected`
instead of the network refusing to decode it.

==========================  =======================  =================================
from → to                   message                  answer / effect
==========================  =======================  =================================
exchange → trader (ask)     :class:`CallForOrders`   :class:`Orders` (call markets)
exchange → trader           :class:`StartTrading`    trader sends each order at at_ms
trader → exchange           :class:`SubmitOrder`     fills, rest, or a rejection
trader → exchange           :class:`CancelOrder`     :class:`OrderCancelled` or rejection
exchange → trader           :class:`Fill`            one per trade the trader is in
exchange → trader           :class:`OrderRejected`   the order changed nothing
exchange → subscriber       :class:`TradeEvent`      every trade, as it executes
==========================  =======================  =================================
"""

from __future__ import annotations

from typing import Any

import msgspec

from ..auction.messages import BundleBid

__all__ = [
    "Activity",
    "BookSide",
    "BookTrade",
    "BookView",
    "BundleBid",
    "CallForOrders",
    "CallMarketResult",
    "CallTradeRecord",
    "Cancel",
    "CancelOrder",
    "CloseMarket",
    "CombinatorialMarketResult",
    "ContinuousResult",
    "Fill",
    "GetActivity",
    "GetBook",
    "OpenMarket",
    "OrderCancelled",
    "OrderRejected",
    "OrderSpec",
    "Orders",
    "PostedPriceResult",
    "PostedTradeRecord",
    "RunMarket",
    "StartTrading",
    "Submit",
    "SubmitOrder",
    "Subscribe",
    "TradeEvent",
]


class OrderSpec(msgspec.Struct, frozen=True, tag=True):
    """An order as an agent holds it; no ``price`` makes it a market order."""

    side: str
    resource: str
    quantity: Any = 1
    price: Any = None
    at_ms: float = 0.0


# ---------------------------------------------------------------- exchange <-> trader


class CallForOrders(msgspec.Struct, frozen=True, tag=True):
    """Call market: send every order (and bundle) you hold (answer :class:`Orders`)."""

    market_id: str


class Orders(msgspec.Struct, frozen=True, tag=True):
    """A trader's standing orders (index = position) and combinatorial bundles."""

    agent: str
    orders: list[OrderSpec] = []
    bundles: list[BundleBid] = []


class StartTrading(msgspec.Struct, frozen=True, tag=True):
    """Continuous trading opened at virtual time ``t0`` (s): send each order at its at_ms."""

    exchange: str
    t0: float


class SubmitOrder(msgspec.Struct, frozen=True, tag=True):
    """One order of ``agent``, numbered ``order_id`` by the agent (unique per agent)."""

    agent: str
    order_id: int
    side: Any
    resource: Any
    quantity: Any = 1
    price: Any = None


class CancelOrder(msgspec.Struct, frozen=True, tag=True):
    """Take ``agent``'s resting (or pending) order ``order_id`` out of the market."""

    agent: str
    order_id: int


class Fill(msgspec.Struct, frozen=True, tag=True):
    """Your order ``order_id`` traded ``quantity`` at ``price`` with ``counterparty``."""

    order_id: int
    side: str
    resource: str
    counterparty: str
    quantity: int
    price: float
    at_ms: float


class OrderRejected(msgspec.Struct, frozen=True, tag=True):
    """Your order (or cancel) ``order_id`` was refused: ``field`` was wrong."""

    order_id: Any
    field: str
    problem: str


class OrderCancelled(msgspec.Struct, frozen=True, tag=True):
    """``quantity`` units of ``order_id`` left the market (cancelled, a market order's rest)."""

    order_id: int
    quantity: int


class TradeEvent(msgspec.Struct, frozen=True, tag=True):
    """A trade, told to every subscriber as it executes."""

    buyer: str
    seller: str
    resource: str
    quantity: int
    price: float
    at_ms: float


# ---------------------------------------------------------------- application -> actors


class RunMarket(msgspec.Struct, frozen=True, tag=True):
    """Ask the exchange to run its call (double auction, posted price, combinatorial)."""


class OpenMarket(msgspec.Struct, frozen=True, tag=True):
    """Open continuous trading now: traders start sending their orders."""


class CloseMarket(msgspec.Struct, frozen=True, tag=True):
    """Close continuous trading; the answer is the :class:`ContinuousResult`."""


class GetBook(msgspec.Struct, frozen=True, tag=True):
    """Ask the exchange for one resource's book (answer :class:`BookView`)."""

    resource: str


class Subscribe(msgspec.Struct, frozen=True, tag=True):
    """Tell the actor named ``name`` a :class:`TradeEvent` for every trade from now on."""

    name: str


class Submit(msgspec.Struct, frozen=True, tag=True):
    """Application → trader: send ``order`` to ``exchange`` now (answer: its order id)."""

    exchange: str
    order: OrderSpec


class Cancel(msgspec.Struct, frozen=True, tag=True):
    """Application → trader: cancel your order ``order_id`` at ``exchange``."""

    exchange: str
    order_id: int


class GetActivity(msgspec.Struct, frozen=True, tag=True):
    """Application → trader: what happened to your orders (answer :class:`Activity`)."""


class Activity(msgspec.Struct, frozen=True):
    """A trader's fills, rejections and cancellations, in the order they arrived."""

    fills: list[Fill]
    rejected: list[OrderRejected]
    cancelled: list[OrderCancelled]


# ---------------------------------------------------------------- results


class CallTradeRecord(msgspec.Struct, frozen=True):
    buyer: str
    seller: str
    resource: str
    quantity: int
    price: float
    seller_price: float


class CallMarketResult(msgspec.Struct, frozen=True):
    """double_auction: trades, clearing prices, totals over every resource."""

    pricing_mechanism: str
    pricing: str
    trades: list[CallTradeRecord]
    clearing_price: dict[str, float]
    volume: int
    gains_from_trade: float
    surplus: float
    participants: int
    orders_received: int


class PostedTradeRecord(msgspec.Struct, frozen=True):
    buyer: str
    seller: str
    resource: str
    quantity: int
    price: float


class PostedPriceResult(msgspec.Struct, frozen=True):
    """posted_price: trades (seller "market"), revenue and unsold units per resource."""

    pricing_mechanism: str
    trades: list[PostedTradeRecord]
    revenue: dict[str, float]
    unsold: dict[str, int]
    volume: int
    participants: int
    orders_received: int


class CombinatorialMarketResult(msgspec.Struct, frozen=True):
    """combinatorial_auction: the combinatorial auction's result fields, or an error."""

    pricing_mechanism: str
    payment_rule: str
    allocations: dict[str, list[str]]
    payments: dict[str, float]
    total_value: float
    optimal: bool
    participants: int
    error: str | None = None


class BookTrade(msgspec.Struct, frozen=True):
    buyer: str
    seller: str
    resource: str
    quantity: int
    price: float
    at_ms: float


class BookSide(msgspec.Struct, frozen=True):
    """One resource's resting orders best first: [agent, quantity, price] each."""

    bids: list[tuple[str, int, float]]
    asks: list[tuple[str, int, float]]


class BookView(msgspec.Struct, frozen=True):
    resource: str
    bids: list[tuple[str, int, float]]
    asks: list[tuple[str, int, float]]


class ContinuousResult(msgspec.Struct, frozen=True):
    """continuous_trading: trades in execution order, the books left, vwap per resource."""

    pricing_mechanism: str
    trades: list[BookTrade]
    book: dict[str, BookSide]
    vwap: dict[str, float]
    volume: int
    orders_received: int
    orders_rejected: int

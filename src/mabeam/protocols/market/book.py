"""The limit order book of one resource: price-time priority (pure, no actors, no clock).

An incoming order matches the best-priced resting orders on the other side while the
prices cross (a buy at or above the ask, a sell at or below the bid), oldest first
within a price; every fill is at the resting order's price; a partly filled resting
order keeps its place; the unfilled rest of a limit order rests, that of a market order
(no price) is cancelled (``PROTOCOLS.md`` "Markets", continuous trading).

Each side is a dict of price levels (a deque of resting orders each, in arrival order)
and a heap of the level prices; cancelled orders are marked and dropped lazily when
they reach the front, so submit and cancel are O(log levels) amortised. Prices are
rounded to 9 places on entry, as every price comparison is.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Hashable
from typing import NamedTuple

from ..._errors import ConfigError

__all__ = ["Execution", "Fill", "OrderBook", "OrderError", "check_order"]

SIDES = ("buy", "sell")


class OrderError(ConfigError):
    """An order the book refuses: names the field (side, quantity, price, order_id)."""


class Fill(NamedTuple):
    """One trade: ``quantity`` units of ``resource`` from ``seller`` to ``buyer``."""

    buyer: str
    seller: str
    resource: str
    quantity: int
    price: float
    buy_order: Hashable
    sell_order: Hashable
    at_ms: float


class Execution(NamedTuple):
    """What one submitted order did: its fills, the units now resting, the units cancelled."""

    fills: list[Fill]
    resting: int
    cancelled: int


_new = tuple.__new__
"""Builds a NamedTuple from a tuple without its (Python-level) ``__new__``: faster."""


class _Resting:
    __slots__ = ("agent", "order_id", "price", "remaining", "side")

    def __init__(self, order_id: Hashable, agent: str, side: str, remaining: int, price: float):
        self.order_id = order_id
        self.agent = agent
        self.side = side
        self.remaining = remaining
        self.price = price


_INF = math.inf
_ROUNDED: dict[float, float] = {}
"""Prices seen, rounded to 9 places (``round`` is slow; books repeat their prices)."""


def _round9(price: float) -> float:
    rounded = _ROUNDED.get(price)
    if rounded is None:
        if len(_ROUNDED) >= 65_536:
            _ROUNDED.clear()
        rounded = _ROUNDED[price] = round(price, 9)
    return rounded


def check_order(side: object, quantity: object, price: object) -> float | None:
    """Refuse a bad order (:class:`OrderError` naming the field); the price rounded to 9."""
    if (side == "buy" or side == "sell") and type(quantity) is int and quantity > 0:
        if price is None:
            return None
        if type(price) is float and 0.0 <= price < _INF:
            return _round9(price)
    return _check_slowly(side, quantity, price)


def _check_slowly(side: object, quantity: object, price: object) -> float | None:
    if side not in SIDES:
        raise OrderError("side", f"unknown side {side!r}", allowed="buy, sell")
    if type(quantity) is not int or quantity <= 0:
        raise OrderError("quantity", f"must be a whole number of units > 0, got {quantity!r}")
    if price is None:
        return None
    if isinstance(price, bool) or not isinstance(price, (int, float)):
        raise OrderError("price", f"must be a finite number >= 0 or absent, got {price!r}")
    try:
        ok = math.isfinite(price) and price >= 0
    except OverflowError:
        ok = False
    if not ok:
        raise OrderError("price", f"must be a finite number >= 0 or absent, got {price!r}")
    return _round9(float(price))


class OrderBook:
    """The bids and asks of one ``resource``; orders are keyed by a caller-chosen id."""

    def __init__(self, resource: str = "") -> None:
        self.resource = resource
        self._bids: dict[float, deque[_Resting]] = {}
        self._asks: dict[float, deque[_Resting]] = {}
        self._bid_heap: list[float] = []  # negated prices
        self._ask_heap: list[float] = []
        self._orders: dict[Hashable, _Resting] = {}

    def __len__(self) -> int:
        """The number of resting orders."""
        return len(self._orders)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._orders

    # ------------------------------------------------------------------ orders

    def submit(
        self,
        order_id: Hashable,
        agent: str,
        side: str,
        quantity: int,
        price: float | None = None,
        at_ms: float = 0.0,
    ) -> Execution:
        """Match an incoming order, rest its limit remainder; a bad order changes nothing."""
        limit = check_order(side, quantity, price)
        if order_id in self._orders:
            raise OrderError("order_id", f"order {order_id!r} is already in the book")
        return self._execute(order_id, agent, side, quantity, limit, at_ms)

    def _execute(
        self,
        order_id: Hashable,
        agent: str,
        side: str,
        quantity: int,
        limit: float | None,
        at_ms: float,
    ) -> Execution:
        """:meth:`submit` on an order already checked (``limit`` rounded)."""
        fills: list[Fill] = []
        remaining = quantity
        resource = self.resource
        buy = side == "buy"
        levels, heap = (self._asks, self._ask_heap) if buy else (self._bids, self._bid_heap)
        orders = self._orders
        while remaining and heap:
            best = heap[0] if buy else -heap[0]
            if limit is not None and (best > limit if buy else best < limit):
                break
            level = levels[best]
            while level and remaining:
                front = level[0]
                if not front.remaining:  # cancelled
                    level.popleft()
                    continue
                n = remaining if remaining < front.remaining else front.remaining
                remaining -= n
                front.remaining -= n
                if buy:
                    fill = (agent, front.agent, resource, n, best, order_id, front.order_id, at_ms)
                else:
                    fill = (front.agent, agent, resource, n, best, front.order_id, order_id, at_ms)
                fills.append(_new(Fill, fill))
                if not front.remaining:
                    level.popleft()
                    del orders[front.order_id]
            if not level:
                del levels[best]
                heapq.heappop(heap)
        if not remaining:
            return _new(Execution, (fills, 0, 0))
        if limit is None:
            return _new(Execution, (fills, 0, remaining))
        entry = _Resting(order_id, agent, side, remaining, limit)
        orders[order_id] = entry
        own, own_heap = (self._bids, self._bid_heap) if buy else (self._asks, self._ask_heap)
        resting = own.get(limit)
        if resting is None:
            own[limit] = resting = deque()
            heapq.heappush(own_heap, -limit if buy else limit)
        resting.append(entry)
        return _new(Execution, (fills, remaining, 0))

    def cancel(self, order_id: Hashable) -> int:
        """Take a resting order out; returns the units cancelled. Unknown id: OrderError."""
        entry = self._orders.pop(order_id, None)
        if entry is None:
            raise OrderError("order_id", f"no resting order {order_id!r} in the book")
        units, entry.remaining = entry.remaining, 0
        self._settle(buy=entry.side == "buy")
        return units

    def resting(self, order_id: Hashable) -> int:
        """Units of ``order_id`` still resting (0 if it is not in the book)."""
        entry = self._orders.get(order_id)
        return 0 if entry is None else entry.remaining

    # ------------------------------------------------------------------ reading

    def best_bid(self) -> float | None:
        """The highest resting bid price, or None."""
        self._settle(buy=True)
        return -self._bid_heap[0] if self._bid_heap else None

    def best_ask(self) -> float | None:
        """The lowest resting ask price, or None."""
        self._settle(buy=False)
        return self._ask_heap[0] if self._ask_heap else None

    def bids(self) -> list[tuple[str, int, float]]:
        """Resting bids best first (price descending, then arrival): (agent, units, price)."""
        return self._side(self._bids, reverse=True)

    def asks(self) -> list[tuple[str, int, float]]:
        """Resting asks best first (price ascending, then arrival): (agent, units, price)."""
        return self._side(self._asks, reverse=False)

    def _side(
        self, levels: dict[float, deque[_Resting]], *, reverse: bool
    ) -> list[tuple[str, int, float]]:
        return [
            (entry.agent, entry.remaining, price)
            for price in sorted(levels, reverse=reverse)
            for entry in levels[price]
            if entry.remaining
        ]

    def _settle(self, *, buy: bool) -> None:
        """Drop cancelled orders at the front of the best level, and emptied levels."""
        levels, heap = (self._bids, self._bid_heap) if buy else (self._asks, self._ask_heap)
        while heap:
            best = -heap[0] if buy else heap[0]
            level = levels[best]
            while level and not level[0].remaining:
                level.popleft()
            if level:
                return
            del levels[best]
            heapq.heappop(heap)


class ContinuousMarket:
    """One :class:`OrderBook` per resource, with the trades in execution order.

    Orders are keyed by ``(agent, order_id)``; an id can be used once per agent.
    """

    def __init__(self) -> None:
        self.books: dict[str, OrderBook] = {}
        self.trades: list[Fill] = []
        self._resource: dict[tuple[str, Hashable], str] = {}  # every order id used

    def submit(
        self,
        agent: str,
        order_id: Hashable,
        side: object,
        resource: object,
        quantity: object,
        price: object = None,
        at_ms: float = 0.0,
    ) -> Execution:
        """Hand the order to its resource's book; a bad order raises and changes nothing."""
        limit = check_order(side, quantity, price)
        book = self.books.get(resource) if type(resource) is str else None
        if book is None and (not isinstance(resource, str) or not resource.strip()):
            raise OrderError("resource", f"must be a non-empty name, got {resource!r}")
        key = (agent, order_id)
        if key in self._resource:
            raise OrderError("order_id", f"{agent!r} already used order id {order_id!r}")
        if book is None:
            assert isinstance(resource, str)
            book = self.books[resource] = OrderBook(resource)
        self._resource[key] = book.resource
        execution = book._execute(key, agent, side, quantity, limit, at_ms)  # type: ignore[arg-type]
        if execution.fills:
            self.trades += execution.fills
        return execution

    def cancel(self, agent: str, order_id: Hashable) -> int:
        """Cancel ``agent``'s resting order; returns the units cancelled."""
        key = (agent, order_id)
        resource = self._resource.get(key)
        if resource is None or key not in self.books[resource]:
            raise OrderError("order_id", f"{agent!r} has no resting order {order_id!r}")
        return self.books[resource].cancel(key)

    def resting(self, agent: str, order_id: Hashable) -> int:
        """Units of ``agent``'s order still resting."""
        resource = self._resource.get((agent, order_id))
        return 0 if resource is None else self.books[resource].resting((agent, order_id))

    def vwap(self) -> dict[str, float]:
        """Volume-weighted average trade price per traded resource, in name order."""
        sums: dict[str, list[float]] = {}
        units: dict[str, int] = {}
        for fill in self.trades:
            sums.setdefault(fill.resource, []).append(fill.price * fill.quantity)
            units[fill.resource] = units.get(fill.resource, 0) + fill.quantity
        return {r: round(math.fsum(sums[r]) / units[r], 9) for r in sorted(sums)}

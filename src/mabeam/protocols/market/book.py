"""The limit order book of one resource: price-time priority (pure, no actors, no clock).

An incoming order matches the best-priced resting orders on the other side while the
prices cross (a buy at or above the ask, a sell at or below the bid), oldest first
within a price; every fill is at the resting order's price; a partly filled resting
order keeps its place; the unfilled rest of a limit order rests, that of a market order
(no price) is cancelled (``PROTOCOLS.md`` "Markets", continuous trading).

Each side is a dict of price levels (a deque of resting orders each, in arrival order)
and a heap of the level prices; a cancel removes the order's record at once and its
level entry is dropped lazily when it reaches the front, so submit and cancel are
O(log levels) amortised. Prices are rounded to 9 places on entry, as every price
comparison is. The hot path (the exchange's :meth:`ContinuousMarket._submit`) checks
an ordinary order in one expression, reaches its book in one dict lookup and reads the
clock only if it trades; resting orders and trades are plain tuples, which the garbage
collector stops tracking (a long-running book would otherwise make every full
collection walk all of them).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Hashable
from heapq import heappop, heappush
from typing import NamedTuple

from ..._errors import OrderError as OrderError

__all__ = [
    "ContinuousMarket",
    "Execution",
    "Fill",
    "OrderBook",
    "OrderError",
    "Trade",
    "check_order",
]

SIDES = ("buy", "sell")


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


Trade = tuple[str, str, str, int, float, Hashable, Hashable, float]
"""A :class:`Fill` as a plain tuple, as the book keeps it: a NamedTuple is never untracked
by the garbage collector, a plain tuple of names and numbers is (a long run keeps many)."""

_new = tuple.__new__
"""Builds a NamedTuple from a tuple without its (Python-level) ``__new__``: faster."""


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


def _fills(trades: list[Trade]) -> list[Fill]:
    """The book's trade tuples as :class:`Fill` NamedTuples."""
    return [_new(Fill, t) for t in trades] if trades else []


def _constant(value: float) -> Callable[[], float]:
    """A clock that always reads ``value`` (an ``at_ms`` given by the caller)."""
    return lambda: value


_Entry = tuple[str, Hashable]
"""A resting order in its price level: (agent, order id)."""


class OrderBook:
    """The bids and asks of one ``resource``; orders are keyed by a caller-chosen id.

    A resting order is an immutable ``(agent, order id)`` entry in its price level; the
    book maps its id to ``(entry, units left)``, and an entry counts only while that
    record holds that very entry (so an id used again after a cancel never revives the
    cancelled entry, dropped lazily). Nothing per order is a mutable container: a book
    of many orders costs the garbage collector little.
    """

    def __init__(self, resource: str = "") -> None:
        self.resource = resource
        self._bids: dict[float, deque[_Entry]] = {}
        self._asks: dict[float, deque[_Entry]] = {}
        self._bid_heap: list[float] = []  # negated prices
        self._ask_heap: list[float] = []
        self._orders: dict[Hashable, tuple[_Entry, int]] = {}  # id -> (entry, units left)

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
        buy = side == "buy"
        fills, resting, cancelled = self._execute(
            order_id, agent, buy, quantity, limit, _constant(at_ms)
        )
        return _new(Execution, (_fills(fills), resting, cancelled))

    def _execute(
        self,
        order_id: Hashable,
        agent: str,
        buy: bool,
        quantity: int,
        limit: float | None,
        clock: Callable[[], float],
    ) -> tuple[list[Trade], int, int]:
        """:meth:`submit` on an order already checked (``limit`` rounded): (fills, resting,
        cancelled). ``clock`` is read once, at the first fill (the fills' ``at_ms``)."""
        fills: list[Trade] = []
        wanted = quantity
        orders = self._orders
        at: float | None = None
        if buy:
            heap, levels = self._ask_heap, self._asks
            while heap:
                best = heap[0]
                if limit is not None and best > limit:
                    break
                level = levels[best]
                while level:
                    front = level[0]
                    other, other_id = front
                    record = orders.get(other_id)
                    if record is None or record[0] is not front:  # cancelled
                        level.popleft()
                        continue
                    units = record[1]
                    if at is None:
                        at = clock()
                    if units > wanted:
                        orders[other_id] = (front, units - wanted)
                        fill = (agent, other, self.resource, wanted, best, order_id, other_id, at)
                        fills.append(fill)
                        wanted = 0
                        break
                    level.popleft()
                    del orders[other_id]
                    fill = (agent, other, self.resource, units, best, order_id, other_id, at)
                    fills.append(fill)
                    wanted -= units
                    if not wanted:
                        break
                if not level:
                    del levels[best]
                    heappop(heap)
                if not wanted:
                    return fills, 0, 0
        else:
            heap, levels = self._bid_heap, self._bids
            while heap:
                best = -heap[0]
                if limit is not None and best < limit:
                    break
                level = levels[best]
                while level:
                    front = level[0]
                    other, other_id = front
                    record = orders.get(other_id)
                    if record is None or record[0] is not front:  # cancelled
                        level.popleft()
                        continue
                    units = record[1]
                    if at is None:
                        at = clock()
                    if units > wanted:
                        orders[other_id] = (front, units - wanted)
                        fill = (other, agent, self.resource, wanted, best, other_id, order_id, at)
                        fills.append(fill)
                        wanted = 0
                        break
                    level.popleft()
                    del orders[other_id]
                    fill = (other, agent, self.resource, units, best, other_id, order_id, at)
                    fills.append(fill)
                    wanted -= units
                    if not wanted:
                        break
                if not level:
                    del levels[best]
                    heappop(heap)
                if not wanted:
                    return fills, 0, 0
        if limit is None:
            return fills, 0, wanted
        entry = (agent, order_id)
        orders[order_id] = (entry, wanted)
        own = self._bids if buy else self._asks
        resting = own.get(limit)
        if resting is None:
            own[limit] = resting = deque()
            if buy:
                heappush(self._bid_heap, -limit)
            else:
                heappush(self._ask_heap, limit)
        resting.append(entry)
        return fills, wanted, 0

    def cancel(self, order_id: Hashable) -> int:
        """Take a resting order out; returns the units cancelled. Unknown id: OrderError."""
        record = self._orders.pop(order_id, None)
        if record is None:
            raise OrderError("order_id", f"no resting order {order_id!r} in the book")
        units = record[1]
        self._settle(buy=True)  # if it was at the front of the best level
        self._settle(buy=False)
        return units

    def resting(self, order_id: Hashable) -> int:
        """Units of ``order_id`` still resting (0 if it is not in the book)."""
        record = self._orders.get(order_id)
        return 0 if record is None else record[1]

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
        self, levels: dict[float, deque[_Entry]], *, reverse: bool
    ) -> list[tuple[str, int, float]]:
        orders = self._orders
        return [
            (entry[0], record[1], price)
            for price in sorted(levels, reverse=reverse)
            for entry in levels[price]
            if (record := orders.get(entry[1])) is not None and record[0] is entry
        ]

    def _settle(self, *, buy: bool) -> None:
        """Drop cancelled orders at the front of the best level, and emptied levels."""
        levels, heap = (self._bids, self._bid_heap) if buy else (self._asks, self._ask_heap)
        orders = self._orders
        while heap:
            best = -heap[0] if buy else heap[0]
            level = levels[best]
            while level:
                record = orders.get(level[0][1])
                if record is not None and record[0] is level[0]:
                    return
                level.popleft()  # cancelled
            del levels[best]
            heappop(heap)


class ContinuousMarket:
    """One :class:`OrderBook` per resource, with the trades in execution order.

    Orders are keyed by ``(agent, order_id)``; an id can be used once per agent.
    """

    def __init__(self) -> None:
        self.books: dict[str, OrderBook] = {}
        self._trades: list[Trade] = []
        self._used: dict[tuple[str, Hashable], OrderBook] = {}  # every order id used

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
        clock = _constant(at_ms)
        fills, resting, cancelled = self._submit(
            agent, order_id, side, resource, quantity, price, clock
        )
        return _new(Execution, (_fills(fills), resting, cancelled))

    @property
    def trades(self) -> list[Fill]:
        """Every fill so far, in execution order."""
        return _fills(self._trades)

    def _submit(
        self,
        agent: str,
        order_id: Hashable,
        side: object,
        resource: object,
        quantity: object,
        price: object,
        clock: Callable[[], float],
    ) -> tuple[list[Trade], int, int]:
        """:meth:`submit` for the exchange: (fills, resting, cancelled); ``clock`` is read
        once, and only if the order trades."""
        if (
            (side == "buy" or side == "sell")
            and type(quantity) is int
            and quantity > 0
            and type(price) is float
            and 0.0 <= price < _INF
        ):
            limit = _ROUNDED.get(price)
            if limit is None:
                limit = _round9(price)
        else:
            limit = check_order(side, quantity, price)
        book = self.books.get(resource) if type(resource) is str else None
        if book is None and (not isinstance(resource, str) or not resource.strip()):
            raise OrderError("resource", f"must be a non-empty name, got {resource!r}")
        key = (agent, order_id)
        used = self._used
        if key in used:
            raise OrderError("order_id", f"{agent!r} already used order id {order_id!r}")
        if book is None:
            assert isinstance(resource, str)
            book = self.books[resource] = OrderBook(resource)
        used[key] = book
        result = book._execute(key, agent, side == "buy", quantity, limit, clock)  # type: ignore[arg-type]
        if result[0]:
            self._trades += result[0]
        return result

    def cancel(self, agent: str, order_id: Hashable) -> int:
        """Cancel ``agent``'s resting order; returns the units cancelled."""
        key = (agent, order_id)
        book = self._used.get(key)
        if book is None or key not in book:
            raise OrderError("order_id", f"{agent!r} has no resting order {order_id!r}")
        return book.cancel(key)

    def resting(self, agent: str, order_id: Hashable) -> int:
        """Units of ``agent``'s order still resting."""
        book = self._used.get((agent, order_id))
        return 0 if book is None else book.resting((agent, order_id))

    def vwap(self) -> dict[str, float]:
        """Volume-weighted average trade price per traded resource, in name order."""
        sums: dict[str, list[float]] = {}
        units: dict[str, int] = {}
        for fill in self.trades:
            sums.setdefault(fill.resource, []).append(fill.price * fill.quantity)
            units[fill.resource] = units.get(fill.resource, 0) + fill.quantity
        return {r: round(math.fsum(sums[r]) / units[r], 9) for r in sorted(sums)}

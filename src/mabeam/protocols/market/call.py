"""The call market: a double auction clearing every resource at once (pure, no actors).

``PROTOCOLS.md`` "Markets", double_auction. Orders are expanded into units (here kept
as runs of equal units, so a 10,000-unit order costs one entry): buyer units by price
descending, seller units ascending, ties by agent id then order index. ``k`` is the
number of positions i where the i-th buyer unit's price >= the i-th seller unit's.

- ``uniform``: all k units at the midpoint of [max(s_k, b_k+1), min(b_k, s_k+1)];
- ``mcafee``: all k at p0 = (b_k+1 + s_k+1) / 2 if s_k <= p0 <= b_k, else k-1 units,
  buyers paying b_k, sellers getting s_k, the market keeping the difference;
- ``pairwise``: unit i at (b_i + s_i) / 2.

Consecutive units of the same buyer, seller and prices merge into one trade.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from .book import OrderError, check_order

__all__ = ["CallOrder", "CallTrade", "Clearing", "UnitFill", "clear_call", "clear_resource"]

Pricing = Literal["uniform", "mcafee", "pairwise"]
PRICINGS = ("uniform", "mcafee", "pairwise")


def round9(x: float) -> float:
    """``x`` rounded to 9 places, as every compared or reported price is."""
    return round(float(x), 9)


@dataclass(frozen=True, slots=True)
class CallOrder:
    """One limit order of ``agent`` (its ``index``-th) in the call."""

    agent: str
    index: int
    side: str
    resource: str
    quantity: int
    price: float

    def __post_init__(self) -> None:
        if check_order(self.side, self.quantity, self.price) is None:
            raise OrderError("price", "required in a call market (no market orders)")


@dataclass(frozen=True, slots=True)
class CallTrade:
    """``quantity`` units from ``seller`` to ``buyer``; the seller gets ``seller_price``."""

    buyer: str
    seller: str
    resource: str
    quantity: int
    price: float
    seller_price: float


@dataclass(frozen=True, slots=True)
class UnitFill:
    """Units of one buy order (agent, index) against one sell order, before merging."""

    buyer: str
    buy_index: int
    seller: str
    sell_index: int
    resource: str
    quantity: int
    price: float
    seller_price: float


@dataclass
class Clearing:
    """The call's outcome, totals over every resource (resources in name order).

    ``fills`` are the same units as ``trades`` but per pair of orders (never merged
    across two orders of one agent), for telling each order's owner.
    """

    trades: list[CallTrade] = field(default_factory=list)
    fills: list[UnitFill] = field(default_factory=list)
    clearing_price: dict[str, float] = field(default_factory=dict)
    volume: int = 0
    gains_from_trade: float = 0.0
    surplus: float = 0.0


@dataclass(slots=True)
class _Run:
    agent: str
    index: int
    price: float
    units: int


def _runs(orders: Iterable[CallOrder], side: str) -> list[_Run]:
    chosen = [o for o in orders if o.side == side]
    sign = -1.0 if side == "buy" else 1.0
    chosen.sort(key=lambda o: (sign * round9(o.price), o.agent, o.index))
    return [_Run(o.agent, o.index, round9(o.price), o.quantity) for o in chosen]


def _unit(runs: list[_Run], position: int) -> float | None:
    """The price of the unit at 0-based ``position`` in ``runs`` (None past the end)."""
    for run in runs:
        if position < run.units:
            return run.price
        position -= run.units
    return None


def _pairs(buyers: list[_Run], sellers: list[_Run], units: int) -> list[tuple[_Run, _Run, int]]:
    """The first ``units`` positions as chunks (buyer run, seller run, units)."""
    chunks: list[tuple[_Run, _Run, int]] = []
    b = s = 0
    b_left = buyers[0].units if buyers else 0
    s_left = sellers[0].units if sellers else 0
    while units:
        n = min(units, b_left, s_left)
        chunks.append((buyers[b], sellers[s], n))
        units -= n
        b_left -= n
        s_left -= n
        if not b_left and b + 1 < len(buyers):
            b += 1
            b_left = buyers[b].units
        if not s_left and s + 1 < len(sellers):
            s += 1
            s_left = sellers[s].units
    return chunks


def _efficient(buyers: list[_Run], sellers: list[_Run]) -> int:
    """k: the number of positions where the buyer's price >= the seller's."""
    k = b = s = 0
    b_left = buyers[0].units if buyers else 0
    s_left = sellers[0].units if sellers else 0
    while b < len(buyers) and s < len(sellers) and buyers[b].price >= sellers[s].price:
        n = min(b_left, s_left)
        k += n
        b_left -= n
        s_left -= n
        if not b_left:
            b += 1
            b_left = buyers[b].units if b < len(buyers) else 0
        if not s_left:
            s += 1
            s_left = sellers[s].units if s < len(sellers) else 0
    return k


def clear_resource(orders: Iterable[CallOrder], pricing: str, resource: str) -> Clearing:
    """Clear one resource's orders (other resources' orders are ignored)."""
    if pricing not in PRICINGS:
        raise OrderError("pricing", f"unknown pricing {pricing!r}", allowed=", ".join(PRICINGS))
    mine = [o for o in orders if o.resource == resource]
    buyers, sellers = _runs(mine, "buy"), _runs(mine, "sell")
    k = _efficient(buyers, sellers)
    clearing = Clearing()
    if k == 0:
        return clearing
    b_k, s_k = _unit(buyers, k - 1), _unit(sellers, k - 1)
    b_next, s_next = _unit(buyers, k), _unit(sellers, k)
    assert b_k is not None
    assert s_k is not None
    units, buyer_price, seller_price = k, b_k, s_k
    if pricing == "uniform":
        low = s_k if b_next is None else max(s_k, b_next)
        high = b_k if s_next is None else min(b_k, s_next)
        buyer_price = seller_price = round9((low + high) / 2)
    elif pricing == "mcafee":
        p0 = None if b_next is None or s_next is None else round9((b_next + s_next) / 2)
        if p0 is not None and s_k <= p0 <= b_k:
            buyer_price = seller_price = p0
        else:
            units -= 1
    trades = clearing.trades
    terms: list[float] = []  # b_i - s_i over the traded units, chunk by chunk
    for buyer, seller, n in _pairs(buyers, sellers, units):
        if pricing == "pairwise":
            buyer_price = seller_price = round9((buyer.price + seller.price) / 2)
        terms += [buyer.price * n, -seller.price * n]
        clearing.fills.append(
            UnitFill(
                buyer.agent,
                buyer.index,
                seller.agent,
                seller.index,
                resource,
                n,
                buyer_price,
                seller_price,
            )
        )
        last = trades[-1] if trades else None
        if last is not None and (last.buyer, last.seller, last.price, last.seller_price) == (
            buyer.agent,
            seller.agent,
            buyer_price,
            seller_price,
        ):
            trades[-1] = CallTrade(
                last.buyer, last.seller, resource, last.quantity + n, buyer_price, seller_price
            )
        else:
            trades.append(
                CallTrade(buyer.agent, seller.agent, resource, n, buyer_price, seller_price)
            )
    if units:
        if pricing != "pairwise":
            clearing.clearing_price[resource] = buyer_price
        clearing.volume = units
        clearing.gains_from_trade = round9(math.fsum(terms))
        clearing.surplus = round9(units * (buyer_price - seller_price))
    return clearing


def clear_call(orders: Iterable[CallOrder], pricing: str = "uniform") -> Clearing:
    """Clear every resource on its own, in name order; totals summed over resources."""
    orders = list(orders)
    total = Clearing()
    gains: list[float] = []
    surplus: list[float] = []
    for resource in sorted({o.resource for o in orders}):
        part = clear_resource(orders, pricing, resource)
        total.trades += part.trades
        total.fills += part.fills
        total.clearing_price.update(part.clearing_price)
        total.volume += part.volume
        gains.append(part.gains_from_trade)
        surplus.append(part.surplus)
    total.gains_from_trade = round9(math.fsum(gains))
    total.surplus = round9(math.fsum(surplus))
    return total

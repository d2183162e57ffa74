"""Posted prices: the market sells each resource at a fixed price from a limited supply.

``PROTOCOLS.md`` "Markets", posted_price (pure, no actors). Buy orders are served in
arrival order (``at_ms``, then agent order, then order index); a buyer takes
min(quantity, remaining supply) iff its price >= the posted price. Sell orders are
invalid here; a resource missing from ``supply`` has none.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .book import OrderError, check_order
from .call import round9

__all__ = ["PostedOrder", "PostedSale", "PostedTrade", "serve_posted"]


@dataclass(frozen=True, slots=True)
class PostedOrder:
    """A buy order; ``position`` is the agent's place in agent order."""

    agent: str
    position: int
    index: int
    resource: str
    quantity: int
    price: float
    at_ms: float = 0.0
    side: str = "buy"

    def __post_init__(self) -> None:
        if check_order(self.side, self.quantity, self.price) is None:
            raise OrderError("price", "required at posted prices (no market orders)")
        if self.side != "buy":
            raise OrderError("side", "sell orders are invalid with posted_price", allowed="buy")


@dataclass(frozen=True, slots=True)
class PostedTrade:
    """``quantity`` units bought by ``buyer`` from the market at the posted ``price``."""

    buyer: str
    seller: str
    resource: str
    quantity: int
    price: float


@dataclass
class PostedSale:
    """Trades in service order, revenue and unsold units per resource (name order)."""

    trades: list[PostedTrade] = field(default_factory=list)
    revenue: dict[str, float] = field(default_factory=dict)
    unsold: dict[str, int] = field(default_factory=dict)
    volume: int = 0
    served: list[tuple[PostedOrder, PostedTrade]] = field(default_factory=list)
    """Each trade with the order it served, in service order."""


def serve_posted(
    orders: Iterable[PostedOrder], prices: Mapping[str, float], supply: Mapping[str, int]
) -> PostedSale:
    """Serve the buy orders in arrival order against ``prices`` and ``supply``."""
    for resource, units in supply.items():
        if type(units) is not int or units < 0:
            raise OrderError(f"supply.{resource}", f"must be an integer >= 0, got {units!r}")
    for resource, price in prices.items():
        try:
            check_order("buy", 1, price)
        except OrderError as exc:
            raise OrderError(f"prices.{resource}", exc.problem) from None
    left = dict(supply)
    sale = PostedSale()
    income: dict[str, list[float]] = {}
    for order in sorted(orders, key=lambda o: (o.at_ms, o.position, o.index)):
        posted = prices.get(order.resource)
        have = left.get(order.resource, 0)
        if posted is None or not have or round9(order.price) < round9(posted):
            continue
        units = min(order.quantity, have)
        left[order.resource] = have - units
        trade = PostedTrade(order.agent, "market", order.resource, units, float(posted))
        sale.trades.append(trade)
        sale.served.append((order, trade))
        income.setdefault(order.resource, []).append(units * float(posted))
        sale.volume += units
    for resource in sorted({*prices, *supply}):
        sale.revenue[resource] = round9(math.fsum(income.get(resource, [])))
        sale.unsold[resource] = left.get(resource, 0)
    return sale

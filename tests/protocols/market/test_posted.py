"""Posted prices: service in arrival order, supply limits, revenue and unsold units."""

from __future__ import annotations

from typing import Any

import pytest

from mabeam import ConfigError
from mabeam.protocols.market.posted import PostedOrder, PostedTrade, serve_posted


def test_buyers_are_served_in_arrival_order_until_supply_runs_out() -> None:
    """(at_ms, agent order, order index): the late and the cheap go without."""
    orders = [
        PostedOrder("late", 0, 0, "cpu", 3, 9.0, at_ms=5),
        PostedOrder("b", 2, 0, "cpu", 2, 9.0),
        PostedOrder("a", 1, 1, "cpu", 1, 9.0),
        PostedOrder("a", 1, 0, "cpu", 1, 2.0),  # below the posted price
        PostedOrder("a", 1, 2, "ram", 1, 9.0),  # ram has no supply
        PostedOrder("a", 1, 3, "gpu", 1, 9.0),  # gpu has no price
    ]
    sale = serve_posted(orders, {"cpu": 3.0, "ram": 1.0}, {"cpu": 4})
    assert sale.trades == [
        PostedTrade("a", "market", "cpu", 1, 3.0),
        PostedTrade("b", "market", "cpu", 2, 3.0),
        PostedTrade("late", "market", "cpu", 1, 3.0),
    ]
    assert sale.revenue == {"cpu": 12.0, "ram": 0.0}
    assert sale.unsold == {"cpu": 0, "ram": 0}
    assert sale.volume == 4
    assert [order.index for order, _ in sale.served] == [1, 0, 0]


def test_price_equal_to_posted_buys() -> None:
    sale = serve_posted([PostedOrder("a", 0, 0, "cpu", 2, 3.0)], {"cpu": 3.0}, {"cpu": 5})
    assert (sale.volume, sale.unsold, sale.revenue) == (2, {"cpu": 3}, {"cpu": 6.0})


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"side": "sell"}, "side"), ({"quantity": 0}, "quantity"), ({"price": None}, "price")],
)
def test_bad_orders_are_refused(kwargs: dict[str, Any], field: str) -> None:
    good: dict[str, Any] = {"agent": "a", "position": 0, "index": 0, "resource": "cpu"}
    with pytest.raises(ConfigError) as caught:
        PostedOrder(**{**good, "quantity": 1, "price": 1.0, **kwargs})
    assert caught.value.field == field


def test_bad_prices_and_supply_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"prices\.cpu"):
        serve_posted([], {"cpu": -1.0}, {})
    with pytest.raises(ConfigError, match=r"supply\.cpu"):
        serve_posted([], {}, {"cpu": -1})


def test_market_config_refuses_non_numbers() -> None:
    from mabeam.protocols.market import MarketConfig

    for price in (True, "3", 10**400):
        with pytest.raises(ConfigError, match=r"prices\.cpu"):
            MarketConfig("posted_price", prices={"cpu": price})  # type: ignore[dict-item]

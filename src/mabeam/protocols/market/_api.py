"""The library API: create a market among trader actors, submit and cancel orders from
agents, clear it (call markets) or open and close it (continuous), read the book."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from ..._errors import ConfigError
from ...runtime import ActorRef, ActorSystem
from ...runtime._cleanup import finish
from ._config import MarketConfig
from .book import check_order
from .call_exchange import MarketResult
from .exchange import Exchange
from .messages import (
    Activity,
    BookView,
    Cancel,
    CloseMarket,
    ContinuousResult,
    GetActivity,
    GetBook,
    OpenMarket,
    OrderSpec,
    RunMarket,
    Submit,
    Subscribe,
)

__all__ = ["Market", "create_market"]


def _names(traders: Sequence[str | ActorRef]) -> list[str]:
    if isinstance(traders, str | ActorRef):
        raise ConfigError("traders", "must be a sequence of actor names or refs")
    names: dict[str, int] = {}
    for i, trader in enumerate(traders):
        name = trader.name if isinstance(trader, ActorRef) else trader
        if not isinstance(name, str) or not name:
            problem = f"must be an actor name or a ref registered under a name, got {trader!r}"
            raise ConfigError(f"traders[{i}]", problem)
        if name in names:
            raise ConfigError(
                f"traders[{i}]", f"trader {name!r} is listed twice (also traders[{names[name]}])"
            )
        names[name] = i
    return list(names)


class Market:
    """A running market: its :class:`~.actor.Exchange` actor and the traders' names.

    Orders go from the agents' actors to the exchange by message; fills come back to
    them as :class:`~.messages.Fill` messages (and to subscribers as
    :class:`~.messages.TradeEvent`).
    """

    def __init__(
        self, system: ActorSystem, exchange: ActorRef, traders: list[str], config: MarketConfig
    ) -> None:
        self.system = system
        self.exchange = exchange
        self.traders = traders
        self.config = config

    @property
    def name(self) -> str:
        """The exchange's registered name (what traders send their orders to)."""
        assert self.exchange.name is not None
        return self.exchange.name

    async def clear(self) -> MarketResult:
        """Run the call (double auction, posted price, combinatorial) and return its result."""
        if self.config.pricing_mechanism == "continuous_trading":
            raise ConfigError("pricing_mechanism", "continuous trading opens and closes; no call")
        result: MarketResult = await self.exchange.ask(RunMarket(), timeout=None)
        return result

    async def open(self) -> None:
        """Open continuous trading: every trader starts sending its orders at their at_ms."""
        if self.config.pricing_mechanism != "continuous_trading":
            raise ConfigError("pricing_mechanism", "only continuous trading opens; clear() a call")
        await self.exchange.ask(OpenMarket(), timeout=None)

    async def close(self) -> ContinuousResult:
        """Close continuous trading; later orders are rejected. Returns trades, books, vwap."""
        if self.config.pricing_mechanism != "continuous_trading":
            raise ConfigError("pricing_mechanism", "only continuous trading closes; clear() a call")
        result: ContinuousResult = await self.exchange.ask(CloseMarket(), timeout=None)
        return result

    async def submit(
        self,
        agent: str,
        side: str,
        resource: str,
        quantity: int = 1,
        price: float | None = None,
    ) -> int:
        """Make trader ``agent`` send an order now; returns its order id.

        A bad order raises :class:`~.book.OrderError` (a ``ConfigError``) naming the field
        and is never sent; a rejection by the exchange reaches the trader as a message.
        """
        check_order(side, quantity, price)
        if not isinstance(resource, str) or not resource.strip():
            raise ConfigError("resource", f"must be a non-empty name, got {resource!r}")
        order = OrderSpec(side=side, resource=resource, quantity=quantity, price=price)
        order_id: int = await self._trader(agent).ask(Submit(exchange=self.name, order=order))
        return order_id

    async def cancel(self, agent: str, order_id: int) -> None:
        """Make trader ``agent`` cancel its order (the answer reaches it as a message)."""
        await self._trader(agent).ask(Cancel(exchange=self.name, order_id=order_id))

    async def book(self, resource: str) -> BookView:
        """One resource's resting orders, best first."""
        view: BookView = await self.exchange.ask(GetBook(resource=resource))
        return view

    async def activity(self, agent: str) -> Activity:
        """The fills, rejections and cancellations trader ``agent`` has received."""
        activity: Activity = await self._trader(agent).ask(GetActivity())
        return activity

    async def subscribe(self, name: str) -> None:
        """Stream fills: the actor named ``name`` gets a TradeEvent for every trade."""
        await self.exchange.ask(Subscribe(name=name))

    async def stop(self) -> None:
        """Stop the exchange (the traders are the caller's), to the end even if cancelled."""
        exchange = self.exchange
        await finish(exchange.stop() if exchange.is_alive else exchange.join())

    def _trader(self, agent: str) -> ActorRef:
        ref = self.system.whereis(agent)
        if ref is None:
            raise ConfigError("agent", f"no actor named {agent!r} is running")
        return ref


async def create_market(
    system: ActorSystem,
    traders: Sequence[str | ActorRef],
    *,
    pricing_mechanism: str,
    pricing: str = "uniform",
    prices: Mapping[str, float] | None = None,
    supply: Mapping[str, int] | None = None,
    payment_rule: str = "first_price",
    items: Iterable[str] | None = None,
    reply_timeout: float = 1.0,
    time_budget: float | None = 10.0,
    name: str | None = None,
) -> Market:
    """Spawn an exchange among ``traders`` (names of trader actors, in agent order).

    Options as in ``PROTOCOLS.md`` "Markets"; ``items`` limits the combinatorial
    market's bundles; ``reply_timeout`` and ``time_budget`` are seconds. The exchange
    is registered as ``name`` (default the first free of ``market``, ``market-2``, ...).
    Invalid options raise :class:`~mabeam.ConfigError` naming the option.
    """
    config = MarketConfig(
        pricing_mechanism=pricing_mechanism,
        pricing=pricing,
        prices=dict(prices or {}),
        supply=dict(supply or {}),
        payment_rule=payment_rule,
        items=None if items is None else tuple(items),
        reply_timeout=reply_timeout,
        time_budget=time_budget,
    )
    names = _names(traders)
    if name is None:
        name, n = "market", 1
        while system.whereis(name) is not None:
            n += 1
            name = f"market-{n}"
    exchange = await system.spawn(Exchange, names, config, name=name)
    return Market(system, exchange, names, config)

"""The exchange actor's shared part: what a call market and continuous trading both do.

:class:`Exchange` is one market among traders (actor names, in agent order). What both
mechanisms share lives here: the market's id and clock (virtual ms since it opened or
started), the count of orders received and rejected, the subscribers of its
:class:`TradeEvent` stream, the checks every :class:`SubmitOrder` and
:class:`CancelOrder` passes and the :class:`OrderRejected` / :class:`OrderCancelled`
answers. The mechanisms are subclasses in their own modules:
:class:`~.call_exchange.CallExchange` (double auction, posted price, combinatorial)
and :class:`~.continuous_exchange.ContinuousExchange` (a limit order book per
resource). ``Exchange(traders, config)`` makes the one ``config.pricing_mechanism``
names, so code spawning ``Exchange`` keeps working for every mechanism.

Traders and subscribers are told by name (``context.tell``) at every message: a
restarted actor gets it; one that is down does not, and the message is a dead letter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ...runtime import Actor
from ._config import MarketConfig
from .book import OrderError
from .messages import (
    BookView,
    CancelOrder,
    GetBook,
    OrderCancelled,
    OrderRejected,
    SubmitOrder,
    Subscribe,
    TradeEvent,
)

__all__ = ["Exchange"]


class Exchange(Actor):
    """One market among ``traders`` (actor names, in agent order) under ``config``.

    Constructed as ``Exchange(...)`` it is the mechanism's exchange: a
    :class:`~.continuous_exchange.ContinuousExchange` for ``continuous_trading``, else a
    :class:`~.call_exchange.CallExchange`. ``market_id`` names the market in its log
    events (default: its registered name, else ``market-<actor id>``).
    """

    _clock: Callable[[], float]  # the context's clock, set in on_start

    def __new__(
        cls, traders: Sequence[str], config: MarketConfig, market_id: str | None = None
    ) -> Exchange:
        if cls is Exchange:
            # Imported here: the mechanisms' modules import this one.
            from .call_exchange import CallExchange
            from .continuous_exchange import ContinuousExchange

            mechanism = getattr(config, "pricing_mechanism", None)
            cls = ContinuousExchange if mechanism == "continuous_trading" else CallExchange
        return super().__new__(cls)

    def __init__(
        self, traders: Sequence[str], config: MarketConfig, market_id: str | None = None
    ) -> None:
        self.traders = list(traders)
        self.config = config
        self.market_id = market_id or ""
        self.subscribers: list[str] = []
        self._t0 = 0.0
        self._received = 0
        self._rejected = 0

    async def on_start(self) -> None:
        if not self.market_id:
            self.market_id = self.context.name or f"market-{self.context.id}"
        self._clock = self.context.time
        self._t0 = self._clock()

    async def receive(self, message: Any) -> Any:
        """Orders, cancellations, book views and subscriptions (the mechanism adds its own)."""
        if isinstance(message, SubmitOrder):
            self._submit(message)
            return None
        if isinstance(message, CancelOrder):
            self._cancel(message)
            return None
        if isinstance(message, Subscribe):
            if message.name not in self.subscribers:
                self.subscribers.append(message.name)
            return None
        if isinstance(message, GetBook):
            return self._book(message.resource)
        raise TypeError(f"unexpected message {type(message).__name__}")

    # ------------------------------------------------------------------ the mechanism's part

    def _place(self, message: SubmitOrder) -> None:
        """Take an order (agent and order_id checked); OrderError rejects it."""
        raise NotImplementedError

    def _withdraw(self, agent: str, order_id: Any) -> int:
        """Cancel an order; the units cancelled. OrderError rejects the cancellation."""
        raise NotImplementedError

    def _book(self, resource: str) -> BookView:
        """One resource's resting orders, best first."""
        raise NotImplementedError

    # ------------------------------------------------------------------ messages out

    def _now_ms(self) -> float:
        return self._ms(self.context.time())

    def _ms(self, clock: float) -> float:
        """A clock reading as virtual ms since the market opened (or started)."""
        return round((clock - self._t0) * 1000.0, 6)

    def _tell(self, agent: str, message: Any) -> None:
        """Send to the actor registered as ``agent`` (down: a dead letter)."""
        self.context.tell(agent, message)

    def _publish(self, event: TradeEvent) -> None:
        """Tell every subscriber a trade."""
        for name in self.subscribers:
            self._tell(name, event)

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
        try:
            self._place(message)
        except OrderError as error:
            self._reject(agent, order_id, error)

    def _cancel(self, message: CancelOrder) -> None:
        agent, order_id = message.agent, message.order_id
        try:
            units = self._withdraw(agent, order_id)
        except OrderError as error:
            self._reject(agent, order_id, error)
            return
        self._tell(agent, OrderCancelled(order_id=order_id, quantity=units))

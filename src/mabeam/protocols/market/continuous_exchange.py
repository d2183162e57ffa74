"""Continuous trading's exchange: a limit order book per resource, matched on arrival.

On :class:`OpenMarket` it tells every trader :class:`StartTrading`; each trader sends
its orders at their ``at_ms`` (``send_after`` timers), the exchange matches each
:class:`SubmitOrder` as it arrives (:mod:`.book`) and tells fills at once; a bad order
is answered :class:`OrderRejected` and changes nothing. :class:`CloseMarket` ends
trading and answers the :class:`ContinuousResult`. Log events: ``market_opened``,
``market_closed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..._errors import ConfigError
from ._config import MarketConfig
from .book import ContinuousMarket, OrderError, Trade
from .exchange import Exchange
from .messages import (
    BookSide,
    BookTrade,
    BookView,
    CloseMarket,
    ContinuousResult,
    Fill,
    OpenMarket,
    OrderCancelled,
    RunMarket,
    StartTrading,
    SubmitOrder,
    TradeEvent,
)

__all__ = ["ContinuousExchange"]


class ContinuousExchange(Exchange):
    """Continuous trading among ``traders``: open, match every order as it comes, close.

    Orders before the opening or after the close are rejected (field ``market``); it
    has no call: :class:`RunMarket` fails with an :class:`~.book.OrderError` naming
    ``pricing_mechanism``.
    """

    def __init__(
        self, traders: Sequence[str], config: MarketConfig, market_id: str | None = None
    ) -> None:
        if config.pricing_mechanism != "continuous_trading":
            raise ConfigError(
                "pricing_mechanism",
                f"continuous trading does not trade by {config.pricing_mechanism!r}",
                allowed="continuous_trading",
            )
        super().__init__(traders, config, market_id)
        self.market = ContinuousMarket()
        self._open = False
        self._closed = False

    async def receive(self, message: Any) -> Any:
        if (
            type(message) is SubmitOrder
            and self._open
            and type(message.agent) is str
            and type(message.order_id) is int
        ):
            self._trade(message)  # the hot path: an order while trading is open
            return None
        if isinstance(message, OpenMarket):
            return self._open_market()
        if isinstance(message, CloseMarket):
            return self._close_market()
        if isinstance(message, RunMarket):
            raise OrderError(
                "pricing_mechanism", "continuous trading opens and closes; it has no call"
            )
        return await super().receive(message)

    # ------------------------------------------------------------------ orders in

    def _place(self, message: SubmitOrder) -> None:
        if self._open:  # a subclass of SubmitOrder (receive's hot path takes the rest)
            self._trade(message)
            return
        state = "closed" if self._closed else "not open yet"
        raise OrderError("market", f"continuous trading is {state}")

    def _withdraw(self, agent: str, order_id: Any) -> int:
        return self.market.cancel(agent, order_id)

    def _book(self, resource: str) -> BookView:
        book = self.market.books.get(resource)
        bids, asks = (book.bids(), book.asks()) if book is not None else ([], [])
        return BookView(resource=resource, bids=bids, asks=asks)

    def _trade(self, message: SubmitOrder) -> None:
        """Match an order of the open market (agent and order_id checked)."""
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

    def _tell_fills(self, fills: list[Trade]) -> None:
        """Tell both sides of each trade their fill, and every subscriber the trade.

        One clock reading (the first fill's) stamps them all: they come from one order.
        """
        at_ms = self._ms(fills[0][7])
        tell = self.context.tell
        subscribers = self.subscribers
        # the market keys orders (agent, order id): [1] is the agent's own id
        for buyer, seller, resource, quantity, price, buy_key, sell_key, _ in fills:
            buy_id = buy_key[1]  # type: ignore[index]
            tell(buyer, Fill(buy_id, "buy", resource, seller, quantity, price, at_ms))
            sell_id = sell_key[1]  # type: ignore[index]
            tell(seller, Fill(sell_id, "sell", resource, buyer, quantity, price, at_ms))
            for name in subscribers:
                tell(name, TradeEvent(buyer, seller, resource, quantity, price, at_ms))

    # ------------------------------------------------------------------ open, close

    def _open_market(self) -> None:
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

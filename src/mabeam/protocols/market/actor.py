"""The actor shells, one module each, re-exported here.

- :class:`~.exchange.Exchange`: one market among traders; ``Exchange(traders, config)``
  is the mechanism's exchange: :class:`~.call_exchange.CallExchange` (double auction,
  posted price, combinatorial: one call per :class:`RunMarket`) or
  :class:`~.continuous_exchange.ContinuousExchange` (a limit order book per resource,
  open to close);
- :class:`~.trader.TraderAgent`: an agent holding orders, trading by message.

Log events: ``market_opened``, ``market_cleared``, ``market_closed``, ``order_rejected``.
"""

from .call_exchange import CallExchange as CallExchange
from .call_exchange import MarketResult as MarketResult
from .continuous_exchange import ContinuousExchange as ContinuousExchange
from .exchange import Exchange as Exchange
from .trader import TraderAgent as TraderAgent

__all__ = ["CallExchange", "ContinuousExchange", "Exchange", "MarketResult", "TraderAgent"]

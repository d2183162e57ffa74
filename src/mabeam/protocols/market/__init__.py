"""Markets: call-market double auction (uniform, McAfee, pairwise), posted prices, a
combinatorial market and continuous trading on a limit order book per resource.

``market = await create_market(system, traders, pricing_mechanism=...)`` spawns an
:class:`Exchange` actor (a :class:`CallExchange` or a :class:`ContinuousExchange`, by
mechanism) among :class:`TraderAgent` actors (or any actor answering the
:mod:`~mabeam.protocols.market.messages`); ``await market.clear()`` runs a call market,
``await market.open()`` / ``await market.close()`` run continuous trading;
``market.submit`` / ``market.cancel`` / ``market.book`` act from application code. The
rules are pure cores: :mod:`.call`, :mod:`.posted`, :mod:`.book` (``PROTOCOLS.md``
"Markets").
"""

from ._api import Market as Market
from ._api import create_market as create_market
from ._config import MarketConfig as MarketConfig
from .book import ContinuousMarket as ContinuousMarket
from .book import OrderBook as OrderBook
from .book import OrderError as OrderError
from .call import CallOrder as CallOrder
from .call import clear_call as clear_call
from .call_exchange import CallExchange as CallExchange
from .continuous_exchange import ContinuousExchange as ContinuousExchange
from .exchange import Exchange as Exchange
from .messages import Activity as Activity
from .messages import BookView as BookView
from .messages import CallMarketResult as CallMarketResult
from .messages import CombinatorialMarketResult as CombinatorialMarketResult
from .messages import ContinuousResult as ContinuousResult
from .messages import Fill as Fill
from .messages import OrderCancelled as OrderCancelled
from .messages import OrderRejected as OrderRejected
from .messages import OrderSpec as OrderSpec
from .messages import PostedPriceResult as PostedPriceResult
from .messages import TradeEvent as TradeEvent
from .posted import PostedOrder as PostedOrder
from .posted import serve_posted as serve_posted
from .trader import TraderAgent as TraderAgent

__all__ = [
    "Activity",
    "BookView",
    "CallExchange",
    "CallMarketResult",
    "CallOrder",
    "CombinatorialMarketResult",
    "ContinuousExchange",
    "ContinuousMarket",
    "ContinuousResult",
    "Exchange",
    "Fill",
    "Market",
    "MarketConfig",
    "OrderBook",
    "OrderCancelled",
    "OrderError",
    "OrderRejected",
    "OrderSpec",
    "PostedOrder",
    "PostedPriceResult",
    "TradeEvent",
    "TraderAgent",
    "clear_call",
    "create_market",
    "serve_posted",
]

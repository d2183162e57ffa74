"""Auctions: sealed bid (first / second price), english, dutch and combinatorial (VCG).

``await run_auction(system, variable, bidders, auction_type=..., payment_rule=..., **opts)``
runs one auction by messages between an :class:`Auctioneer` actor and the bidder actors
(any actor answering the :mod:`~mabeam.protocols.auction.messages`, e.g. a
:class:`BidderAgent`) and returns an :class:`AuctionResult`. The rules are pure cores:
:mod:`.sealed`, :mod:`.clock`, :mod:`.combinatorial` (``PROTOCOLS.md`` "Auctions").
"""

from ._api import run_auction as run_auction
from ._config import AuctionConfig as AuctionConfig
from .actor import Auctioneer as Auctioneer
from .actor import BidderAgent as BidderAgent
from .messages import Accept as Accept
from .messages import AuctionResult as AuctionResult
from .messages import Bid as Bid
from .messages import BundleBid as BundleBid
from .messages import BundleBids as BundleBids
from .messages import CallForBids as CallForBids
from .messages import CallForBundles as CallForBundles
from .messages import Decline as Decline
from .messages import Drop as Drop
from .messages import PriceAnnouncement as PriceAnnouncement
from .messages import RunAuction as RunAuction
from .messages import Stay as Stay

__all__ = [
    "Accept",
    "AuctionConfig",
    "AuctionResult",
    "Auctioneer",
    "Bid",
    "BidderAgent",
    "BundleBid",
    "BundleBids",
    "CallForBids",
    "CallForBundles",
    "Decline",
    "Drop",
    "PriceAnnouncement",
    "RunAuction",
    "Stay",
    "run_auction",
]

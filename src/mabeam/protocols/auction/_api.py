"""``run_auction``: one auction from async application code, by messages between actors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..._errors import ConfigError
from ...runtime import ActorRef, ActorSystem
from ...runtime._cleanup import finish
from ._config import AuctionConfig, AuctionType, PaymentRule
from .actor import Auctioneer
from .messages import AuctionResult, RunAuction

__all__ = ["run_auction"]


def bidder_names(bidders: Sequence[str | ActorRef]) -> list[str]:
    """The agent ids of ``bidders`` (names, or refs registered under a name), checked."""
    if isinstance(bidders, str | ActorRef) or not isinstance(bidders, Sequence):
        # A set has no order to keep: the list order is the auction's agent order.
        problem = f"must be a sequence (list, tuple) of actor names or refs, got {bidders!r}"
        raise ConfigError("bidders", problem)
    names: dict[str, int] = {}  # name -> position, in order
    for i, bidder in enumerate(bidders):
        name = bidder.name if isinstance(bidder, ActorRef) else bidder
        if not isinstance(name, str) or not name:
            problem = f"must be an actor name or a ref registered under a name, got {bidder!r}"
            raise ConfigError(f"bidders[{i}]", problem)
        if name in names:
            problem = f"bidder {name!r} is listed twice (also bidders[{names[name]}])"
            raise ConfigError(f"bidders[{i}]", problem)
        names[name] = i
    return list(names)


async def run_auction(
    system: ActorSystem,
    variable: str | None,
    bidders: Sequence[str | ActorRef],
    *,
    auction_type: AuctionType = "sealed_bid",
    payment_rule: PaymentRule = "first_price",
    reply_timeout: float = 1.0,
    name: str | None = None,
    **opts: Any,
) -> AuctionResult:
    """Run one auction among ``bidders`` and return its :class:`AuctionResult`.

    ``bidders`` are actor names registered in ``system`` (or refs with a name): the
    names are the agent ids the result reports. An :class:`Auctioneer` is spawned (as
    ``name`` if given), runs the auction by messages, and is stopped. ``opts`` are the
    ``PROTOCOLS.md`` options: ``reserve_price``, ``starting_price``, ``increment``,
    ``decrement``, ``max_rounds``, ``items``, and ``time_budget`` (seconds for the
    combinatorial solver, default 10; None: no limit).

    An outcome without a winner comes back with ``error`` set (``no_bids``,
    ``no_winning_bid``, ``auction_timeout``); invalid arguments raise
    :class:`~mabeam.ConfigError` (a ``ValueError``) naming the argument.
    """
    config = AuctionConfig.from_options(
        {
            "auction_type": auction_type,
            "payment_rule": payment_rule,
            "variable": variable,
            "reply_timeout": reply_timeout,
            **opts,
        }
    )
    names = bidder_names(bidders)
    auctioneer = await system.spawn(Auctioneer, names, config, name=name)
    try:
        result: AuctionResult = await auctioneer.ask(RunAuction(), timeout=None)
    finally:
        # To the end even if the caller is cancelled: no auctioneer outlives the call.
        await finish(auctioneer.stop() if auctioneer.is_alive else auctioneer.join())
    return result

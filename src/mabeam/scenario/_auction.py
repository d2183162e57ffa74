"""The ``auction`` scenario kind: an Auctioneer coordinator and one BidderAgent per agent.

The options' rules are the protocol's: :class:`AuctionOptions` checks itself by building
its :class:`~mabeam.protocols.auction.AuctionConfig`. The protocol is imported when it is
first used, so loading the schema stays light (``mabeam --version`` imports it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from ._kind import Kind, Outcome, RunFailure, shared_fields
from ._spec import AgentSpec, Count, NonEmpty, NonNegative, Positive, _Options

if TYPE_CHECKING:
    from ..protocols.auction import AuctionConfig, AuctionResult, BidderAgent
    from ._load import Rules
    from ._run import ScenarioRun

_MESSAGES = {
    "no_bids": "no valid bid was received",
    "no_winning_bid": "the clock ended without a winning bid",
    "auction_timeout": "two or more bidders were still in after max_rounds prices",
}


class AuctionOptions(_Options, frozen=True, kw_only=True, tag="auction"):
    """``kind = "auction"``: sealed-bid, English, Dutch or combinatorial auction."""

    variable: str | None = None
    auction_type: Literal["sealed_bid", "english", "dutch", "combinatorial"] = "sealed_bid"
    payment_rule: Literal["first_price", "second_price", "vcg"] = "first_price"
    reserve_price: NonNegative = 0.0
    starting_price: NonNegative | None = None  # english: None means 0; dutch: required
    increment: Positive = 0.1  # english
    decrement: Positive = 0.1  # dutch
    max_rounds: Count = 1000  # english, dutch
    items: NonEmpty[str] | None = None  # combinatorial: the item names

    def _check(self) -> None:
        config_of(self)  # the protocol's rules (dutch start, payment rule, items)


def config_of(options: AuctionOptions) -> AuctionConfig:
    """The auction's config from the scenario's ``[protocol]`` table (ConfigError if the
    protocol refuses it)."""
    from ..protocols.auction import AuctionConfig

    fields = shared_fields(options, AuctionConfig)
    fields["items"] = None if options.items is None else tuple(options.items)
    return AuctionConfig(**fields, reply_timeout=options.reply_timeout_ms / 1000.0)


def check(rules: Rules, options: AuctionOptions) -> None:
    """Combinatorial bundles name only the auction's items."""
    if options.auction_type != "combinatorial":
        return
    items = options.items or []
    for i, spec in enumerate(rules.scenario.agents):
        for j, bundle in enumerate(spec.bundles):
            for k, item in enumerate(bundle.items):
                if item not in items:
                    where = f"agents[{i}].bundles[{j}].items[{k}]"
                    rules.fail(where, f"item {item!r} is not in protocol.items", ", ".join(items))


def _agent(agent: AgentSpec) -> tuple[type[BidderAgent], tuple[Any, ...], dict[str, Any]]:
    from ..protocols.auction import BidderAgent, BundleBid

    bundles = [BundleBid(items=list(b.items), bid=float(b.bid)) for b in agent.bundles]
    kwargs = {
        "value": agent.value,
        "bid": agent.bid,
        "valuation": agent.valuation,
        "max_bid": agent.max_bid,
        "bundles": bundles,
    }
    return BidderAgent, (agent.id,), kwargs


async def drive(run: ScenarioRun) -> Outcome:
    """Spawn the bidders and the auctioneer, start the faults, run the auction, report."""
    from ..protocols.auction import Auctioneer, RunAuction

    config = config_of(run.options)
    await run.spawn_agents()
    auctioneer = await run.spawn_coordinator(Auctioneer, run.agent_ids, config)
    await run.start_faults()
    result: AuctionResult = await auctioneer.ask(RunAuction(), timeout=None)
    if result.error is not None:
        message = _MESSAGES.get(result.error, result.error)
        # SCENARIOS.md: ``result`` is null when ok is false (the error code says why).
        return Outcome(ok=False, error=RunFailure(result.error, message))
    return Outcome(ok=True, result=result)


KIND = Kind(options=AuctionOptions, drive=drive, agent=_agent, check=check)
"""``kind = "auction"``."""

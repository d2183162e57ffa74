"""The ``auction`` scenario kind: an Auctioneer coordinator and one BidderAgent per agent."""

from __future__ import annotations

from typing import Any

from ..protocols.auction import (
    AuctionConfig,
    Auctioneer,
    AuctionResult,
    BidderAgent,
    BundleBid,
    RunAuction,
)
from ._run import Outcome, RunError, ScenarioRun, register_protocol
from ._schema import AgentSpec, AuctionOptions

_MESSAGES = {
    "no_bids": "no valid bid was received",
    "no_winning_bid": "the clock ended without a winning bid",
    "auction_timeout": "two or more bidders were still in after max_rounds prices",
}


def _agent(agent: AgentSpec) -> tuple[type[BidderAgent], tuple[Any, ...], dict[str, Any]]:
    bundles = [BundleBid(items=list(b.items), bid=float(b.bid)) for b in agent.bundles]
    kwargs = {
        "value": agent.value,
        "bid": agent.bid,
        "valuation": agent.valuation,
        "max_bid": agent.max_bid,
        "bundles": bundles,
    }
    return BidderAgent, (agent.id,), kwargs


def config_of(options: AuctionOptions) -> AuctionConfig:
    """The auction's options from the scenario's ``[protocol]`` table."""
    return AuctionConfig(
        auction_type=options.auction_type,
        payment_rule=options.payment_rule,
        variable=options.variable,
        reserve_price=options.reserve_price,
        starting_price=options.starting_price,
        increment=options.increment,
        decrement=options.decrement,
        max_rounds=options.max_rounds,
        items=None if options.items is None else tuple(options.items),
        reply_timeout=options.reply_timeout_ms / 1000.0,
    )


async def drive(run: ScenarioRun) -> Outcome:
    """Spawn the bidders and the auctioneer, start the faults, run the auction, report."""
    config = config_of(run.options)
    await run.spawn_agents(_agent)
    auctioneer = await run.spawn_coordinator(Auctioneer, run.agent_ids, config)
    await run.start_faults()
    result: AuctionResult = await auctioneer.ask(RunAuction(), timeout=None)
    if result.error is not None:
        message = _MESSAGES.get(result.error, result.error)
        # SCENARIOS.md: ``result`` is null when ok is false (the error code says why).
        return Outcome(ok=False, error=RunError(result.error, message))
    return Outcome(ok=True, result=result)


def register() -> None:
    """Make ``kind = "auction"`` runnable."""
    register_protocol("auction", drive)

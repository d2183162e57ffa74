"""The ``market`` scenario kind: an Exchange coordinator and one TraderAgent per agent.

Call markets (double auction, posted price, combinatorial) run one call. Continuous
trading opens, lets every agent send its orders at their ``at_ms``, and closes once the
last order has had ``reply_timeout_ms`` (plus the network's largest latency) to arrive.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..protocols.auction import BundleBid
from ..protocols.market import (
    CombinatorialMarketResult,
    Exchange,
    MarketConfig,
    OrderSpec,
    TraderAgent,
)
from ..protocols.market.messages import CloseMarket, OpenMarket, RunMarket
from ._run import Outcome, RunError, ScenarioRun, register_protocol
from ._schema import AgentSpec, MarketOptions, Scenario

_MESSAGES = {"no_bids": "no bundle with a positive bid was received"}


def market_resources(scenario: Scenario) -> list[str] | None:
    """The resources a market names (orders, prices, supply), in name order; None if none.

    A combinatorial market's items are these resources (any bundle item when none).
    """
    options = scenario.protocol
    assert isinstance(options, MarketOptions)
    named = {order.resource for agent in scenario.agents for order in agent.orders}
    named |= {*options.prices, *options.supply}
    return sorted(named) or None


def _agent(agent: AgentSpec) -> tuple[type[TraderAgent], tuple[Any, ...], dict[str, Any]]:
    orders = [
        OrderSpec(
            side=o.side,
            resource=o.resource,
            quantity=o.quantity,
            price=None if o.price is None else float(o.price),
            at_ms=float(o.at_ms),
        )
        for o in agent.orders
    ]
    bundles = [BundleBid(items=list(b.items), bid=float(b.bid)) for b in agent.bundles]
    return TraderAgent, (agent.id, orders, bundles), {}


def config_of(scenario: Scenario) -> MarketConfig:
    """The market's options from the scenario's ``[protocol]`` table."""
    options = scenario.protocol
    assert isinstance(options, MarketOptions)
    items = market_resources(scenario)
    return MarketConfig(
        pricing_mechanism=options.pricing_mechanism,
        pricing=options.pricing,
        prices={r: float(p) for r, p in options.prices.items()},
        supply=dict(options.supply),
        payment_rule=options.payment_rule,
        items=None if items is None else tuple(items),
        reply_timeout=options.reply_timeout_ms / 1000.0,
    )


def _trading_ms(run: ScenarioRun) -> float:
    """How long continuous trading stays open: the last at_ms, the latency, a reply timeout."""
    scenario = run.scenario
    last = max((o.at_ms for a in scenario.agents for o in a.orders), default=0)
    latency = scenario.network.latency_ms
    worst = max(latency) if isinstance(latency, list) else latency
    return float(last) + float(worst) + float(run.options.reply_timeout_ms)


async def drive(run: ScenarioRun) -> Outcome:
    """Spawn the traders and the exchange, start the faults, trade, report."""
    config = config_of(run.scenario)
    await run.spawn_agents(_agent)
    exchange = await run.spawn_coordinator(Exchange, run.agent_ids, config)
    await run.start_faults()
    if config.pricing_mechanism == "continuous_trading":
        await exchange.ask(OpenMarket(), timeout=None)
        await asyncio.sleep(_trading_ms(run) / 1000.0)
        return Outcome(ok=True, result=await exchange.ask(CloseMarket(), timeout=None))
    result = await exchange.ask(RunMarket(), timeout=None)
    if isinstance(result, CombinatorialMarketResult) and result.error is not None:
        message = _MESSAGES.get(result.error, result.error)
        return Outcome(ok=False, result=result, error=RunError(result.error, message))
    return Outcome(ok=True, result=result)


def register() -> None:
    """Make ``kind = "market"`` runnable."""
    register_protocol("market", drive)

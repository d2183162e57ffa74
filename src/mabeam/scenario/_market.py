"""The ``market`` scenario kind: an Exchange coordinator and one TraderAgent per agent.

Call markets (double auction, posted price, combinatorial) run one call. Continuous
trading opens, lets every agent send its orders at their ``at_ms``, and closes once the
last order has had ``reply_timeout_ms`` (plus the network's largest latency) to arrive.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Literal

from ._kind import Kind, Outcome, RunFailure, shared_fields
from ._spec import AgentSpec, Natural, NonNegative, _Options

if TYPE_CHECKING:
    from ..protocols.market import MarketConfig, TraderAgent
    from ._load import Rules
    from ._run import ScenarioRun
    from ._schema import Scenario

_MESSAGES = {"no_bids": "no bundle with a positive bid was received"}


class MarketOptions(_Options, frozen=True, kw_only=True, tag="market"):
    """``kind = "market"``: call market, posted prices, combinatorial auction or order book."""

    pricing_mechanism: Literal[
        "double_auction", "posted_price", "combinatorial_auction", "continuous_trading"
    ]
    pricing: Literal["uniform", "mcafee", "pairwise"] = "uniform"  # double_auction
    prices: dict[str, NonNegative] = {}  # noqa: RUF012  posted_price: resource -> price
    supply: dict[str, Natural] = {}  # noqa: RUF012 posted_price: resource -> units
    payment_rule: Literal["first_price", "vcg"] = "first_price"  # combinatorial_auction


def market_resources(scenario: Scenario) -> list[str] | None:
    """The resources a market names (orders, prices, supply), in name order; None if none.

    A combinatorial market's items are these resources (any bundle item when none).
    """
    options = scenario.protocol
    assert isinstance(options, MarketOptions)
    named = {order.resource for agent in scenario.agents for order in agent.orders}
    named |= {*options.prices, *options.supply}
    return sorted(named) or None


def check(rules: Rules, options: MarketOptions) -> None:
    """Market orders only in the order book; no sell orders at posted prices; a
    combinatorial market's bundles name only its resources (when it names any)."""
    mechanism = options.pricing_mechanism
    agents = rules.scenario.agents
    if mechanism == "combinatorial_auction":
        resources = market_resources(rules.scenario) or []
        for i, spec in enumerate(agents):
            for j, bundle in enumerate(spec.bundles):
                for k, item in enumerate(bundle.items):
                    if resources and item not in resources:
                        problem = f"item {item!r} is not a resource of this market"
                        where = f"agents[{i}].bundles[{j}].items[{k}]"
                        rules.fail(where, problem, ", ".join(resources))
    for i, spec in enumerate(agents):
        for j, order in enumerate(spec.orders):
            if order.price is None and mechanism != "continuous_trading":
                problem = f"required with {mechanism} (market orders need continuous_trading)"
                rules.fail(f"agents[{i}].orders[{j}].price", problem)
            if order.side == "sell" and mechanism == "posted_price":
                problem = "sell orders are invalid with posted_price"
                rules.fail(f"agents[{i}].orders[{j}].side", problem, "buy")


def _agent(agent: AgentSpec) -> tuple[type[TraderAgent], tuple[Any, ...], dict[str, Any]]:
    from ..protocols.auction import BundleBid
    from ..protocols.market import OrderSpec, TraderAgent

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
    from ..protocols.market import MarketConfig

    options = scenario.protocol
    assert isinstance(options, MarketOptions)
    items = market_resources(scenario)
    fields = shared_fields(options, MarketConfig)
    fields["prices"] = {r: float(p) for r, p in options.prices.items()}
    fields["supply"] = dict(options.supply)
    fields["items"] = None if items is None else tuple(items)
    return MarketConfig(**fields, reply_timeout=options.reply_timeout_ms / 1000.0)


def _trading_ms(run: ScenarioRun) -> float:
    """How long continuous trading stays open: the last at_ms, the latency, a reply timeout."""
    scenario = run.scenario
    last = max((o.at_ms for a in scenario.agents for o in a.orders), default=0)
    latency = scenario.network.latency_ms
    worst = max(latency) if isinstance(latency, list) else latency
    return float(last) + float(worst) + float(run.options.reply_timeout_ms)


async def drive(run: ScenarioRun) -> Outcome:
    """Spawn the traders and the exchange, start the faults, trade, report."""
    from ..protocols.market import CombinatorialMarketResult, Exchange
    from ..protocols.market.messages import CloseMarket, OpenMarket, RunMarket

    config = config_of(run.scenario)
    await run.spawn_agents()
    exchange = await run.spawn_coordinator(Exchange, run.agent_ids, config)
    await run.start_faults()
    if config.pricing_mechanism == "continuous_trading":
        await exchange.ask(OpenMarket(), timeout=None)
        await asyncio.sleep(_trading_ms(run) / 1000.0)
        return Outcome(ok=True, result=await exchange.ask(CloseMarket(), timeout=None))
    result = await exchange.ask(RunMarket(), timeout=None)
    if isinstance(result, CombinatorialMarketResult) and result.error is not None:
        message = _MESSAGES.get(result.error, result.error)
        return Outcome(ok=False, result=result, error=RunFailure(result.error, message))
    return Outcome(ok=True, result=result)


KIND = Kind(options=MarketOptions, drive=drive, agent=_agent, check=check)
"""``kind = "market"``."""

"""The actor shells: a coordinator that resolves conflicts, and the agents it negotiates with.

:class:`ConflictCoordinator` answers :class:`ResolveConflicts` with a
:class:`ConflictResult`. It resolves the conflicts one after the other, each with the
strategy and then, if that failed, the fallback; a conflict whose strategies fail
(or raise) becomes a failed resolution and the next conflict is resolved all the same.
Pure strategies run in :mod:`.strategies`; ``negotiated_settlement`` is a real sealed-bid
auction among the conflicting agents' actors (found by name): the coordinator tells
each agent what it asks for (:class:`JoinNegotiation`), then an auctioneer
(:func:`mabeam.protocols.auction.run_auction`) calls for bids, which each
:class:`ConflictAgent` answers with ``base_bid · urgency · importance · resources``.
An agent that is down or silent answers nothing in time and so does not bid.
``leader_decision`` without the ``leader`` option elects one by Raft: a
:class:`~mabeam.protocols.consensus.raft.api.RaftCluster` with a node per conflicting
agent, those that do not answer :class:`JoinElection` in time kept down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ..._errors import ActorError
from ...runtime import Actor
from .._asking import ask_agents
from ..auction import run_auction
from ..auction.messages import Bid, CallForBids, Decline
from ..bargaining import negotiate
from ..bargaining.actor import appraise, take_turn
from ..bargaining.messages import Appraisal, Appraise, TakeTurn, TurnTaken
from ..bargaining.strategies import AspirationStrategy
from ..consensus.raft.api import RaftCluster
from . import strategies
from ._types import Strategy, Value
from .messages import (
    AgentTraits,
    BargainingJoined,
    Conflict,
    ConflictResolved,
    ConflictSettings,
    ElectionJoined,
    JoinBargaining,
    JoinElection,
    JoinNegotiation,
    NegotiationJoined,
    OutcomeOf,
    ResolutionNoted,
    ResolveConflicts,
)
from .resolutions import ConflictResult, Failure, Resolution, StrategyFailure, conflict_result

STRATEGY_CRASHED = "strategy_crashed"
AUCTION_LOST = "auction_lost"
AUCTION_BOUND = 3
"""How many reply timeouts the coordinator waits for an auction's result."""
BARGAINING_STEPS = 100
"""Steps of a negotiated settlement by bargaining (PROTOCOLS.md's default n_steps)."""
BARGAINING_LOST = "bargaining_lost"
ELECTION_BOUND = 3.0
"""Virtual seconds the coordinator waits for a Raft leader at least (ten election
timeouts of 300 ms); more if three reply timeouts are longer."""


class ConflictAgent(Actor):
    """A conflicting agent: joins negotiations, bids in their auctions, bargains with its
    own strategy (``traits.strategy``, ``reserved``, ``exponent``), notes outcomes.

    What it asks for lives only in this incarnation: restarted, it has forgotten and
    declines calls for bids (and stays silent in a bargaining session) until told again.
    ``outcomes`` holds the last resolution it was told of per variable.
    """

    def __init__(self, agent_id: str, traits: AgentTraits | None = None) -> None:
        self.agent_id = agent_id
        self.traits = traits or AgentTraits()
        self._asks: dict[str, tuple[Value, float]] = {}  # variable -> (value, bid amount)
        self._bargains: dict[str, AspirationStrategy] = {}  # session -> its strategy
        self.outcomes: dict[str, Resolution] = {}

    def bid_amount(self, base_bid: float) -> float:
        """base_bid · urgency · importance · resources."""
        t = self.traits
        return base_bid * t.urgency * t.importance * t.resources

    async def receive(self, message: Any) -> Any:
        if isinstance(message, JoinNegotiation):
            amount = self.bid_amount(message.base_bid)
            self._asks[message.variable_id] = (message.value, amount)
            return NegotiationJoined(
                agent=self.agent_id, variable_id=message.variable_id, amount=amount
            )
        if isinstance(message, CallForBids):
            entry = self._asks.get(message.variable) if message.variable is not None else None
            if entry is None:
                return Decline()
            value, amount = entry
            return Bid(amount=amount, value=value)
        if isinstance(message, JoinBargaining):
            t = self.traits
            self._bargains[message.session] = AspirationStrategy(
                message.utility,
                message.outcomes,
                strategy=t.strategy,
                reserved=t.reserved,
                exponent=t.exponent,
            )
            return BargainingJoined(agent=self.agent_id, session=message.session)
        if isinstance(message, TakeTurn):
            strategy = self._bargains.get(message.session)
            if strategy is None:
                return TurnTaken(step=message.step)  # not told: silent
            return await take_turn(strategy, message)
        if isinstance(message, Appraise):
            strategy = self._bargains.get(message.session)
            if strategy is None:
                return Appraisal(utilities=None)
            return appraise(strategy, message)
        if isinstance(message, ConflictResolved):
            variable_id = message.resolution.variable_id
            self.outcomes[variable_id] = message.resolution
            return ResolutionNoted(agent=self.agent_id, variable_id=variable_id)
        if isinstance(message, OutcomeOf):
            return self.outcomes.get(message.variable_id)
        if isinstance(message, JoinElection):
            return ElectionJoined(agent=self.agent_id, variable_id=message.variable_id)
        raise TypeError(f"unexpected message {type(message).__name__}")


class ConflictCoordinator(Actor):
    """Resolves a batch of conflicts, one after the other (see the module docstring).

    ``auction_node(name)`` is called with the name of each actor the coordinator starts
    to negotiate through (auctioneers, Raft nodes and client) before it starts: a
    scenario makes it a node of the simulated network, exempt from partitions. With
    it, auctioneers are named ``"{own name}.auction-{n}"``, without it they are
    anonymous. ``seed`` drives the Raft elections' random timeouts. ``leader_view(f)``
    is called when an election starts with ``f()`` = the agent whose Raft node leads now
    (or None), and with ``lambda: None`` when it ends: a scenario's ``"@leader"``.
    """

    def __init__(
        self,
        *,
        auction_node: Callable[[str], None] | None = None,
        seed: int | str = 0,
        leader_view: Callable[[Callable[[], str | None]], None] | None = None,
    ) -> None:
        self.auction_node = auction_node
        self.seed = seed
        self.leader_view = leader_view
        self._auctions = 0
        self._elections = 0

    async def receive(self, message: Any) -> Any:
        if isinstance(message, ResolveConflicts):
            return await self.resolve_all(message)
        raise TypeError(f"unexpected message {type(message).__name__}")

    async def resolve_all(self, request: ResolveConflicts) -> ConflictResult:
        """Resolve every conflict, in order: one failing never stops the others."""
        resolutions = []
        for conflict in request.conflicts:
            resolution = await self._resolve(conflict, request)
            if request.settings.notify_agents:
                await self._notify(resolution, request.settings.reply_timeout)
            resolutions.append(resolution)
        return conflict_result(resolutions)

    async def _resolve(self, conflict: Conflict, request: ResolveConflicts) -> Resolution:
        log = self.context.log.bind(variable_id=conflict.variable_id)
        failures: list[StrategyFailure] = []
        for strategy in strategies.plan(request.settings):
            try:
                outcome = await self._apply(strategy, conflict, request)
            except Exception as exc:  # a broken strategy is this conflict's failure only
                log.error("conflict_strategy_crashed", strategy=strategy, exc_info=exc)
                outcome = Failure(STRATEGY_CRASHED, f"{strategy} raised {exc!r}")
            if isinstance(outcome, Failure):
                log.info(
                    "conflict_strategy_failed",
                    strategy=strategy,
                    error=outcome.code,
                    reason=outcome.message,
                )
                failures.append(
                    StrategyFailure(strategy=strategy, error=outcome.code, message=outcome.message)
                )
                continue
            resolution = strategies.finish(conflict, outcome, failures)
            log.info(
                "conflict_resolved",
                strategy=strategy,
                resolution_type=type(resolution).__struct_config__.tag,
            )
            return resolution
        resolution = strategies.finish(conflict, None, failures)
        log.warning("conflict_unresolved", error=failures[-1].error)
        return resolution

    async def _apply(
        self, strategy: Strategy, conflict: Conflict, request: ResolveConflicts
    ) -> Resolution | Failure:
        settings = request.settings
        if strategy == "negotiated_settlement":
            if settings.negotiation_type == "bargaining":
                return await self._bargain(conflict, settings)
            return await self._auction(conflict, settings)
        if strategy == "leader_decision":
            if settings.leader is not None:
                return strategies.leader_decision(conflict, settings.leader)
            leader = await self._elect(conflict, settings)
            if isinstance(leader, Failure):
                return leader
            return strategies.leader_decision(conflict, leader)
        return strategies.resolve(strategy, conflict, request.agents, settings)

    async def _auction(
        self, conflict: Conflict, settings: ConflictSettings
    ) -> Resolution | Failure:
        """Tell each agent its value, then a sealed-bid auction among all of them."""
        agents = conflict.conflicting_agents
        joined = await asyncio.gather(
            *(
                self._join(agent, value, conflict.variable_id, settings)
                for agent, value in zip(agents, conflict.requested_values, strict=True)
            )
        )
        missing = [agent for agent, ok in zip(agents, joined, strict=True) if not ok]
        if missing:
            self.context.log.info(
                "negotiation_agents_missing", variable_id=conflict.variable_id, agents=missing
            )
        self._auctions += 1
        name = None
        if self.auction_node is not None:
            name = f"{self.context.name or 'conflicts'}.auction-{self._auctions}"
            self.auction_node(name)
        # The coordinator and its auctioneer talk over the network too, and a lost
        # RunAuction or AuctionResult must not hang the run: the sealed-bid round takes
        # one reply_timeout, each hop less than one.
        bound = AUCTION_BOUND * settings.reply_timeout
        try:
            async with asyncio.timeout(bound):
                result = await run_auction(
                    self.context.system,
                    conflict.variable_id,
                    list(agents),
                    auction_type="sealed_bid",
                    payment_rule=settings.payment_rule,
                    reply_timeout=settings.reply_timeout,
                    name=name,
                )
        except TimeoutError:
            return Failure(AUCTION_LOST, f"no auction result within {bound:g}s")
        return strategies.settle(
            conflict,
            winner=result.winner,
            winning_value=result.winning_value,
            payment=result.payment,
            efficiency=result.efficiency,
            bids_received=result.bids_received,
            payment_rule=result.payment_rule,
            error=result.error,
        )

    async def _bargain(
        self, conflict: Conflict, settings: ConflictSettings
    ) -> Resolution | Failure:
        """Tell each agent its utility and the outcomes, then a bargaining session among
        them run by a mediator (PROTOCOLS.md, end of "Bargaining")."""
        utilities = strategies.bargaining_utilities(conflict)
        if isinstance(utilities, Failure):
            return utilities
        requests = [u.ideal for u in utilities.values()]
        outcomes = strategies.bargaining_outcomes(requests, settings.bargaining_outcomes)
        self._auctions += 1
        owner = self.context.name or f"conflicts#{self.context.self.id}"
        session = f"{owner}.bargaining-{self._auctions}"
        agents = conflict.conflicting_agents
        joined = await asyncio.gather(
            *(
                self._ask(
                    agent,
                    JoinBargaining(
                        variable_id=conflict.variable_id,
                        session=session,
                        utility=utilities[agent],
                        outcomes=outcomes,
                    ),
                    settings.reply_timeout,
                )
                for agent in agents
            )
        )
        missing = [
            a for a, r in zip(agents, joined, strict=True) if not isinstance(r, BargainingJoined)
        ]
        if missing:
            self.context.log.info(
                "negotiation_agents_missing", variable_id=conflict.variable_id, agents=missing
            )
        name = None
        if self.auction_node is not None:
            name = session
            self.auction_node(name)
        # Every turn takes one reply timeout at most; the hops to the mediator and back
        # less than one each.
        bound = (BARGAINING_STEPS * len(agents) + AUCTION_BOUND) * settings.reply_timeout
        try:
            async with asyncio.timeout(bound):
                result = await negotiate(
                    self.context.system,
                    list(agents),
                    outcomes=outcomes,
                    n_steps=BARGAINING_STEPS,
                    reply_timeout=settings.reply_timeout,
                    name=name,
                    session=session,
                )
        except TimeoutError:
            return Failure(BARGAINING_LOST, f"no bargaining result within {bound:g}s")
        return strategies.settle_bargain(conflict, result)

    async def _elect(self, conflict: Conflict, settings: ConflictSettings) -> str | Failure:
        """A leader elected by Raft among the conflicting agents (PROTOCOLS.md).

        Each agent is asked to take part (:class:`JoinElection`); a Raft node is started
        for every conflicting agent and the nodes of those that did not answer are
        crashed at once, so they count in the majority but never vote. The leader
        reported is asked again: if its agent went down meanwhile, its node is crashed
        too and the election goes on. No leader within the bound, or half the agents or
        more out (no majority can vote): ``no_leader``.
        """
        agents = conflict.conflicting_agents
        message = JoinElection(variable_id=conflict.variable_id)
        answers = await ask_agents(self.context, agents, message, settings.reply_timeout)
        self._elections += 1
        owner = self.context.name or f"conflicts#{self.context.self.id}"  # names are unique
        prefix = f"{owner}.raft-{self._elections}"
        nodes = {f"{prefix}.{agent}": agent for agent in agents}
        network = None if self.auction_node is None else _Nodes(self.auction_node)
        cluster = RaftCluster(
            self.context.system,
            list(nodes),
            seed=f"{self.seed}:{prefix}",
            client_name=f"{prefix}.client",
            network=network,
        )
        bound = max(ELECTION_BOUND, AUCTION_BOUND * settings.reply_timeout)
        deadline = self.context.time() + bound
        absent = [
            a for a, r in zip(agents, answers, strict=True) if not isinstance(r, ElectionJoined)
        ]
        async with cluster:
            self._show_leader(lambda: nodes.get(cluster.leader() or ""))
            try:
                for node, agent in nodes.items():
                    if agent in absent:
                        await cluster.crash(node)
                while True:
                    out = f" ({', '.join(absent)} did not take part)" if absent else ""
                    if 2 * len(absent) >= len(agents):
                        problem = f"no majority of the conflicting agents took part{out}"
                        return Failure(strategies.NO_LEADER, problem)
                    try:
                        remaining = max(deadline - self.context.time(), 0.0)
                        node = await cluster.wait_for_leader(timeout=remaining)
                    except TimeoutError:
                        problem = f"no Raft leader within {bound:g}s{out}"
                        return Failure(strategies.NO_LEADER, problem)
                    # An agent that went down during the election drops out, leader or not.
                    leader = nodes[node]
                    answer = await self._ask(leader, message, settings.reply_timeout)
                    if isinstance(answer, ElectionJoined):
                        break
                    absent.append(leader)
                    await cluster.crash(node)
            finally:
                self._show_leader(lambda: None)
        self.context.log.info(
            "conflict_leader_elected", variable_id=conflict.variable_id, leader=leader
        )
        return leader

    def _show_leader(self, leader: Callable[[], str | None]) -> None:
        if self.leader_view is not None:
            self.leader_view(leader)

    async def _notify(self, resolution: Resolution, timeout: float) -> None:
        """Tell every affected agent the outcome; one that is down or silent is skipped."""
        message = ConflictResolved(resolution=resolution)
        noted = await ask_agents(self.context, resolution.affected_agents, message, timeout)
        missed = [
            agent
            for agent, reply in zip(resolution.affected_agents, noted, strict=True)
            if not isinstance(reply, ResolutionNoted)
        ]
        if missed:
            self.context.log.info(
                "conflict_outcome_unheard", variable_id=resolution.variable_id, agents=missed
            )

    async def _ask(self, agent: str, message: Any, timeout: float) -> Any:
        """Ask the actor registered as ``agent``; None if it is down, silent or crashed."""
        # An ask needs the actor running now: nobody under the name is no answer at
        # once, as a crash or a late answer is (what the protocol counts as absent).
        ref = self.context.whereis(agent)
        if ref is None:
            return None
        try:
            return await ref.ask(message, timeout=timeout)
        except (ActorError, TimeoutError):
            return None

    async def _join(
        self, agent: str, value: Value, variable_id: str, settings: ConflictSettings
    ) -> bool:
        """Tell ``agent`` what it asks for; False if it is down or does not answer in time."""
        message = JoinNegotiation(variable_id=variable_id, value=value, base_bid=settings.base_bid)
        reply = await self._ask(agent, message, settings.reply_timeout)
        return isinstance(reply, NegotiationJoined)


class _Nodes:
    """What :class:`RaftCluster` asks of a network: ``add_node``, here the coordinator's hook
    (every node exempt from partitions, which name agents, not their Raft nodes)."""

    def __init__(self, hook: Callable[[str], None]) -> None:
        self.hook = hook

    def add_node(self, name: str, *, exempt: bool = False) -> None:
        self.hook(name)

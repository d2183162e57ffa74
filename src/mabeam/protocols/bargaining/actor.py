"""The actor shells: a :class:`Mediator` that relays and keeps the clock, and a
:class:`NegotiatorAgent` that decides from its own strategy.

The mediator feeds a :class:`~.session.Session` from the mailbox: for each turn it asks
the agent whose turn it is (found by name, as a restarted actor has a new ref) with
:class:`TakeTurn`, bounded by ``reply_timeout``. An agent that is not running, crashes
on the request, or answers late or with something else is silent that turn: it neither
accepts nor offers. So a negotiation always ends, at the latest after ``n_steps`` steps;
a slow agent costs time, not correctness. After an agreement it asks every agent for
its utilities (:class:`Appraise`) and reports the analysis of :mod:`.analysis`.

Log events: ``bargaining_started``, ``bargaining_turn`` (debug: step, agent, move,
value), ``bargaining_agreed``, ``bargaining_failed``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from ..._errors import ActorError
from ...runtime import Actor
from .._asking import ask_agents
from .analysis import analyse
from .messages import (
    Appraisal,
    Appraise,
    BargainingResult,
    RunBargaining,
    TakeTurn,
    TurnTaken,
)
from .session import Session
from .strategies import Number, Strategy, outcomes_of

__all__ = ["Mediator", "NegotiatorAgent", "appraise", "take_turn"]

NO_AGREEMENT = "no_agreement"
_T = TypeVar("_T")


async def _settle(value: _T | Awaitable[_T]) -> _T:
    if inspect.isawaitable(value):
        return await value
    return value


async def take_turn(strategy: Strategy, message: TakeTurn) -> TurnTaken:
    """The move ``strategy`` makes: answer the offer if there is one; offer if it rejects
    or has nothing to answer (an agent that accepts makes no offer)."""
    offer = message.offer
    if offer is not None and await _settle(strategy.respond(offer, message.t)):
        return TurnTaken(step=message.step, accept=True)
    return TurnTaken(step=message.step, offer=await _settle(strategy.propose(message.t)))


def appraise(
    strategy: Strategy,
    message: Appraise,
    utility: Callable[[Number], float] | None = None,
    reserved: float | None = None,
) -> Appraisal:
    """The utilities over the outcomes: from ``utility``, else the strategy's ``utility``
    (None without either); ``reserved``, else the strategy's (0)."""
    function = utility if utility is not None else getattr(strategy, "utility", None)
    floor = reserved if reserved is not None else getattr(strategy, "reserved", 0.0)
    if not callable(function):
        return Appraisal(utilities=None, reserved=float(floor))
    return Appraisal(
        utilities=[float(function(v)) for v in message.outcomes], reserved=float(floor)
    )


class NegotiatorAgent(Actor):
    """A negotiator: answers every :class:`TakeTurn` from its own ``strategy`` (any object
    with ``respond(offer, t)`` and ``propose(t)``, sync or async).

    ``utility`` and ``reserved`` are what it reports for the analysis; by default the
    strategy's own (an :class:`~.strategies.AspirationStrategy` has both).
    """

    def __init__(
        self,
        strategy: Strategy,
        *,
        utility: Callable[[Number], float] | None = None,
        reserved: float | None = None,
    ) -> None:
        self.strategy = strategy
        self.utility = utility
        self.reserved = reserved

    async def receive(self, message: Any) -> Any:
        if isinstance(message, TakeTurn):
            return await take_turn(self.strategy, message)
        if isinstance(message, Appraise):
            return appraise(self.strategy, message, self.utility, self.reserved)
        raise TypeError(f"unexpected message {type(message).__name__}")


class Mediator(Actor):
    """Runs one alternating-offers session among ``agents`` (actor names, in turn order)
    over ``outcomes`` (sorted, repeats dropped) when asked :class:`RunBargaining`.

    ``session`` names it in every request; by default the mediator's registered name,
    else ``bargaining-<actor id>``. The answer is a :class:`BargainingResult`; no
    agreement is a result with ``error = "no_agreement"``, never an exception.
    """

    def __init__(
        self,
        agents: Sequence[str],
        outcomes: Sequence[Number],
        *,
        n_steps: int = 100,
        reply_timeout: float = 1.0,
        session: str | None = None,
    ) -> None:
        self.agents = list(agents)
        self.outcomes = outcomes_of(outcomes)
        self.n_steps = n_steps
        self.reply_timeout = reply_timeout
        self.session = session or ""
        Session(self.agents, self.outcomes, n_steps)  # refuse bad arguments at once

    async def on_start(self) -> None:
        if not self.session:
            self.session = self.context.name or f"bargaining-{self.context.id}"

    async def receive(self, message: Any) -> Any:
        if isinstance(message, RunBargaining):
            return await self.run()
        raise TypeError(f"unexpected message {type(message).__name__}")

    async def _ask(self, agent: str, message: Any) -> Any:
        """The agent's answer, or None: not running, crashed on it, or too late."""
        # An ask needs the actor running now: nobody under the name is no answer at
        # once, as a crash or a late answer is (what the protocol counts as absent).
        ref = self.context.whereis(agent)
        if ref is None:
            return None
        try:
            return await ref.ask(message, timeout=self.reply_timeout)
        except (ActorError, TimeoutError):
            return None

    async def run(self) -> BargainingResult:
        """Play the session turn by turn, then analyse the agreement."""
        log = self.context.log.bind(session=self.session)
        log.info(
            "bargaining_started",
            agents=len(self.agents),
            outcomes=len(self.outcomes),
            n_steps=self.n_steps,
        )
        session = Session(self.agents, self.outcomes, self.n_steps)
        while not session.done:
            turn = session.turn()
            request = TakeTurn(
                session=self.session,
                step=turn.step,
                t=turn.t,
                offer=turn.offer,
                proposer=turn.proposer,
            )
            reply = await self._ask(turn.agent, request)
            if isinstance(reply, TurnTaken) and reply.step == turn.step:
                move = session.play(accept=reply.accept is True, offer=reply.offer)
            else:
                move = session.play()
            value = session.standing
            log.debug("bargaining_turn", step=turn.step, agent=turn.agent, move=move, value=value)
        outcome = session.outcome()
        if outcome.agreed_value is None:
            log.info("bargaining_failed", error=NO_AGREEMENT, offers=outcome.offers)
            return BargainingResult(
                agreement=False, offers=outcome.offers, steps=outcome.steps, error=NO_AGREEMENT
            )
        question = Appraise(session=self.session, outcomes=self.outcomes)
        appraisals = await ask_agents(self.context, self.agents, question, self.reply_timeout)
        utilities: dict[str, list[float] | None] = {}
        reserved: dict[str, float] = {}
        for agent, appraisal in zip(self.agents, appraisals, strict=True):
            utilities[agent], reserved[agent] = None, 0.0
            told = appraisal.utilities if isinstance(appraisal, Appraisal) else None
            if told is not None and len(told) == len(self.outcomes):
                utilities[agent], reserved[agent] = told, float(appraisal.reserved)
        analysis = analyse(
            self.outcomes, utilities, reserved, outcome.agreed_value, outcome.first_offers
        )
        log.info(
            "bargaining_agreed",
            value=outcome.agreed_value,
            step=outcome.step,
            offers=outcome.offers,
            nash_value=analysis.nash_value,
        )
        return BargainingResult(
            agreement=True,
            agreed_value=outcome.agreed_value,
            step=outcome.step,
            offers=outcome.offers,
            steps=outcome.steps,
            satisfaction_scores=analysis.satisfaction_scores,
            concessions=analysis.concessions,
            nash_value=analysis.nash_value,
            pareto_optimal=analysis.pareto_optimal,
            pareto_frontier=analysis.pareto_frontier,
        )

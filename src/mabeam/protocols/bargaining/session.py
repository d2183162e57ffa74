"""The alternating-offers rules as a pure state machine (PROTOCOLS.md "Bargaining").

A :class:`Session` says whose turn it is (:meth:`Session.turn`: the agent, the step,
the relative time ``t = (s + 1) / (n_steps + 1)`` and the standing offer of another
agent it must answer, if any) and takes that agent's move (:meth:`Session.play`):

- an acceptance of the standing offer: when every agent other than the proposer has
  accepted it, it is the agreement;
- otherwise an offer (one of the outcomes), which becomes the standing offer with no
  acceptances yet;
- or nothing (silent, crashed, late, or an offer that is not an outcome): the turn
  passes, the standing offer and its acceptances stay. A silent agent never accepts.

An agent that accepts makes no offer in that turn. After ``n_steps`` steps of every
agent's turn in agent order, the session ends without agreement. No I/O, no clock:
the mediator actor feeds it; :func:`run_session` drives it with plain strategies.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from ..._errors import ConfigError, InvalidStateError
from .strategies import Number, Strategy

_T = TypeVar("_T")
Move = Literal["accepted", "agreed", "offered", "silent"]
"""What a turn did, as :meth:`Session.play` reports it."""


@dataclass(frozen=True, slots=True)
class Turn:
    """It is ``agent``'s turn in ``step`` at relative time ``t``; ``offer`` (made by
    ``proposer``) is the standing offer it must answer, None when there is none of
    another agent's."""

    agent: str
    step: int
    t: float
    offer: Number | None
    proposer: str | None


@dataclass(frozen=True, slots=True)
class SessionOutcome:
    """How a session ended: the agreement (value and step) or none, and what was offered.

    ``first_offers`` maps each agent that offered to its first offer, in agent order.
    """

    agreed_value: Number | None
    step: int | None
    offers: int
    steps: int
    first_offers: dict[str, Number]

    @property
    def agreement(self) -> bool:
        return self.step is not None


def relative_time(step: int, n_steps: int) -> float:
    """t = (s + 1) / (n_steps + 1): in (0, 1), never reaching 1."""
    return (step + 1) / (n_steps + 1)


class Session:
    """One alternating-offers negotiation among ``agents`` (in turn order) over ``outcomes``."""

    def __init__(self, agents: Sequence[str], outcomes: Sequence[Number], n_steps: int) -> None:
        if not agents:
            raise ConfigError("agents", "must not be empty")
        if len(set(agents)) != len(agents):
            raise ConfigError("agents", "an agent is listed twice")
        if not outcomes:
            raise ConfigError("outcomes", "must not be empty")
        if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
            raise ConfigError("n_steps", f"must be an integer >= 1, got {n_steps!r}")
        self.agents = list(agents)
        self.outcomes = frozenset(outcomes)
        self.n_steps = n_steps
        self.step = 0
        self._index = 0  # whose turn in the step
        self.offers = 0
        self.standing: Number | None = None
        self.proposer: str | None = None
        self.accepted: set[str] = set()
        self.first_offers: dict[str, Number] = {}
        self.agreed_value: Number | None = None
        self.agreed_step: int | None = None

    @property
    def done(self) -> bool:
        """Agreed, or every step is over."""
        return self.agreed_step is not None or self.step >= self.n_steps

    def turn(self) -> Turn:
        """The turn to play now (only while not :attr:`done`)."""
        if self.done:
            raise InvalidStateError("the session is over")
        agent = self.agents[self._index]
        answer = self.standing is not None and self.proposer != agent
        return Turn(
            agent=agent,
            step=self.step,
            t=relative_time(self.step, self.n_steps),
            offer=self.standing if answer else None,
            proposer=self.proposer if answer else None,
        )

    def play(self, *, accept: bool = False, offer: Number | None = None) -> Move:
        """The current agent's move: ``accept`` the offer it answers, else ``offer`` one.

        An acceptance with nothing to answer, and an offer that is not an outcome, count
        as silence.
        """
        turn = self.turn()
        move: Move = "silent"
        if accept and turn.offer is not None:
            self.accepted.add(turn.agent)
            move = "accepted"
        elif offer is not None and self._is_outcome(offer):
            self.standing, self.proposer, self.accepted = offer, turn.agent, set()
            self.offers += 1
            self.first_offers.setdefault(turn.agent, offer)
            move = "offered"
        if move != "silent" and self._agreed():
            self.agreed_value, self.agreed_step = self.standing, turn.step
            return "agreed"
        self._index += 1
        if self._index == len(self.agents):
            self._index = 0
            self.step += 1
        return move

    def _is_outcome(self, offer: object) -> bool:
        try:
            return not isinstance(offer, bool) and offer in self.outcomes
        except TypeError:  # unhashable
            return False

    def _agreed(self) -> bool:
        """Every agent other than the proposer accepted the standing offer."""
        return len(self.accepted) == len(self.agents) - 1

    def outcome(self) -> SessionOutcome:
        """The session's outcome so far (final once :attr:`done`)."""
        first = {a: self.first_offers[a] for a in self.agents if a in self.first_offers}
        return SessionOutcome(
            agreed_value=self.agreed_value,
            step=self.agreed_step,
            offers=self.offers,
            steps=min(self.step + (self.agreed_step is not None), self.n_steps),
            first_offers=first,
        )


def run_session(
    strategies: Mapping[str, Strategy], outcomes: Sequence[Number], n_steps: int
) -> SessionOutcome:
    """Play a whole session with synchronous strategies (agents in the mapping's order)."""
    session = Session(list(strategies), outcomes, n_steps)
    while not session.done:
        turn = session.turn()
        strategy = strategies[turn.agent]
        if turn.offer is not None and _sync(strategy.respond(turn.offer, turn.t)):
            session.play(accept=True)
        else:
            session.play(offer=_sync(strategy.propose(turn.t)))
    return session.outcome()


def _sync(value: _T | Awaitable[_T]) -> _T:
    if inspect.isawaitable(value):
        if inspect.iscoroutine(value):
            value.close()  # never to be awaited: no "never awaited" warning
        raise TypeError("run_session needs synchronous strategies (use the actors for async)")
    return value

"""``negotiate``: one bargaining session from async application code, by messages."""

from __future__ import annotations

from collections.abc import Sequence

from ..._errors import ConfigError
from ...runtime import ActorRef, ActorSystem
from ...runtime._cleanup import finish
from .actor import Mediator
from .messages import BargainingResult, RunBargaining
from .strategies import Number, outcomes_of

__all__ = ["negotiate"]


def agent_names(agents: Sequence[str | ActorRef]) -> list[str]:
    """The agent ids of ``agents`` (names, or refs registered under a name), checked."""
    if isinstance(agents, str | ActorRef):
        raise ConfigError("agents", "must be a sequence of actor names or refs")
    names: list[str] = []
    for i, agent in enumerate(agents):
        name = agent.name if isinstance(agent, ActorRef) else agent
        if not isinstance(name, str) or not name:
            problem = f"must be an actor name or a ref registered under a name, got {agent!r}"
            raise ConfigError(f"agents[{i}]", problem)
        if name in names:
            raise ConfigError(f"agents[{i}]", f"agent {name!r} is listed twice")
        names.append(name)
    if not names:
        raise ConfigError("agents", "must not be empty")
    return names


async def negotiate(
    system: ActorSystem,
    agents: Sequence[str | ActorRef],
    *,
    outcomes: Sequence[Number] | None = None,
    outcome_range: tuple[Number, Number] | None = None,
    outcome_step: Number = 1,
    n_steps: int = 100,
    reply_timeout: float = 1.0,
    name: str | None = None,
    session: str | None = None,
) -> BargainingResult:
    """Run one alternating-offers negotiation among ``agents`` and return its result.

    ``agents`` are actor names registered in ``system`` (or refs with a name), in turn
    order, each answering :class:`~.messages.TakeTurn` (e.g. a
    :class:`~.actor.NegotiatorAgent`). The issue's outcomes are ``outcomes``, or
    ``outcome_range = (lo, hi)`` with ``outcome_step``. A :class:`~.actor.Mediator` is
    spawned (as ``name`` if given), runs ``n_steps`` steps at most, each agent having
    ``reply_timeout`` seconds per turn, and is stopped.

    No agreement comes back as a result with ``error = "no_agreement"``; invalid
    arguments raise :class:`~mabeam.ConfigError` (a ``ValueError``) naming the argument.
    """
    values = outcomes_of(outcomes, outcome_range, outcome_step)
    names = agent_names(agents)
    if isinstance(reply_timeout, bool) or not isinstance(reply_timeout, (int, float)):
        raise ConfigError("reply_timeout", f"must be a number > 0, got {reply_timeout!r}")
    if not reply_timeout > 0:
        raise ConfigError("reply_timeout", f"must be a number > 0, got {reply_timeout!r}")
    mediator = await system.spawn(
        Mediator,
        names,
        values,
        n_steps=n_steps,
        reply_timeout=float(reply_timeout),
        session=session,
        name=name,
    )
    try:
        result: BargainingResult = await mediator.ask(RunBargaining(), timeout=None)
    finally:
        # To the end even if the caller is cancelled: no mediator outlives the call.
        await finish(mediator.stop() if mediator.is_alive else mediator.join())
    return result

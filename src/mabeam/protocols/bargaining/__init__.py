"""Bargaining: alternating offers among any number of agents over one numeric issue.

``await negotiate(system, agents, outcomes=..., n_steps=..., reply_timeout=...)`` runs
one session by messages between a :class:`Mediator` actor (relays, keeps the clock) and
the agents' actors (e.g. :class:`NegotiatorAgent`, deciding from its own
:class:`Strategy`) and returns a :class:`BargainingResult` with its analysis. The rules
are pure cores: :mod:`.strategies` (aspiration curves), :mod:`.session` (turns,
acceptance, deadline), :mod:`.analysis` (satisfaction, concessions, Nash point, Pareto
frontier), :mod:`.discounted` (the Rubinstein check). ``PROTOCOLS.md`` "Bargaining".
"""

from ._api import negotiate as negotiate
from .actor import Mediator as Mediator
from .actor import NegotiatorAgent as NegotiatorAgent
from .analysis import Analysis as Analysis
from .messages import Appraisal as Appraisal
from .messages import Appraise as Appraise
from .messages import BargainingResult as BargainingResult
from .messages import RunBargaining as RunBargaining
from .messages import TakeTurn as TakeTurn
from .messages import TurnTaken as TurnTaken
from .session import Session as Session
from .session import SessionOutcome as SessionOutcome
from .session import Turn as Turn
from .session import run_session as run_session
from .strategies import EXPONENTS as EXPONENTS
from .strategies import AspirationStrategy as AspirationStrategy
from .strategies import Strategy as Strategy
from .strategies import Utility as Utility
from .strategies import aspiration as aspiration
from .strategies import outcomes_of as outcomes_of

__all__ = [
    "EXPONENTS",
    "Analysis",
    "Appraisal",
    "Appraise",
    "AspirationStrategy",
    "BargainingResult",
    "Mediator",
    "NegotiatorAgent",
    "RunBargaining",
    "Session",
    "SessionOutcome",
    "Strategy",
    "TakeTurn",
    "Turn",
    "TurnTaken",
    "Utility",
    "aspiration",
    "negotiate",
    "outcomes_of",
    "run_session",
]

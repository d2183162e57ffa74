"""Orchestration variables: named values the agents subscribed to them agree on.

``variables = await Variables.start(system)``; ``await variables.define("temperature",
0.5)``; ``await variables.subscribe("temperature", "coder", "critic")``; ``decision =
await variables.coordinate("temperature", protocol="compromise")`` — the subscribers
decide by auction, voting, Raft, compromise or bargaining, and each is told the change.
"""

from ._store import Variables as Variables
from ._store import VariableStore as VariableStore
from ._variable import AVAILABLE as AVAILABLE
from ._variable import PROTOCOLS as PROTOCOLS
from ._variable import Change as Change
from ._variable import Decision as Decision
from ._variable import ProtocolNotAvailableError as ProtocolNotAvailableError
from ._variable import Variable as Variable
from ._variable import VariableError as VariableError
from .agent import VariableAgent as VariableAgent
from .messages import Preference as Preference
from .messages import Propose as Propose
from .messages import VariableChanged as VariableChanged

__all__ = [
    "AVAILABLE",
    "PROTOCOLS",
    "Change",
    "Decision",
    "Preference",
    "Propose",
    "ProtocolNotAvailableError",
    "Variable",
    "VariableAgent",
    "VariableChanged",
    "VariableError",
    "VariableStore",
    "Variables",
]

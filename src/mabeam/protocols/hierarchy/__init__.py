"""Hierarchical coordination: requests flow down a tree, star or layers; exact aggregates up.

``await coordinate(system, structure, aggregate="mean")`` runs one round over running
:class:`HierarchyAgent` s; :meth:`Hierarchy.start` spawns them under a supervisor tree
shaped like the hierarchy. Rules: PROTOCOLS.md, "Hierarchical coordination".
"""

from ._api import Hierarchy as Hierarchy
from ._api import coordinate as coordinate
from .actor import ROOT_DOWN as ROOT_DOWN
from .actor import HierarchyAgent as HierarchyAgent
from .actor import HierarchyResult as HierarchyResult
from .actor import HierarchyRound as HierarchyRound
from .aggregate import AGGREGATES as AGGREGATES
from .aggregate import Summary as Summary
from .messages import Collect as Collect
from .messages import GetValue as GetValue
from .messages import Partial as Partial
from .messages import SetValue as SetValue
from .structure import Structure as Structure

__all__ = [
    "AGGREGATES",
    "ROOT_DOWN",
    "Collect",
    "GetValue",
    "Hierarchy",
    "HierarchyAgent",
    "HierarchyResult",
    "HierarchyRound",
    "Partial",
    "SetValue",
    "Structure",
    "Summary",
    "coordinate",
]

"""The type aliases conflict messages and resolutions share."""

from __future__ import annotations

from typing import Literal, TypeAlias

Strategy: TypeAlias = Literal[
    "compromise",
    "priority_override",
    "time_sharing",
    "resource_partitioning",
    "negotiated_settlement",
    "leader_decision",
]
ConflictType: TypeAlias = Literal[
    "value_incompatible", "resource_competition", "temporal_constraint"
]
CompromiseMethod: TypeAlias = Literal["simple_average", "median", "weighted_average"]
Value: TypeAlias = int | float | str
"""A requested value: a number, or a label (only some strategies accept labels)."""

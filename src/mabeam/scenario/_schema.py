"""The scenario file schema: msgspec Structs for a whole simulated negotiation.

A :class:`Scenario` (``SCENARIOS.md``) holds a name and seed, the protocol's
options (a union tagged on ``kind``: one Struct per kind with exactly that kind's
options, defaults and enum values from ``PROTOCOLS.md``), the agents, network,
faults and conflicts. Every Struct is frozen, keyword-only and refuses unknown
fields, which are almost always typos.

The field types and the tables' Structs are in :mod:`._spec`; each kind's options
Struct is in its kind's module, and the union is built from :data:`._kinds.KINDS`, so
adding a kind does not touch this module. Every name is re-exported here. Rules that
span Structs are in :mod:`mabeam.scenario._load` and the kinds' ``check``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias, Union

import msgspec

from ._auction import AuctionOptions as AuctionOptions
from ._bargaining import BargainingOptions as BargainingOptions
from ._conflict import ConflictOptions as ConflictOptions
from ._consensus import ConsensusOptions as ConsensusOptions
from ._hierarchy import HierarchyOptions as HierarchyOptions
from ._kinds import KINDS
from ._market import MarketOptions as MarketOptions
from ._ping import PingOptions as PingOptions
from ._spec import _DECODING as _DECODING
from ._spec import _FLOAT_MAX as _FLOAT_MAX
from ._spec import BARGAINING_STRATEGIES as BARGAINING_STRATEGIES
from ._spec import FAULT_ACTIONS as FAULT_ACTIONS
from ._spec import LINK_SETTINGS as LINK_SETTINGS
from ._spec import MAX_OUTCOMES as MAX_OUTCOMES
from ._spec import AgentSpec as AgentSpec
from ._spec import Bundle as Bundle
from ._spec import ByzantineBehavior as ByzantineBehavior
from ._spec import ConflictSpec as ConflictSpec
from ._spec import ConflictStrategy as ConflictStrategy
from ._spec import Count as Count
from ._spec import FaultSpec as FaultSpec
from ._spec import Finite as Finite
from ._spec import Fraction as Fraction
from ._spec import Natural as Natural
from ._spec import NetworkSpec as NetworkSpec
from ._spec import NonEmpty as NonEmpty
from ._spec import NonEmptyStr as NonEmptyStr
from ._spec import NonNegative as NonNegative
from ._spec import Number as Number
from ._spec import Order as Order
from ._spec import Pair as Pair
from ._spec import Positive as Positive
from ._spec import Utility as Utility
from ._spec import _Options as _Options
from ._spec import _Spec

if TYPE_CHECKING:
    ProtocolOptions: TypeAlias = _Options
else:
    #: The ``[protocol]`` table: one options Struct per kind of :data:`._kinds.KINDS`,
    #: tagged on ``kind`` (mypy sees their base).
    ProtocolOptions = Union[tuple(kind.options for kind in KINDS)]  # noqa: UP007


class Scenario(_Spec, frozen=True, kw_only=True):
    """A whole scenario file: protocol, agents, network, faults and conflicts."""

    name: str
    seed: int = 0
    protocol: ProtocolOptions
    agents: NonEmpty[AgentSpec]
    network: NetworkSpec = msgspec.field(default_factory=NetworkSpec)
    # ruff cannot tell that _Spec (imported) is a msgspec Struct, whose defaults are copied.
    faults: list[FaultSpec] = []  # noqa: RUF012
    conflicts: list[ConflictSpec] = []  # noqa: RUF012
    # ``mabeam sweep``'s settings; a single run ignores them (checked by mabeam.experiments).
    sweep: dict[str, Any] = {}  # noqa: RUF012


SCHEMA_ID = "https://json-schema.org/draft/2020-12/schema"


def json_schema() -> str:
    """The JSON Schema of scenario files, generated from :class:`Scenario` by msgspec
    (``mabeam schema`` prints it; ``docs/scenario.schema.json`` is a copy), as indented
    JSON ending in a newline. TOML files follow the same schema."""
    schema = {"$schema": SCHEMA_ID, "title": "mabeam scenario", **msgspec.json.schema(Scenario)}
    return msgspec.json.format(msgspec.json.encode(schema), indent=2).decode() + "\n"

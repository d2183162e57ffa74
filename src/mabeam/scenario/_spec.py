"""The building blocks of the scenario schema: field types, the base Structs, the tables.

Every scenario Struct derives from :class:`_Spec`: frozen, keyword-only, unknown fields
refused (almost always typos). Field constraints live in the types: :data:`NonNegative`,
:data:`Count`, :data:`NonEmpty` ... are ``Annotated`` with a ``msgspec.Meta``, so msgspec
enforces them while decoding, :func:`~._schema.json_schema` shows them, and the loader words
its error message from the same Meta. A Struct built in code is checked against them too
(``__post_init__``), then ``_check`` applies the rules tying its fields together, raising
:class:`~mabeam.ConfigError` naming the field.

The options Struct of each protocol kind (a :class:`_Options`, tagged on ``kind``) lives in
its kind's module; :mod:`._schema` assembles the whole :class:`~._schema.Scenario`.
"""

from __future__ import annotations

import sys
from contextvars import ContextVar
from typing import Annotated, Literal, TypeAlias, TypeVar, get_args

import msgspec

from .._errors import ConfigError

ConflictStrategy: TypeAlias = Literal[
    "compromise",
    "priority_override",
    "time_sharing",
    "resource_partitioning",
    "negotiated_settlement",
    "leader_decision",
]
ByzantineBehavior: TypeAlias = Literal[
    "silent", "equivocate", "wrong_digest", "forge_sender", "random"
]
BARGAINING_STRATEGIES = ("boulware", "linear", "conceder", "hardliner")  # an agent's strategy
FAULT_ACTIONS = (  # one per fault
    "crash",
    "restart",
    "partition",
    "heal",
    "byzantine",
    "link",
    "partition_oneway",
    "add_node",
    "remove_node",
)
LINK_SETTINGS = ("drop_rate", "latency_ms", "cut")  # what a link fault changes
MAX_OUTCOMES = 1_000_000  # the most a bargaining outcome_range may spell out


_FLOAT_MAX = sys.float_info.max
_DECODING: ContextVar[bool] = ContextVar("mabeam_scenario_decoding", default=False)
"""True while msgspec decodes (and so has already checked every constraint)."""


def _finite(*, ge: float | None = None, gt: float | None = None) -> msgspec.Meta:
    """A float above ``ge`` or ``gt`` (else the lowest float) and at most the largest float:
    so ``inf`` and ``nan`` stay out (TOML can spell both)."""
    if gt is not None:
        return msgspec.Meta(gt=gt, le=_FLOAT_MAX)
    return msgspec.Meta(ge=-_FLOAT_MAX if ge is None else ge, le=_FLOAT_MAX)


# Field types carrying their constraint as msgspec Meta: msgspec enforces it when decoding,
# the JSON Schema shows it, and the loader words the error from it (see _load.describe).
Finite: TypeAlias = Annotated[float, _finite()]
NonNegative: TypeAlias = Annotated[float, _finite(ge=0)]
Positive: TypeAlias = Annotated[float, _finite(gt=0)]
Fraction: TypeAlias = Annotated[float, msgspec.Meta(ge=0, le=1)]
Natural: TypeAlias = Annotated[int, msgspec.Meta(ge=0)]
Count: TypeAlias = Annotated[int, msgspec.Meta(ge=1)]
#: A finite number as written in the file: integers stay ``int``.
Number: TypeAlias = int | Finite
NonEmptyStr: TypeAlias = Annotated[str, msgspec.Meta(pattern=r"\S")]  # not empty or blank
_T = TypeVar("_T")
NonEmpty: TypeAlias = Annotated[list[_T], msgspec.Meta(min_length=1)]
#: ``[lo, hi]``. A list, not a tuple: msgspec 0.23 crashes on a union of a constrained
#: number and a tuple (msgspec issue #717), and a list of exactly two works alike.
Pair: TypeAlias = Annotated[list[_T], msgspec.Meta(min_length=2, max_length=2)]


class _Spec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Base of every scenario Struct: frozen, keyword-only, unknown fields refused."""

    def __post_init__(self) -> None:
        if not _DECODING.get():
            _validate(self)
        self._check()

    def _check(self) -> None:
        """Rules that tie this Struct's fields together (none by default)."""


def _validate(spec: _Spec) -> None:
    """A Struct built in code meets the same constraints as one decoded from a file:
    msgspec converts its fields again, and a violation is a ConfigError on the field."""
    token = _DECODING.set(True)
    data = msgspec.to_builtins(spec)
    try:
        msgspec.convert(data, type(spec))
    except msgspec.ValidationError as exc:
        from ._load import field_error

        raise field_error(exc, type(spec), data) from None
    finally:
        _DECODING.reset(token)


class _Options(_Spec, frozen=True, kw_only=True, tag_field="kind"):
    """Base of the protocol options, tagged on ``kind``; every request has a reply timeout."""

    reply_timeout_ms: Count = 1000


class Bundle(_Spec, frozen=True, kw_only=True):
    """A combinatorial bid: ``{items = ["A", "B"], bid = 8.0}``."""

    items: NonEmpty[str]
    bid: NonNegative


class Order(_Spec, frozen=True, kw_only=True):
    """A market order; without ``price`` it is a market order (continuous trading only)."""

    side: Literal["buy", "sell"]
    resource: NonEmptyStr
    quantity: Count = 1
    price: NonNegative | None = None
    at_ms: Natural = 0


class Utility(_Spec, frozen=True, kw_only=True):
    """A bargaining utility: u(v) = clip((v - worst) / (ideal - worst), 0, 1)."""

    ideal: Finite
    worst: Finite

    def _check(self) -> None:
        if self.ideal == self.worst:
            raise ConfigError("worst", f"must differ from ideal ({self.ideal!r})")


class AgentSpec(_Spec, frozen=True, kw_only=True):
    """One agent; every protocol's agent fields are accepted, unused ones are ignored."""

    id: NonEmptyStr
    value: Number | str | None = None
    bid: NonNegative | None = None  # auctions
    valuation: NonNegative | None = None
    max_bid: NonNegative | None = None
    bundles: list[Bundle] = []
    weight: NonNegative = 1.0  # conflicts and weighted voting
    priority: Finite = 0.0  # conflicts
    urgency: NonNegative = 1.0
    importance: NonNegative = 1.0
    resources: NonNegative = 1.0
    strategy: str | None = None  # bargaining strategy, also in conflicts' bargaining
    vote: Natural | None = None  # voting: index into proposals; None abstains
    orders: list[Order] = []  # markets
    utility: Utility | None = None  # bargaining
    reserved: Fraction = 0.0
    exponent: Positive | None = None

    def _check(self) -> None:
        if self.id.startswith("@"):
            raise ConfigError("id", f"{self.id!r}: ids starting with '@' are reserved")


class NetworkSpec(_Spec, frozen=True, kw_only=True):
    """The simulated network: latency (fixed, or uniform in [lo, hi]), loss, duplication.

    ``reorder = false``: every link is FIFO, as in Erlang; ``true``: messages may
    overtake one another within the latency range. ``tick_ms > 0`` rounds delivery times
    up to whole ticks, so messages share delivery times (a large run goes faster);
    ``0``, the default, keeps them exact.
    """

    latency_ms: NonNegative | Pair[NonNegative] = 1.0
    drop_rate: Fraction = 0.0
    duplicate_rate: Fraction = 0.0
    reorder: bool = False
    tick_ms: NonNegative = 0.0
    partition_clients: bool = False  # true: the coordinator is cut off by partitions too

    def _check(self) -> None:
        if isinstance(self.latency_ms, list) and self.latency_ms[1] < self.latency_ms[0]:
            low, high = self.latency_ms
            raise ConfigError("latency_ms", f"needs lo <= hi, got [{low:g}, {high:g}]")


class FaultSpec(_Spec, frozen=True, kw_only=True):
    """One fault at virtual time ``at_ms`` with exactly one action of :data:`FAULT_ACTIONS`.

    ``crash``: an agent id or ``"@leader"``; ``restart``: an agent id; ``partition``:
    groups of agent ids; ``heal = true``; ``byzantine``: an agent id, with ``behavior``;
    ``link``: ``[from, to]`` (one direction), with at least one of ``drop_rate``,
    ``latency_ms`` and ``cut`` (true cuts it, false restores it); ``partition_oneway``:
    ``[[from ids], [to ids]]``, nothing from the first group reaches the second;
    ``add_node``: a new node id, ``remove_node``: an agent id (Raft membership changes).
    """

    at_ms: Natural
    crash: str | None = None
    restart: str | None = None
    partition: NonEmpty[NonEmpty[str]] | None = None
    heal: bool | None = None
    byzantine: str | None = None
    behavior: ByzantineBehavior | None = None
    link: tuple[NonEmptyStr, NonEmptyStr] | None = None
    drop_rate: Fraction | None = None
    latency_ms: NonNegative | Pair[NonNegative] | None = None
    cut: bool | None = None
    partition_oneway: tuple[NonEmpty[str], NonEmpty[str]] | None = None
    add_node: str | None = None
    remove_node: str | None = None

    def _check(self) -> None:
        self._check_link()
        actions = [name for name in FAULT_ACTIONS if getattr(self, name) is not None]
        if len(actions) != 1:
            if not actions:
                raise ConfigError("", "needs an action", allowed=", ".join(FAULT_ACTIONS))
            problem = f"a fault has exactly one action (this one also has {actions[0]})"
            raise ConfigError(actions[1], problem, allowed=", ".join(FAULT_ACTIONS))
        if self.heal is False:
            raise ConfigError("heal", "must be true (heal = true joins the network again)")
        if (self.byzantine is None) != (self.behavior is None):
            problem = "only used with byzantine" if self.byzantine is None else "required"
            raise ConfigError("behavior", problem, allowed=", ".join(get_args(ByzantineBehavior)))

    def _check_link(self) -> None:
        settings = [name for name in LINK_SETTINGS if getattr(self, name) is not None]
        if self.link is None:
            if settings:
                raise ConfigError(settings[0], "only used with link = [from, to]")
            return
        if not settings:
            raise ConfigError("link", "needs a setting", allowed=", ".join(LINK_SETTINGS))
        if self.link[0] == self.link[1]:
            raise ConfigError("link", f"needs two different nodes, got {list(self.link)!r}")
        if isinstance(self.latency_ms, list) and self.latency_ms[1] < self.latency_ms[0]:
            low, high = self.latency_ms
            raise ConfigError("latency_ms", f"needs lo <= hi, got [{low:g}, {high:g}]")


class ConflictSpec(_Spec, frozen=True, kw_only=True):
    """One conflict over a variable, for ``kind = "conflict"``."""

    variable_id: NonEmptyStr
    conflicting_agents: NonEmpty[str]
    requested_values: list[Number | str]
    conflict_type: Literal["value_incompatible", "resource_competition", "temporal_constraint"] = (
        "value_incompatible"
    )

    def _check(self) -> None:
        if len(self.requested_values) != len(self.conflicting_agents):
            problem = (
                f"has {len(self.requested_values)} values for "
                f"{len(self.conflicting_agents)} conflicting_agents (one per agent)"
            )
            raise ConfigError("requested_values", problem)

"""The scenario file schema: msgspec Structs for a whole simulated negotiation.

A :class:`Scenario` (``SCENARIOS.md``) holds a name and seed, the protocol's
options (a union tagged on ``kind``: one Struct per kind with exactly that kind's
options, defaults and enum values from ``PROTOCOLS.md``), the agents, network,
faults and conflicts. Every Struct is frozen, keyword-only and refuses unknown
fields, which are almost always typos.

Each Struct checks itself in ``__post_init__``: the rule each field's type carries
(:data:`NonNegative`, :data:`Count`, :data:`NonEmpty` ... are ``Annotated`` with a
range or "not empty"; not ``msgspec.Meta``, which in a union with a tuple crashes
msgspec 0.22's garbage collection, cf. msgspec issue #717), then ``_check``, the
rules tying its fields together; both raise :class:`~mabeam.ConfigError` naming
the field. Rules that span Structs are in :mod:`mabeam.scenario._load`.
"""

from __future__ import annotations

import functools
import math
from typing import Annotated, Any, Literal, NamedTuple, TypeAlias, TypeVar, get_args

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
FAULT_ACTIONS = ("crash", "restart", "partition", "heal", "byzantine")  # one per fault
MAX_OUTCOMES = 1_000_000  # the most a bargaining outcome_range may spell out


class _Range(NamedTuple):
    """A numeric range a field (or each item of a list, tuple or table) must be in."""

    noun: str
    low: float | None = None
    high: float | None = None
    above: bool = False  # low itself is excluded

    def check(self, field: str, value: object) -> None:
        """Raise ConfigError unless ``value`` (or each item in it) is in range; others pass."""
        if isinstance(value, (list, tuple, dict)):
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                self.check(f"{field}.{key}" if isinstance(key, str) else f"{field}[{key}]", item)
        elif isinstance(value, (int, float)) and not self.contains(value):
            raise ConfigError(field, f"must be {self}, got {value!r}")

    def contains(self, value: float) -> bool:
        """Whether ``value`` is finite and within the bounds."""
        try:
            finite = math.isfinite(value)
        except OverflowError:  # an int too large for a float
            return False
        low_ok = self.low is None or (value > self.low if self.above else value >= self.low)
        return finite and low_ok and (self.high is None or value <= self.high)

    def __str__(self) -> str:
        bounds = [f"{'>' if self.above else '>='} {self.low:g}"] if self.low is not None else []
        bounds += [f"<= {self.high:g}"] if self.high is not None else []
        return " ".join([self.noun, " and ".join(bounds)]).strip()


class _NonEmpty(NamedTuple):
    """A string, list (and each list in it) or table that must not be empty or blank."""

    def check(self, field: str, value: object) -> None:
        """Raise ConfigError if ``value`` is empty (None passes)."""
        if isinstance(value, (str, list, dict)) and not (
            value.strip() if isinstance(value, str) else value
        ):
            raise ConfigError(field, "must not be empty")
        for i, item in enumerate(value if isinstance(value, list) else ()):
            if isinstance(item, list):
                self.check(f"{field}[{i}]", item)


# Field types carrying their rule, which each Struct's __post_init__ applies.
Finite: TypeAlias = Annotated[float, _Range("a finite number")]
NonNegative: TypeAlias = Annotated[float, _Range("a finite number", 0)]
Positive: TypeAlias = Annotated[float, _Range("a finite number", 0, above=True)]
Fraction: TypeAlias = Annotated[float, _Range("a number", 0, 1)]
Natural: TypeAlias = Annotated[int, _Range("an integer", 0)]
Count: TypeAlias = Annotated[int, _Range("an integer", 1)]
#: A finite number as written in the file: integers stay ``int``.
Number: TypeAlias = int | Finite
NonEmptyStr: TypeAlias = Annotated[str, _NonEmpty()]
_T = TypeVar("_T")
NonEmpty: TypeAlias = Annotated[list[_T], _NonEmpty()]
_Rule: TypeAlias = _Range | _NonEmpty


@functools.cache
def _rules_of(cls: type[msgspec.Struct]) -> tuple[tuple[str, tuple[_Rule, ...]], ...]:
    """The rules each field's type carries (found through unions and containers)."""

    def rules(hint: Any) -> tuple[_Rule, ...]:
        found = [m for m in getattr(hint, "__metadata__", ()) if isinstance(m, (_Range, _NonEmpty))]
        found += [rule for arg in get_args(hint) for rule in rules(arg)]
        return tuple(dict.fromkeys(found))

    pairs = ((field.name, rules(field.type)) for field in msgspec.structs.fields(cls))
    return tuple((name, found) for name, found in pairs if found)


class _Spec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Base of every scenario Struct: frozen, keyword-only, unknown fields refused."""

    def __post_init__(self) -> None:
        for name, rules in _rules_of(type(self)):
            for rule in rules:
                rule.check(name, getattr(self, name))
        self._check()

    def _check(self) -> None:
        """Rules that tie this Struct's fields together (none by default)."""


class _Options(_Spec, frozen=True, kw_only=True, tag_field="kind"):
    """Base of the protocol options, tagged on ``kind``; every request has a reply timeout."""

    reply_timeout_ms: Count = 1000


class PingOptions(_Options, frozen=True, kw_only=True, tag="ping"):
    """``kind = "ping"``: the coordinator pings every agent once."""


class AuctionOptions(_Options, frozen=True, kw_only=True, tag="auction"):
    """``kind = "auction"``: sealed-bid, English, Dutch or combinatorial auction."""

    variable: str | None = None
    auction_type: Literal["sealed_bid", "english", "dutch", "combinatorial"] = "sealed_bid"
    payment_rule: Literal["first_price", "second_price", "vcg"] = "first_price"
    reserve_price: NonNegative = 0.0
    starting_price: NonNegative | None = None  # english: None means 0; dutch: required
    increment: Positive = 0.1  # english
    decrement: Positive = 0.1  # dutch
    max_rounds: Count = 1000  # english, dutch
    items: NonEmpty[str] | None = None  # combinatorial: the item names

    def _check(self) -> None:
        if self.auction_type == "dutch" and self.starting_price is None:
            raise ConfigError("starting_price", "required when auction_type is 'dutch'")
        combinatorial = self.auction_type == "combinatorial"
        if self.payment_rule != "first_price" and (self.payment_rule == "vcg") != combinatorial:
            allowed = "first_price, vcg" if combinatorial else "first_price, second_price"
            problem = f"{self.payment_rule!r} does not apply to auction_type {self.auction_type!r}"
            raise ConfigError("payment_rule", problem, allowed=allowed)
        if combinatorial and self.items is None:
            raise ConfigError("items", "required when auction_type is 'combinatorial'")


class ConflictOptions(_Options, frozen=True, kw_only=True, tag="conflict"):
    """``kind = "conflict"``: resolve the ``[[conflicts]]`` with a strategy and a fallback."""

    strategy: ConflictStrategy = "compromise"
    fallback_strategy: ConflictStrategy | None = None
    compromise_method: Literal["simple_average", "median", "weighted_average"] | None = None
    available_resources: NonNegative | None = None  # required by resource_partitioning
    time_slot_duration: Count = 600_000  # ms
    negotiation_type: Literal["auction", "bargaining"] = "auction"
    payment_rule: Literal["first_price", "second_price"] = "first_price"
    base_bid: Positive = 1.0
    leader: NonEmptyStr | None = None  # leader_decision; None: elected by Raft
    bargaining_outcomes: NonEmpty[Number] | None = None  # None: 11 values over the requests

    def _check(self) -> None:
        strategies = {"strategy": self.strategy, "fallback_strategy": self.fallback_strategy}
        for option in (o for o, s in strategies.items() if s == "resource_partitioning"):
            if self.available_resources is None:
                problem = f"required when {option} is 'resource_partitioning'"
                raise ConfigError("available_resources", problem)


class ConsensusOptions(_Options, frozen=True, kw_only=True, tag="consensus"):
    """``kind = "consensus"``: voting, Raft, PBFT or proof-of-authority blockchain."""

    algorithm: Literal[
        "simple_majority", "weighted_voting", "unanimous", "raft", "pbft", "blockchain"
    ] = "simple_majority"
    proposals: NonEmpty[Any]
    weights: dict[str, NonNegative] | None = None  # weighted_voting: overrides agents' weight
    election_timeout_ms: tuple[Count, Count] = (150, 300)  # raft
    heartbeat_ms: Count = 50  # raft
    pre_vote: bool = True  # raft
    check_quorum: bool = True  # raft
    timeout_ms: Count = 30_000  # raft, pbft, blockchain: give up without agreement
    checkpoint_interval: Count = 100  # pbft
    finality_depth: Count | None = None  # blockchain; None: floor(N/2) + 1

    def _check(self) -> None:
        low, high = self.election_timeout_ms
        if high < low:
            raise ConfigError("election_timeout_ms", f"needs lo <= hi, got [{low}, {high}]")
        if self.heartbeat_ms >= low:
            problem = f"must be shorter than the election timeout ({low} ms)"
            raise ConfigError("heartbeat_ms", f"{problem}, got {self.heartbeat_ms}")


class MarketOptions(_Options, frozen=True, kw_only=True, tag="market"):
    """``kind = "market"``: call market, posted prices, combinatorial auction or order book."""

    pricing_mechanism: Literal[
        "double_auction", "posted_price", "combinatorial_auction", "continuous_trading"
    ]
    pricing: Literal["uniform", "mcafee", "pairwise"] = "uniform"  # double_auction
    prices: dict[str, NonNegative] = {}  # posted_price: resource -> price
    supply: dict[str, Natural] = {}  # posted_price: resource -> units
    payment_rule: Literal["first_price", "vcg"] = "first_price"  # combinatorial_auction


class BargainingOptions(_Options, frozen=True, kw_only=True, tag="bargaining"):
    """``kind = "bargaining"``: alternating offers over one numeric issue."""

    outcomes: NonEmpty[Number] | None = None
    outcome_range: tuple[Number, Number] | None = None
    outcome_step: Count = 1
    n_steps: Count = 100

    def _check(self) -> None:
        if (self.outcomes is None) == (self.outcome_range is None):
            field = "outcomes" if self.outcomes is None else "outcome_range"
            raise ConfigError(field, "give exactly one of outcomes and outcome_range")
        if self.outcome_range is not None:
            low, high = self.outcome_range
            if high < low:
                raise ConfigError("outcome_range", f"needs lo <= hi, got [{low}, {high}]")
            if (float(high) - float(low)) / self.outcome_step >= MAX_OUTCOMES:
                problem = f"spells out more than {MAX_OUTCOMES} outcomes (raise outcome_step)"
                raise ConfigError("outcome_range", problem)


class HierarchyOptions(_Options, frozen=True, kw_only=True, tag="hierarchy"):
    """``kind = "hierarchy"``: aggregate the agents' values up a tree, star or layers."""

    structure: Literal["tree", "star", "layered"] = "tree"
    branching_factor: Count = 3
    layers: NonEmpty[list[str]] | None = None  # layered only, and then required
    aggregate: Literal["mean", "sum", "min", "max", "median", "vote"] = "mean"
    variable: str | None = None


ProtocolOptions: TypeAlias = (
    AuctionOptions
    | ConflictOptions
    | ConsensusOptions
    | MarketOptions
    | BargainingOptions
    | HierarchyOptions
    | PingOptions
)
#: The option Structs by ``kind``, in the order kinds are listed to users.
OPTIONS_BY_KIND: dict[str, type[_Options]] = {
    str(cls.__struct_config__.tag): cls for cls in get_args(ProtocolOptions)
}


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

    latency_ms: NonNegative | tuple[NonNegative, NonNegative] = 1.0
    drop_rate: Fraction = 0.0
    duplicate_rate: Fraction = 0.0
    reorder: bool = False
    tick_ms: NonNegative = 0.0

    def _check(self) -> None:
        if isinstance(self.latency_ms, tuple) and self.latency_ms[1] < self.latency_ms[0]:
            low, high = self.latency_ms
            raise ConfigError("latency_ms", f"needs lo <= hi, got [{low:g}, {high:g}]")


class FaultSpec(_Spec, frozen=True, kw_only=True):
    """One fault at virtual time ``at_ms`` with exactly one action of :data:`FAULT_ACTIONS`.

    ``crash``: an agent id or ``"@leader"``; ``restart``: an agent id; ``partition``:
    groups of agent ids; ``heal = true``; ``byzantine``: an agent id, with ``behavior``.
    """

    at_ms: Natural
    crash: str | None = None
    restart: str | None = None
    partition: NonEmpty[list[str]] | None = None
    heal: bool | None = None
    byzantine: str | None = None
    behavior: ByzantineBehavior | None = None

    def _check(self) -> None:
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


class Scenario(_Spec, frozen=True, kw_only=True):
    """A whole scenario file: protocol, agents, network, faults and conflicts."""

    name: str
    seed: int = 0
    protocol: ProtocolOptions
    agents: NonEmpty[AgentSpec]
    network: NetworkSpec = msgspec.field(default_factory=NetworkSpec)
    faults: list[FaultSpec] = []
    conflicts: list[ConflictSpec] = []
    # ``mabeam sweep``'s settings; a single run ignores them (checked by mabeam.experiments).
    sweep: dict[str, Any] = {}

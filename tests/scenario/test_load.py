"""Tests for the scenario schema and loader: good files load, bad ones name their field."""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mabeam._errors import ConfigError, ScenarioError
from mabeam.scenario._load import load_scenario, parse_scenario
from mabeam.scenario._schema import (
    AgentSpec,
    AuctionOptions,
    ConsensusOptions,
    FaultSpec,
    HierarchyOptions,
    NetworkSpec,
    PingOptions,
    Scenario,
)

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def _shared(invalid: bool) -> list[Any]:
    """The shared example scenarios (``invalid-*`` ones or the others) as test params."""
    if not SCENARIOS.is_dir():
        # Never skip: missing cases are a failure.
        return [pytest.param(None, id="shared-scenarios-missing")]
    files = sorted(SCENARIOS.glob("*.toml"))
    chosen = [p for p in files if p.name.startswith("invalid-") == invalid]
    return [pytest.param(p, id=p.stem) for p in chosen]


AGENTS = """
[[agents]]
id = "a"
value = 1.0
bid = 5.0

[[agents]]
id = "b"
value = 2.0
bid = 8.0
"""


def doc(protocol: str, agents: str = AGENTS, tail: str = "", head: str = "") -> str:
    """A TOML scenario with ``protocol`` lines in [protocol], ``agents``, then ``tail``."""
    return f'name = "t"\nseed = 1\n{head}\n[protocol]\n{protocol}\n{agents}\n{tail}'


def agent(id_: str, *lines: str) -> str:
    """One ``[[agents]]`` table."""
    return "\n".join(["[[agents]]", f'id = "{id_}"', *lines, ""])


def parse(text: str, fmt: str = "toml") -> Scenario:
    """Parse a document as the file ``bad.<fmt>``."""
    return parse_scenario(text.encode(), path=f"bad.{fmt}", fmt="json" if fmt == "json" else "toml")


AUCTION = 'kind = "auction"'
DUTCH = 'kind = "auction"\nauction_type = "dutch"\nstarting_price = 10.0'
COMBI = 'kind = "auction"\nauction_type = "combinatorial"\npayment_rule = "vcg"\nitems = ["A", "B"]'
VOTE = 'kind = "consensus"\nproposals = [0.5, 0.7]'
PBFT = 'kind = "consensus"\nalgorithm = "pbft"\nproposals = [1]'
MARKET = 'kind = "market"\npricing_mechanism = "double_auction"'
POSTED = 'kind = "market"\npricing_mechanism = "posted_price"\nprices = {cpu = 3.0}'
BARGAIN = 'kind = "bargaining"\noutcome_range = [0, 10]'
DEALERS = agent("s", "utility = {ideal = 10, worst = 0}") + agent(
    "b", "utility = {ideal = 0, worst = 10}"
)
HIER = 'kind = "hierarchy"'
CONFLICT = 'kind = "conflict"'
A_CONFLICT = """
[[conflicts]]
variable_id = "temperature"
conflicting_agents = ["a", "b"]
requested_values = [0.1, 1.5]
"""


def fault(*lines: str) -> str:
    """One ``[[faults]]`` table."""
    return "\n".join(["[[faults]]", *lines, ""])


INVALID = [
    # protocol kind and auction options
    pytest.param(
        doc('kind = "auctions"'),
        "protocol.kind",
        "unknown protocol kind 'auctions'",
        id="kind-unknown",
    ),
    pytest.param(
        doc('variable = "x"'), "protocol.kind", "missing required field", id="kind-missing"
    ),
    pytest.param(
        doc("kind = 3"),
        "protocol.kind",
        "(allowed: auction, conflict, consensus",
        id="kind-not-str",
    ),
    pytest.param(
        doc(AUCTION + '\nauction_type = "sealed"'),
        "protocol.auction_type",
        "invalid value 'sealed' (allowed: sealed_bid, english, dutch, combinatorial)",
        id="auction-type",
    ),
    pytest.param(
        doc(AUCTION + '\npayment_rule = "second"'),
        "protocol.payment_rule",
        "allowed: first_price, second_price, vcg",
        id="payment-rule-unknown",
    ),
    pytest.param(
        doc(AUCTION + '\npayment_rule = "vcg"'),
        "protocol.payment_rule",
        "does not apply",
        id="payment-rule-vcg-sealed",
    ),
    pytest.param(
        doc(AUCTION + "\nincrment = 1"), "protocol.incrment", "unknown field", id="auction-typo"
    ),
    pytest.param(
        doc('kind = "auction"\nauction_type = "dutch"'),
        "protocol.starting_price",
        "required",
        id="dutch-no-start",
    ),
    pytest.param(
        doc(AUCTION + "\nincrement = 0"),
        "protocol.increment",
        "must be a finite number > 0, got 0",
        id="increment-zero",
    ),
    pytest.param(
        doc(DUTCH + "\ndecrement = -1"), "protocol.decrement", "> 0", id="decrement-negative"
    ),
    pytest.param(
        doc(AUCTION + "\nmax_rounds = 0"), "protocol.max_rounds", "integer >= 1", id="max-rounds"
    ),
    pytest.param(
        doc(AUCTION + "\nreserve_price = -1.0"),
        "protocol.reserve_price",
        ">= 0",
        id="reserve-negative",
    ),
    pytest.param(
        doc(AUCTION + "\nreply_timeout_ms = -5"),
        "protocol.reply_timeout_ms",
        "got -5",
        id="timeout-negative",
    ),
    pytest.param(
        doc('kind = "auction"\nauction_type = "combinatorial"'),
        "protocol.items",
        "required",
        id="combi-no-items",
    ),
    pytest.param(
        doc(COMBI.replace('["A", "B"]', '["A", "A"]')),
        "protocol.items[1]",
        "item 'A' is listed twice",
        id="combi-item-twice",
    ),
    # the auction protocol's own check refuses at load what its config would refuse at run
    pytest.param(
        doc(AUCTION + '\nitems = ["A", "A"]'),
        "protocol.items[1]",
        "item 'A' is listed twice",
        id="sealed-item-twice",
    ),
    pytest.param(
        doc(AUCTION + '\nitems = [""]'),
        "protocol.items[0]",
        "must be a non-empty string",
        id="item-name-empty",
    ),
    pytest.param(
        doc(COMBI, agent("a", 'bundles = [{items = ["A"], bid = 1}, {items = ["C"], bid = 2}]')),
        "agents[0].bundles[1].items[0]",
        "item 'C' is not in protocol.items",
        id="bundle-item-unknown",
    ),
    pytest.param(
        doc(COMBI, agent("a", 'bundles = [{items = ["A", "A"], bid = 1}]')),
        "agents[0].bundles[0].items[1]",
        "listed twice",
        id="bundle-item-twice",
    ),
    pytest.param(
        doc(COMBI, agent("a", 'bundles = [{items = ["A"], bid = -2}]')),
        "agents[0].bundles[0].bid",
        ">= 0",
        id="bundle-bid-negative",
    ),
    # agents
    pytest.param(
        doc(AUCTION, AGENTS + agent("c", "bid = -1.0")),
        "agents[2].bid",
        "must be a finite number >= 0, got -1.0",
        id="bid-negative",
    ),
    pytest.param(
        doc(AUCTION, agent("a", "valuation = nan")),
        "agents[0].valuation",
        "got nan",
        id="valuation-nan",
    ),
    pytest.param(
        doc(AUCTION, agent("a") + agent("b", "max_bid = inf")),
        "agents[1].max_bid",
        "got inf",
        id="max-bid-inf",
    ),
    pytest.param(
        doc(AUCTION, agent("a", 'bid = "high"')),
        "agents[0].bid",
        "expected float | null, got str",
        id="bid-str",
    ),
    pytest.param(
        doc(AUCTION, agent("a") + agent("a")),
        "agents[1].id",
        "duplicate agent id 'a'",
        id="id-duplicate",
    ),
    pytest.param(doc(AUCTION, agent(" ")), "agents[0].id", "must not be empty", id="id-blank"),
    pytest.param(doc(AUCTION, agent("@leader")), "agents[0].id", "reserved", id="id-reserved"),
    pytest.param(
        doc(AUCTION, "", head="agents = []"), "agents", "must not be empty", id="no-agents"
    ),
    pytest.param(
        doc(AUCTION, agent("a", "bids = 3")),
        "agents[0].bids",
        "unknown field (allowed: id, value, bid",
        id="agent-typo",
    ),
    pytest.param(
        doc(AUCTION, agent("a", "weight = -1")), "agents[0].weight", ">= 0", id="weight-negative"
    ),
    pytest.param(
        doc(AUCTION, agent("a", "reserved = 1.5")),
        "agents[0].reserved",
        ">= 0 and <= 1",
        id="reserved-above-one",
    ),
    pytest.param(
        doc(AUCTION, agent("a", "value = true")), "agents[0].value", "got bool", id="value-bool"
    ),
    # consensus
    pytest.param(
        doc(VOTE, agent("a", "vote = 0") + agent("b", "vote = 2")),
        "agents[1].vote",
        "index 2 is outside proposals (0..1)",
        id="vote-outside",
    ),
    pytest.param(
        doc(VOTE, agent("a", "vote = -1")), "agents[0].vote", "integer >= 0", id="vote-negative"
    ),
    pytest.param(
        doc('kind = "consensus"\nproposals = []'),
        "protocol.proposals",
        "must not be empty",
        id="no-proposals",
    ),
    pytest.param(
        doc('kind = "consensus"'),
        "protocol.proposals",
        "missing required field",
        id="proposals-missing",
    ),
    pytest.param(
        doc(VOTE + '\nalgorithm = "paxos"'),
        "protocol.algorithm",
        "allowed: simple_majority, weighted_voting, unanimous, raft, pbft, blockchain",
        id="algorithm",
    ),
    pytest.param(
        doc(VOTE + "\nweights = {a = 1.0, z = 2.0}"),
        "protocol.weights.z",
        "unknown agent 'z' (allowed: a, b)",
        id="weights-unknown-agent",
    ),
    pytest.param(
        doc(VOTE + "\nweights = {a = -1.0}"), "protocol.weights.a", ">= 0", id="weights-negative"
    ),
    pytest.param(
        doc(VOTE + "\nelection_timeout_ms = [300, 150]"),
        "protocol.election_timeout_ms",
        "lo <= hi",
        id="election-range",
    ),
    pytest.param(
        doc(VOTE + "\nelection_timeout_ms = [0, 150]"),
        "protocol.election_timeout_ms[0]",
        "integer >= 1",
        id="election-zero",
    ),
    pytest.param(
        doc(VOTE + "\nheartbeat_ms = 200"),
        "protocol.heartbeat_ms",
        "shorter than the election timeout",
        id="heartbeat-slow",
    ),
    pytest.param(
        doc(VOTE + "\ntimeout_ms = 0"), "protocol.timeout_ms", "integer >= 1", id="raft-timeout"
    ),
    # markets
    pytest.param(
        doc('kind = "market"'),
        "protocol.pricing_mechanism",
        "missing required field (allowed: double_auction, posted_price",
        id="market-no-mechanism",
    ),
    pytest.param(
        doc(MARKET, agent("a", 'orders = [{side = "buy", resource = "cpu"}]')),
        "agents[0].orders[0].price",
        "continuous_trading",
        id="market-order-in-call",
    ),
    pytest.param(
        doc(POSTED, agent("a", 'orders = [{side = "sell", resource = "cpu", price = 1.0}]')),
        "agents[0].orders[0].side",
        "posted_price",
        id="posted-sell",
    ),
    pytest.param(
        doc(
            MARKET,
            agent("a", 'orders = [{side = "buy", resource = "cpu", price = 1.0, quantity = 0}]'),
        ),
        "agents[0].orders[0].quantity",
        "integer >= 1",
        id="quantity-zero",
    ),
    pytest.param(
        doc(
            MARKET,
            agent("a", 'orders = [{side = "buy", resource = "cpu", price = 1.0, quantity = 1.5}]'),
        ),
        "agents[0].orders[0].quantity",
        "expected int, got float",
        id="quantity-fraction",
    ),
    pytest.param(
        doc(MARKET, agent("a", 'orders = [{side = "buy", resource = "cpu", price = -1.0}]')),
        "agents[0].orders[0].price",
        ">= 0",
        id="price-negative",
    ),
    pytest.param(
        doc(MARKET, agent("a", 'orders = [{side = "bid", resource = "cpu", price = 1.0}]')),
        "agents[0].orders[0].side",
        "allowed: buy, sell",
        id="side",
    ),
    pytest.param(
        doc(POSTED + "\nsupply = {cpu = -3}"),
        "protocol.supply.cpu",
        "integer >= 0",
        id="supply-negative",
    ),
    pytest.param(
        doc(
            'kind = "market"\npricing_mechanism = "combinatorial_auction"\nsupply = {A = 1, B = 1}',
            agent("a", 'bundles = [{items = ["A"], bid = 2.0}, {items = ["B", "C"], bid = 3.0}]'),
        ),
        "agents[0].bundles[1].items[1]",
        "item 'C' is not a resource of this market (allowed: A, B)",
        id="market-bundle-item",
    ),
    pytest.param(
        doc(MARKET + '\npricing = "vickrey"'),
        "protocol.pricing",
        "allowed: uniform, mcafee, pairwise",
        id="pricing",
    ),
    # bargaining
    pytest.param(
        doc(BARGAIN, agent("s", "utility = {ideal = 3, worst = 3}")),
        "agents[0].utility.worst",
        "must differ from ideal",
        id="utility-flat",
    ),
    pytest.param(
        doc(BARGAIN, DEALERS + agent("x")), "agents[2].utility", "required", id="utility-missing"
    ),
    pytest.param(
        doc('kind = "bargaining"', DEALERS),
        "protocol.outcomes",
        "exactly one of outcomes and outcome_range",
        id="no-outcomes",
    ),
    pytest.param(
        doc(BARGAIN + "\noutcomes = [1, 2]", DEALERS),
        "protocol.outcome_range",
        "exactly one",
        id="both-outcomes",
    ),
    pytest.param(
        doc('kind = "bargaining"\noutcome_range = [10, 0]', DEALERS),
        "protocol.outcome_range",
        "lo <= hi",
        id="outcome-range-reversed",
    ),
    pytest.param(
        doc(BARGAIN + "\nn_steps = 0", DEALERS), "protocol.n_steps", "integer >= 1", id="n-steps"
    ),
    pytest.param(
        doc(BARGAIN, agent("s", 'strategy = "stubborn"', "utility = {ideal = 1, worst = 0}")),
        "agents[0].strategy",
        "allowed: boulware, linear, conceder, hardliner",
        id="strategy",
    ),
    # hierarchy
    pytest.param(
        doc(HIER, agent("a", 'value = "high"')),
        "agents[0].value",
        "needs a number",
        id="hierarchy-value-str",
    ),
    pytest.param(
        doc(HIER, agent("a", "value = 1") + agent("b")),
        "agents[1].value",
        "needs a number",
        id="hierarchy-value-missing",
    ),
    pytest.param(
        doc(HIER + '\nstructure = "layered"'), "protocol.layers", "required", id="layers-missing"
    ),
    pytest.param(
        doc(HIER + '\nlayers = [["a"], ["b"]]'),
        "protocol.layers",
        "only used with structure 'layered'",
        id="layers-not-layered",
    ),
    pytest.param(
        doc(HIER + '\nstructure = "layered"\nlayers = [["b"], ["a"]]'),
        "protocol.layers[0]",
        "only the root",
        id="layers-root",
    ),
    pytest.param(
        doc(HIER + '\nstructure = "layered"\nlayers = [["a"]]'),
        "protocol.layers",
        "agents in no layer: b",
        id="layers-missing-agent",
    ),
    pytest.param(
        doc(HIER + '\nstructure = "layered"\nlayers = [["a"], ["b", "a"]]'),
        "protocol.layers[1][1]",
        "listed twice",
        id="layers-twice",
    ),
    pytest.param(
        doc(HIER + '\nstructure = "layered"\nlayers = [["a"], ["b", "q"]]'),
        "protocol.layers[1][1]",
        "unknown agent 'q'",
        id="layers-unknown",
    ),
    pytest.param(
        doc(HIER + '\nstructure = "layered"\nlayers = [["a"], []]'),
        "protocol.layers[1]",
        "must not be empty",
        id="layers-empty-layer",
    ),
    pytest.param(
        doc(HIER + "\nbranching_factor = 0"),
        "protocol.branching_factor",
        "integer >= 1",
        id="branching",
    ),
    pytest.param(
        doc(HIER + '\naggregate = "avg"'),
        "protocol.aggregate",
        "allowed: mean, sum, min, max, median, vote",
        id="aggregate",
    ),
    # conflicts
    pytest.param(doc(CONFLICT), "conflicts", "at least one", id="conflict-none"),
    pytest.param(
        doc(AUCTION, tail=A_CONFLICT),
        "conflicts",
        "only used with protocol kind 'conflict'",
        id="conflicts-not-conflict",
    ),
    pytest.param(
        doc(CONFLICT + '\nstrategy = "resource_partitioning"', tail=A_CONFLICT),
        "protocol.available_resources",
        "required when strategy",
        id="partitioning-no-resources",
    ),
    pytest.param(
        doc(CONFLICT + '\nfallback_strategy = "resource_partitioning"', tail=A_CONFLICT),
        "protocol.available_resources",
        "required when fallback_strategy",
        id="fallback-no-resources",
    ),
    pytest.param(
        doc(CONFLICT + '\nstrategy = "vote"', tail=A_CONFLICT),
        "protocol.strategy",
        "allowed: compromise, priority_override",
        id="conflict-strategy",
    ),
    pytest.param(
        doc(CONFLICT + '\nleader = "q"', tail=A_CONFLICT),
        "protocol.leader",
        "unknown agent 'q'",
        id="leader-unknown",
    ),
    pytest.param(
        doc(CONFLICT + "\ntime_slot_duration = 0", tail=A_CONFLICT),
        "protocol.time_slot_duration",
        ">= 1",
        id="time-slot",
    ),
    pytest.param(
        doc(CONFLICT, tail=A_CONFLICT.replace('["a", "b"]', '["a", "q"]')),
        "conflicts[0].conflicting_agents[1]",
        "unknown agent 'q'",
        id="conflict-agent-unknown",
    ),
    pytest.param(
        doc(CONFLICT, tail=A_CONFLICT.replace("[0.1, 1.5]", "[0.1]")),
        "conflicts[0].requested_values",
        "1 values for 2",
        id="conflict-values-count",
    ),
    pytest.param(
        doc(CONFLICT, tail=A_CONFLICT + 'conflict_type = "clash"'),
        "conflicts[0].conflict_type",
        "allowed: value_incompatible, resource_competition, temporal_constraint",
        id="conflict-type",
    ),
    pytest.param(
        doc(CONFLICT, tail=A_CONFLICT.replace('["a", "b"]', '["a", "a"]')),
        "conflicts[0].conflicting_agents[1]",
        "agent 'a' is listed twice",
        id="conflict-agent-twice",
    ),
    pytest.param(
        doc(CONFLICT, tail=A_CONFLICT.replace('["a", "b"]', "[]").replace("[0.1, 1.5]", "[]")),
        "conflicts[0].conflicting_agents",
        "must not be empty",
        id="conflict-no-agents",
    ),
    pytest.param(
        doc(CONFLICT, tail=A_CONFLICT.replace("[0.1, 1.5]", "[nan, 1.5]")),
        "conflicts[0].requested_values[0]",
        "must be a finite number, got nan",
        id="conflict-value-nan",
    ),
    pytest.param(
        doc(CONFLICT, tail=A_CONFLICT.replace("[0.1, 1.5]", "[0.1, -inf]")),
        "conflicts[0].requested_values[1]",
        "must be a finite number, got -inf",
        id="conflict-value-inf",
    ),
    pytest.param(
        doc(CONFLICT, tail=A_CONFLICT.replace("[0.1, 1.5]", "[true, 1.5]")),
        "conflicts[0].requested_values[0]",
        "expected int | float | str, got bool",
        id="conflict-value-bool",
    ),
    pytest.param(
        doc(CONFLICT, tail=A_CONFLICT.replace('"temperature"', '" "')),
        "conflicts[0].variable_id",
        "must not be empty",
        id="conflict-variable-blank",
    ),
    pytest.param(
        doc(CONFLICT + "\navailable_resources = -1", tail=A_CONFLICT),
        "protocol.available_resources",
        "must be a finite number >= 0",
        id="conflict-available-negative",
    ),
    pytest.param(
        doc(CONFLICT + "\nbase_bid = 0", tail=A_CONFLICT),
        "protocol.base_bid",
        "must be a finite number > 0",
        id="conflict-base-bid",
    ),
    # network
    pytest.param(
        doc(AUCTION, tail="[network]\ndrop_rate = 1.5"),
        "network.drop_rate",
        ">= 0 and <= 1, got 1.5",
        id="drop-rate",
    ),
    pytest.param(
        doc(AUCTION, tail="[network]\nduplicate_rate = -0.1"),
        "network.duplicate_rate",
        "got -0.1",
        id="duplicate-rate",
    ),
    pytest.param(
        doc(AUCTION, tail="[network]\nlatency_ms = [5, 1]"),
        "network.latency_ms",
        "lo <= hi",
        id="latency-reversed",
    ),
    pytest.param(
        doc(AUCTION, tail="[network]\nlatency_ms = -1"),
        "network.latency_ms",
        ">= 0",
        id="latency-negative",
    ),
    pytest.param(
        doc(AUCTION, tail="[network]\nlatency_ms = [1, 2, 3]"),
        "network.latency_ms",
        "length 2",
        id="latency-triple",
    ),
    pytest.param(
        doc(AUCTION, tail='[network]\nreorder = "yes"'),
        "network.reorder",
        "expected bool, got str",
        id="reorder",
    ),
    # faults
    pytest.param(
        doc(AUCTION, tail=fault("at_ms = 0", 'crash = "z"')),
        "faults[0].crash",
        "unknown agent 'z' (allowed: a, b, @leader)",
        id="crash-unknown",
    ),
    pytest.param(
        doc(AUCTION, tail=fault("at_ms = 0", 'restart = "@leader"')),
        "faults[0].restart",
        "unknown agent '@leader'",
        id="restart-leader",
    ),
    pytest.param(
        doc(AUCTION, tail=fault("at_ms = 10")),
        "faults[0]",
        "needs an action (allowed: crash, restart, partition, heal, byzantine, link, "
        "partition_oneway, add_node, remove_node)",
        id="fault-no-action",
    ),
    pytest.param(
        doc(AUCTION, tail=fault("at_ms = 0", 'crash = "a"', 'restart = "a"')),
        "faults[0].restart",
        "exactly one action",
        id="fault-two-actions",
    ),
    pytest.param(
        doc(AUCTION, tail=fault("at_ms = -5", 'crash = "a"')),
        "faults[0].at_ms",
        "integer >= 0",
        id="fault-at-negative",
    ),
    pytest.param(
        doc(AUCTION, tail=fault('crash = "a"')),
        "faults[0].at_ms",
        "missing required field",
        id="fault-at-missing",
    ),
    pytest.param(
        doc(AUCTION, tail=fault("at_ms = 0", 'partition = [["a"], ["q"]]')),
        "faults[0].partition[1][0]",
        "unknown agent 'q'",
        id="partition-unknown",
    ),
    pytest.param(
        doc(AUCTION, tail=fault("at_ms = 0", 'partition = [["a"], ["a"]]')),
        "faults[0].partition[1][0]",
        "in two groups",
        id="partition-twice",
    ),
    pytest.param(
        doc(AUCTION, tail=fault("at_ms = 0", "partition = [[]]")),
        "faults[0].partition[0]",
        "must not be empty",
        id="partition-empty-group",
    ),
    pytest.param(
        doc(AUCTION, tail=fault("at_ms = 0", "heal = false")),
        "faults[0].heal",
        "must be true",
        id="heal-false",
    ),
    pytest.param(
        doc(PBFT, tail=fault("at_ms = 0", 'byzantine = "a"')),
        "faults[0].behavior",
        "required (allowed: silent, equivocate",
        id="byzantine-no-behavior",
    ),
    pytest.param(
        doc(PBFT, tail=fault("at_ms = 0", 'byzantine = "a"', 'behavior = "evil"')),
        "faults[0].behavior",
        "invalid value 'evil'",
        id="byzantine-behavior",
    ),
    pytest.param(
        doc(AUCTION, tail=fault("at_ms = 0", 'byzantine = "a"', 'behavior = "silent"')),
        "faults[0].byzantine",
        "pbft or blockchain",
        id="byzantine-in-auction",
    ),
    # top level and syntax
    pytest.param(
        doc(AUCTION, head='seed = "x"').replace("seed = 1\n", "", 1),
        "seed",
        "expected int, got str",
        id="seed-str",
    ),
    pytest.param(
        doc(AUCTION).replace('name = "t"\n', ""),
        "name",
        "missing required field",
        id="name-missing",
    ),
    pytest.param(
        doc(AUCTION, head="colour = 1"),
        "colour",
        "unknown field (allowed: name, seed, protocol",
        id="top-level-typo",
    ),
    pytest.param(
        'name = "t"\n[protocol\nkind = "ping"', "<document>", "invalid TOML", id="toml-syntax"
    ),
    pytest.param(
        doc("kind = 'ping'", head='name = "again"'),
        "<document>",
        "invalid TOML: cannot overwrite a value",
        id="toml-duplicate-key",
    ),
]


@pytest.mark.parametrize(("text", "field", "fragment"), INVALID)
def test_invalid_document_names_its_field(text: str, field: str, fragment: str) -> None:
    """Each invalid document raises ScenarioError naming the file, the field and the problem."""
    with pytest.raises(ScenarioError) as caught:
        parse(text)
    message = str(caught.value)
    assert message.startswith(f"bad.toml: {field}: "), message
    assert fragment in message
    assert caught.value.field == field
    assert caught.value.path == "bad.toml"
    assert "\n" not in message


def test_invalid_table_is_large() -> None:
    """The table of invalid documents covers at least thirty distinct cases."""
    assert len({p.id for p in INVALID}) == len(INVALID) >= 30


@pytest.mark.parametrize("path", _shared(invalid=False))
def test_shared_scenario_loads(path: Path | None) -> None:
    """Every shared example scenario that is not ``invalid-*`` loads."""
    assert path is not None, f"the shared scenarios are missing: expected {SCENARIOS}"
    scenario = load_scenario(path)
    assert scenario.agents
    assert isinstance(scenario, Scenario)


@pytest.mark.parametrize("path", _shared(invalid=True))
def test_shared_invalid_scenario_is_refused(path: Path | None) -> None:
    """Each shared ``invalid-*`` scenario raises ScenarioError mentioning every expected string."""
    assert path is not None, f"the shared scenarios are missing: expected {SCENARIOS}"
    expect = json.loads(path.with_suffix(".expect.json").read_text())
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    for mention in expect["stderr_mentions"]:
        assert mention in message


@pytest.mark.parametrize("path", _shared(invalid=False) + _shared(invalid=True))
def test_shared_scenario_same_as_json(path: Path | None) -> None:
    """The JSON spelling of a shared scenario gives the same Scenario (or the same error)."""
    assert path is not None, f"the shared scenarios are missing: expected {SCENARIOS}"
    text = path.read_text()
    as_json = json.dumps(tomllib.loads(text))

    def outcome(data: str, fmt: str) -> Scenario | str:
        try:
            return parse(data, fmt)
        except ScenarioError as exc:
            return f"{exc.field}: {exc.problem}"

    assert outcome(text, "toml") == outcome(as_json, "json")


def test_json_and_toml_agree() -> None:
    """One scenario written in TOML and in JSON decodes to equal Structs."""
    text = doc(
        'kind = "consensus"\nalgorithm = "raft"\nproposals = [{temperature = 0.7}]',
        agent("n1") + agent("n2") + agent("n3"),
        "[network]\nlatency_ms = [1, 5]\n" + fault("at_ms = 400", 'crash = "@leader"'),
    )
    from_toml = parse(text)
    from_json = parse(json.dumps(tomllib.loads(text)), "json")
    assert from_toml == from_json
    assert parse(msgspec.json.encode(from_toml).decode(), "json") == from_toml
    assert from_toml.network.latency_ms == [1.0, 5.0]  # [lo, hi]: a list of two (Pair)
    assert from_toml.faults == [FaultSpec(at_ms=400, crash="@leader")]


def test_seed_override(tmp_path: Path) -> None:
    """``seed=`` replaces the file's seed; without it the file's seed stands."""
    path = tmp_path / "s.toml"
    path.write_text(doc('kind = "ping"'))
    assert load_scenario(path).seed == 1
    assert load_scenario(path, seed=42).seed == 42
    assert load_scenario(str(path), seed=0).seed == 0


def test_json_file_loads(tmp_path: Path) -> None:
    """A ``.json`` file is decoded as JSON."""
    path = tmp_path / "s.json"
    path.write_text(
        json.dumps({"name": "j", "protocol": {"kind": "ping"}, "agents": [{"id": "a"}]})
    )
    scenario = load_scenario(path)
    assert scenario.protocol == PingOptions()
    assert scenario.seed == 0


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        pytest.param(
            "s.yaml",
            b"name: x",
            "unsupported file extension '.yaml' (allowed: .toml, .json)",
            id="yaml",
        ),
        pytest.param("scenario", b"", "no file extension", id="no-extension"),
        pytest.param("missing.toml", None, "cannot read", id="missing"),
        pytest.param("s.toml", b"\xff\xfe name", "<document>: not UTF-8", id="not-utf8"),
        pytest.param("s.json", b"{", "<document>: invalid JSON", id="bad-json"),
        pytest.param(
            "s.json", b"[1, 2]", "<document>: expected object, got array", id="json-array"
        ),
    ],
)
def test_unreadable_files_are_scenario_errors(
    tmp_path: Path, name: str, content: bytes | None, fragment: str
) -> None:
    """Files that cannot be read or decoded raise ScenarioError naming the file."""
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert fragment in str(caught.value)


def test_defaults() -> None:
    """Omitted fields take the defaults of SCENARIOS.md and PROTOCOLS.md."""
    scenario = parse(doc(AUCTION, agent("a")))
    assert scenario.network == NetworkSpec(latency_ms=1.0, drop_rate=0.0, reorder=False)
    assert scenario.faults == []
    assert scenario.conflicts == []
    assert scenario.protocol == AuctionOptions(
        auction_type="sealed_bid", reserve_price=0.0, increment=0.1, max_rounds=1000
    )
    assert scenario.protocol.reply_timeout_ms == 1000
    spec = scenario.agents[0]
    assert (spec.weight, spec.priority, spec.urgency, spec.importance, spec.resources) == (
        1.0,
        0.0,
        1.0,
        1.0,
        1.0,
    )
    assert (spec.bid, spec.vote, spec.reserved, spec.utility) == (None, None, 0.0, None)
    raft = ConsensusOptions(proposals=[1])
    assert (raft.election_timeout_ms, raft.heartbeat_ms, raft.timeout_ms) == (
        (150, 300),
        50,
        30_000,
    )
    assert HierarchyOptions().branching_factor == 3


def test_integers_stay_integers() -> None:
    """Agent values and bargaining outcomes keep the integer/float spelling of the file."""
    scenario = parse(doc('kind = "bargaining"\noutcomes = [0, 2.5]', DEALERS))
    assert scenario.protocol.outcomes == [0, 2.5]  # type: ignore[union-attr]
    assert isinstance(scenario.protocol.outcomes[0], int)  # type: ignore[union-attr]
    assert parse(doc(AUCTION, agent("a", "value = 3"))).agents[0].value == 3


def test_direct_construction_checks_ranges() -> None:
    """Building a Struct in code applies the same field rules as loading a file."""
    with pytest.raises(ConfigError, match="bid: must be a finite number >= 0"):
        AgentSpec(id="a", bid=-1.0)
    with pytest.raises(ConfigError, match="needs an action"):
        FaultSpec(at_ms=0)


# ---------------------------------------------------------------- fuzzing

FIELD_NAMES = sorted(
    {"kind", "@leader", "auction", "consensus", "market", "bargaining", "hierarchy", "ping"}
    | {
        f.name
        for cls in (Scenario, AgentSpec, FaultSpec, NetworkSpec)
        for f in msgspec.structs.fields(cls)
    }
    | {
        f.name
        for cls in (AuctionOptions, ConsensusOptions, HierarchyOptions)
        for f in msgspec.structs.fields(cls)
    }
    | {
        "side",
        "resource",
        "price",
        "quantity",
        "ideal",
        "worst",
        "items",
        "outcomes",
        "outcome_range",
    }
    | {"pricing_mechanism", "strategy", "conflicting_agents", "requested_values", "variable_id"}
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(FIELD_NAMES)
)
keys = st.sampled_from(FIELD_NAMES) | st.text(max_size=6)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25,
)


def to_toml(document: dict[str, Any]) -> str:
    """A TOML spelling of a plain document (inline tables; None is left out)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float) and not math.isfinite(v):
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v, ensure_ascii=False)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v if x is not None) + "]"
        return (
            "{"
            + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items() if x is not None)
            + "}"
        )

    return "".join(f"{json.dumps(k)} = {value(v)}\n" for k, v in document.items() if v is not None)


def parses_or_refuses(data: bytes, fmt: str) -> None:
    """Parse ``data``: it must give a Scenario or a one-line ScenarioError, nothing else."""
    result: Scenario | ScenarioError
    try:
        result = parse_scenario(data, path=f"fuzz.{fmt}", fmt="json" if fmt == "json" else "toml")
    except ScenarioError as exc:
        result = exc
    if isinstance(result, ScenarioError):
        assert str(result).startswith(f"fuzz.{fmt}: ")
        assert str(result).splitlines() == [str(result)]
    else:
        assert isinstance(result, Scenario)


SAMPLES = [
    tomllib.loads(doc(COMBI, agent("a", 'bundles = [{items = ["A"], bid = 5.0}]') + agent("b"))),
    tomllib.loads(
        doc(
            VOTE + "\nweights = {a = 2.0}",
            agent("a", "vote = 0") + agent("b", "vote = 1"),
            fault("at_ms = 5", 'partition = [["a"], ["b"]]'),
        )
    ),
    tomllib.loads(
        doc(
            MARKET,
            agent("a", 'orders = [{side = "buy", resource = "cpu", quantity = 2, price = 10.0}]')
            + agent("b", 'orders = [{side = "sell", resource = "cpu", price = 4.0}]'),
        )
    ),
    tomllib.loads(
        doc(
            BARGAIN + "\nn_steps = 10", DEALERS, "[network]\nlatency_ms = [1, 3]\ndrop_rate = 0.1\n"
        )
    ),
    tomllib.loads(doc(HIER + '\nstructure = "layered"\nlayers = [["a"], ["b"]]')),
    tomllib.loads(doc(CONFLICT + '\nfallback_strategy = "priority_override"', tail=A_CONFLICT)),
    tomllib.loads(doc(PBFT, tail=fault("at_ms = 0", 'byzantine = "a"', 'behavior = "silent"'))),
]


def test_samples_are_valid() -> None:
    """The fuzzer's starting documents are themselves valid, in TOML and in JSON."""
    for sample in SAMPLES:
        assert parse(to_toml(sample)) == parse(json.dumps(sample), "json")


def mutate(document: Any, data: st.DataObject) -> Any:
    """Change one randomly chosen spot of ``document``: drop, replace, add or repeat."""
    if isinstance(document, (dict, list)) and document and data.draw(st.booleans()):
        copy = dict(document) if isinstance(document, dict) else list(document)
        spot = data.draw(
            st.sampled_from(list(copy.keys() if isinstance(copy, dict) else range(len(copy))))
        )
        copy[spot] = mutate(copy[spot], data)
        return copy
    action = data.draw(st.sampled_from(["replace", "drop", "add", "repeat"]))
    if action == "replace" or not isinstance(document, (dict, list)) or not document:
        return data.draw(values)
    if isinstance(document, list):
        index = data.draw(st.integers(0, len(document) - 1))
        return (
            document[:index] + document[index + 1 :]
            if action == "drop"
            else [*document, document[index]]
        )
    copy = dict(document)
    if action == "drop":
        copy.pop(data.draw(st.sampled_from(sorted(copy))))
    else:
        copy[data.draw(keys)] = data.draw(values)
    return copy  # fmt: skip


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=200), st.sampled_from(["toml", "json"]))
def test_fuzz_random_bytes(data: bytes, fmt: str) -> None:
    """Random bytes give a Scenario or a ScenarioError, never another exception."""
    parses_or_refuses(data, fmt)


@FUZZ
@given(st.dictionaries(keys, values, max_size=6))
def test_fuzz_random_documents(document: dict[str, Any]) -> None:
    """Random well-formed TOML and JSON documents never raise anything but ScenarioError."""
    parses_or_refuses(json.dumps(document).encode(), "json")
    parses_or_refuses(to_toml(document).encode(), "toml")


@FUZZ
@given(st.sampled_from(SAMPLES), st.data())
def test_fuzz_mutated_documents(sample: dict[str, Any], data: st.DataObject) -> None:
    """Valid documents changed at one to three spots never raise anything but ScenarioError."""
    document: Any = sample
    for _ in range(data.draw(st.integers(1, 3))):
        document = mutate(document, data)
    if not isinstance(document, dict):
        document = {"name": document}
    parses_or_refuses(json.dumps(document).encode(), "json")
    parses_or_refuses(to_toml(document).encode(), "toml")


@FUZZ
@given(st.sampled_from(SAMPLES), st.data())
def test_fuzz_mutated_text(sample: dict[str, Any], data: st.DataObject) -> None:
    """Valid TOML and JSON text with a slice replaced never raises anything but ScenarioError."""
    for fmt, text in (("toml", to_toml(sample)), ("json", json.dumps(sample))):
        start = data.draw(st.integers(0, len(text)))
        end = data.draw(st.integers(start, min(len(text), start + 8)))
        junk = data.draw(st.text(alphabet='{}[]",=:.-_0123456789aeinfrstu \n', max_size=6))
        parses_or_refuses((text[:start] + junk + text[end:]).encode(), fmt)


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        pytest.param("a = " + "[" * 5000 + "]" * 5000, "toml", id="toml"),
        pytest.param(
            '{"name": "x", "protocol": {"kind": "consensus", "proposals": '
            + "[" * 100_000
            + "]" * 100_000
            + '}, "agents": [{"id": "a"}]}',
            "json",
            id="json",
        ),
    ],
)
def test_deep_nesting_is_refused(text: str, fmt: str) -> None:
    """Absurdly deep nesting is a ScenarioError on the document, not a RecursionError."""
    with pytest.raises(ScenarioError, match="<document>: nested too deeply"):
        parse(text, fmt)


def test_combinatorial_market_without_named_resources_takes_any_bundle_item() -> None:
    """With no order, price or supply naming a resource, the bundles' items are the items."""
    text = doc(
        'kind = "market"\npricing_mechanism = "combinatorial_auction"',
        agent("a", 'bundles = [{items = ["A", "B"], bid = 2.0}]'),
    )
    assert parse(text).agents[0].bundles[0].items == ["A", "B"]

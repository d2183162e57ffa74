"""The ``consensus`` scenario kind: voting (three rules), Raft, PBFT and the PoA chain.

Each algorithm has its own driver module (:mod:`._voting`, :mod:`._raft`, :mod:`._pbft`,
:mod:`._chain`), imported when a scenario runs it; this module holds the kind's options,
rules and record, dispatches to the drivers and gives the kind one byzantine factory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypeAlias, get_args

from .._errors import ConfigError
from ._kind import GENERIC_BEHAVIORS, Kind, Outcome
from ._spec import ByzantineBehavior, Count, NonEmpty, NonNegative, _Options

if TYPE_CHECKING:
    from ..sim import Interceptor
    from ._load import Rules
    from ._run import ScenarioRun
    from ._schema import Scenario

Algorithm: TypeAlias = Literal[
    "simple_majority", "weighted_voting", "unanimous", "raft", "pbft", "blockchain"
]
IMPLEMENTED: tuple[str, ...] = get_args(Algorithm)
"""The algorithms of ``kind = "consensus"`` that run today (all of them)."""


class ConsensusOptions(_Options, frozen=True, kw_only=True, tag="consensus"):
    """``kind = "consensus"``: voting, Raft, PBFT or proof-of-authority blockchain."""

    algorithm: Algorithm = "simple_majority"
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


def check(rules: Rules, options: ConsensusOptions) -> None:
    """Votes index into proposals; weights name agents."""
    for i, spec in enumerate(rules.scenario.agents):
        if spec.vote is not None and spec.vote >= len(options.proposals):
            last = len(options.proposals) - 1
            rules.fail(f"agents[{i}].vote", f"index {spec.vote} is outside proposals (0..{last})")
    for agent_id in options.weights or {}:
        rules.agent(f"protocol.weights.{agent_id}", agent_id)


def refuse(scenario: Scenario) -> tuple[str, str] | None:
    """(field, problem) when the scenario asks for an algorithm not implemented yet."""
    options = scenario.protocol
    assert isinstance(options, ConsensusOptions)
    if options.algorithm not in IMPLEMENTED:
        return "protocol.algorithm", f"algorithm {options.algorithm!r} is not implemented yet"
    return None


async def drive(run: ScenarioRun) -> Outcome:
    """Run the scenario's algorithm."""
    algorithm = run.options.algorithm
    if algorithm == "raft":
        from . import _raft as driver
    elif algorithm == "pbft":
        from . import _pbft as driver  # type: ignore[no-redef]
    elif algorithm == "blockchain":
        from . import _chain as driver  # type: ignore[no-redef]
    else:
        from . import _voting as driver  # type: ignore[no-redef]
    return await driver.drive(run)


def byzantine(run: ScenarioRun, agent: str, behavior: str) -> Interceptor | None:
    """The kind's byzantine factory: the chain's in a blockchain run, else PBFT's (the
    loader allows byzantine faults only with pbft and blockchain)."""
    if run.options.algorithm == "blockchain":
        from . import _chain

        return _chain.byzantine(run, agent, behavior)
    from . import _pbft

    return _pbft.byzantine(run, agent, behavior)


BEHAVIORS = tuple(b for b in get_args(ByzantineBehavior) if b not in GENERIC_BEHAVIORS)
"""The byzantine behaviors the kind implements beyond the generic ones: every one the
schema admits (PBFT and the chain each implement them all)."""


KIND = Kind(
    options=ConsensusOptions,
    drive=drive,
    check=check,
    refuse=refuse,
    byzantine=byzantine,
    behaviors=BEHAVIORS,
)
"""``kind = "consensus"``: each algorithm spawns its own agents (voters, Raft nodes,
replicas, validators)."""

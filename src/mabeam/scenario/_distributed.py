"""Running a scenario with its agents on other processes, over NATS (``mabeam run --processes``).

The in-process run (:func:`~._run.run_scenario`) puts every actor in one system on the
simulated network, in virtual time. Here the coordinator stays in this process, on a
node of a NATS cluster, and the agents are spawned round-robin on the other nodes
(``mabeam node`` processes that allow their classes): messages really cross process
boundaries, in **real time**, with NATS's latency instead of the scenario's network
model.

What can run this way is scoped honestly:

- kinds: ``auction``, ``consensus`` with a voting algorithm (``simple_majority``,
  ``weighted_voting``, ``unanimous``), ``bargaining`` and ``market``. Their agents are
  answer-only actors that the coordinator asks by name, so the result does not depend
  on timing and is the in-process run's, field for field (continuous trading is the
  exception: its orders are timed, and real time can order two close ones differently).
- ``consensus`` with ``raft``, ``pbft`` or ``blockchain``: the nodes (replicas,
  validators) are the agents, built on their node from codec-encodable arguments
  (:class:`ScenarioRaftNode`, :class:`ScenarioPbftReplica`, :class:`ScenarioValidator`),
  and the cluster's client is the coordinator. Their timers run in real time, so the
  leader, views, terms and heights may differ from the in-process run; the algorithms'
  safety holds (a chain run also checks that no two validators made different blocks
  final at one height: else ``safety_violation``).
- no faults (crash and membership faults need the agents' supervisor, which remote
  agents lack here; the others act on the simulated network) and a network without
  loss, duplication or reordering: they are the simulated network's, and there is none
  here.

Everything else is refused before any process starts (:func:`check_distributable`), with
the kind and what is supported. The report's ``stats`` are not the simulated network's:
the message counts are 0 (nothing counts messages across processes) and ``virtual_ms``
is the wall time of the run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from .._errors import ScenarioError
from ..protocols.bargaining import NegotiatorAgent
from ..protocols.consensus.chain.actor import ValidatorAgent
from ..protocols.consensus.chain.api import ChainCluster
from ..protocols.consensus.chain.block import Keyring as ChainKeyring
from ..protocols.consensus.chain.tree import BlockTree
from ..protocols.consensus.chain.validator import ChainConfig
from ..protocols.consensus.pbft.actor import PbftReplicaActor
from ..protocols.consensus.pbft.api import PbftCluster
from ..protocols.consensus.pbft.auth import Keyring as PbftKeyring
from ..protocols.consensus.pbft.replica import PbftConfig
from ..protocols.consensus.pbft.storage import PbftStorage
from ..protocols.consensus.raft import RaftConfig
from ..protocols.consensus.raft.actor import RaftAgent
from ..protocols.consensus.raft.storage import MemoryStorage
from ..runtime import ActorSystem
from ._kind import COORDINATOR, Outcome, RunFailure, protocol_kind
from ._run import RunReport, RunStats, ScenarioRun, check_runnable, kind_of

if TYPE_CHECKING:
    from ..protocols.bargaining import Utility
    from ._schema import Scenario
    from ._spec import AgentSpec

DRIVER_NODE = "driver"
"""The node name of the process that runs the coordinator."""
VOTING = ("simple_majority", "weighted_voting", "unanimous")
ALGORITHMS = (*VOTING, "raft", "pbft", "blockchain")
"""The consensus algorithms that run with --processes."""
STATUS_TO = f"{COORDINATOR}.status"
"""Where the consensus nodes tell their statuses: the collector of the coordinator (the
cluster API's client, named ``coordinator`` by the drivers)."""
SUPPORTED = ("auction", "bargaining", "consensus", "market")
SUPPORTED_TEXT = (
    "auction, bargaining, market, and consensus with algorithm simple_majority, "
    "weighted_voting, unanimous, raft, pbft or blockchain"
)


class ScenarioNegotiator(NegotiatorAgent):
    """A bargaining scenario's negotiator, built from data that can cross a process
    boundary (its strategy object cannot): the same actor as in-process once made."""

    def __init__(
        self,
        utility: Utility,
        outcomes: list[int | float],
        strategy: str,
        reserved: float,
        exponent: float | None,
    ) -> None:
        from ..protocols.bargaining import AspirationStrategy

        super().__init__(
            AspirationStrategy(
                utility, outcomes, strategy=strategy, reserved=reserved, exponent=exponent
            )
        )


class ScenarioRaftNode(RaftAgent):
    """A Raft scenario's node, built from data that can cross a process boundary: its
    config as a dict of fields, its random stream as a seed text, its storage a fresh
    :class:`MemoryStorage` (nothing restarts it: crash faults are refused)."""

    def __init__(
        self,
        node_id: str,
        peers: list[str],
        config: dict[str, Any],
        seed: str,
        status_to: str,
    ) -> None:
        fields = dict(config)
        fields["election_timeout_ms"] = tuple(fields["election_timeout_ms"])
        super().__init__(
            node_id, peers, MemoryStorage(), RaftConfig(**fields), random.Random(seed), status_to
        )


class ScenarioPbftReplica(PbftReplicaActor):
    """A PBFT scenario's replica, built from data that can cross a process boundary: the
    keyring from the cluster's seed text (the client derives the same keys), its config as
    a dict of fields, a fresh non-durable store (nothing restarts it)."""

    def __init__(
        self,
        replica_id: str,
        replicas: list[str],
        keyring_seed: str,
        config: dict[str, Any],
        status_to: str,
    ) -> None:
        super().__init__(
            replica_id,
            replicas,
            PbftKeyring(keyring_seed),
            PbftConfig(**config),
            status_to,
            storage=PbftStorage(durable=False),
        )


class ScenarioValidator(ValidatorAgent):
    """A blockchain scenario's validator, built from data that can cross a process
    boundary: the keyring from the run's key seed (its own private key only), its config
    as a dict of fields, its random stream as a seed text, a fresh block tree."""

    def __init__(
        self,
        node_id: str,
        validators: list[str],
        keys_seed: int,
        config: dict[str, Any],
        seed: str,
        status_to: str,
    ) -> None:
        chain_config = ChainConfig(**config)
        super().__init__(
            node_id,
            BlockTree(validators, chain_config.finality_depth),
            ChainKeyring.from_seed(keys_seed, validators).for_signer(node_id),
            chain_config,
            random.Random(seed),
            status_to,
        )


def agent_classes() -> list[type]:
    """The actor classes a node must allow for every kind this module runs."""
    from ..protocols.auction import BidderAgent
    from ..protocols.consensus.voting_actor import Voter
    from ..protocols.market import TraderAgent

    return [
        BidderAgent,
        Voter,
        ScenarioNegotiator,
        TraderAgent,
        ScenarioRaftNode,
        ScenarioPbftReplica,
        ScenarioValidator,
    ]


def check_distributable(scenario: Scenario, path: str) -> None:
    """Refuse (ScenarioError) what cannot run on several processes: before any starts."""
    check_runnable(scenario, path)
    kind = protocol_kind(scenario)
    if kind not in SUPPORTED:
        raise ScenarioError(
            path,
            "protocol.kind",
            f"kind {kind!r} cannot run with --processes yet",
            allowed=SUPPORTED_TEXT,
        )
    algorithm = getattr(scenario.protocol, "algorithm", None)
    if kind == "consensus" and algorithm not in ALGORITHMS:
        raise ScenarioError(
            path,
            "protocol.algorithm",
            f"consensus algorithm {algorithm!r} cannot run with --processes yet",
            allowed=SUPPORTED_TEXT,
        )
    if scenario.faults:
        supervised = ("crash", "restart", "add_node", "remove_node")
        if any(getattr(f, field) is not None for f in scenario.faults for field in supervised):
            problem = (
                "crash, restart and membership faults go through the agents' supervisor, "
                "and the agents on other processes have none here"
            )
        else:
            problem = "faults act on the simulated network, which --processes does not use"
        raise ScenarioError(path, "faults", problem, allowed="no faults with --processes")
    network = scenario.network
    for field in ("drop_rate", "duplicate_rate"):
        if getattr(network, field):
            raise ScenarioError(
                path,
                f"network.{field}",
                "is the simulated network's; --processes runs over NATS in real time",
                allowed="0 with --processes",
            )
    if network.reorder:
        raise ScenarioError(
            path,
            "network.reorder",
            "is the simulated network's; --processes runs over NATS in real time",
            allowed="false with --processes",
        )


def _remote_factory(run: ScenarioRun) -> Callable[[AgentSpec], Any]:
    """Each agent's (class, args, kwargs) with arguments the codec carries."""
    kind = run.kind.name
    if kind == "bargaining":
        from ._bargaining import outcomes

        values = outcomes(run.options)

        def negotiator(agent: AgentSpec) -> Any:
            from ..protocols.bargaining import Utility

            assert agent.utility is not None  # checked when the scenario was loaded
            utility = Utility(ideal=agent.utility.ideal, worst=agent.utility.worst)
            args = (utility, values, agent.strategy or "linear", agent.reserved, agent.exponent)
            return ScenarioNegotiator, args, {}

        return negotiator
    if kind == "consensus" and run.options.algorithm == "raft":
        from ._raft import _config

        config = dataclasses.asdict(_config(run.options))

        def raft_node(agent: AgentSpec) -> Any:
            # The driver's cluster names its status collector after its client.
            args = (agent.id, run.agent_ids, config, f"{run.seed}:raft:{agent.id}", STATUS_TO)
            return ScenarioRaftNode, args, {}

        return raft_node
    if kind == "consensus" and run.options.algorithm == "pbft":

        def pbft_replica(agent: AgentSpec) -> Any:
            # Called while the driver spawns its agents: its cluster (keys, config) is built.
            cluster = run.cluster
            assert isinstance(cluster, PbftCluster)
            config = dataclasses.asdict(cluster.config)
            args = (agent.id, cluster.replica_ids, cluster.keyring.seed, config, STATUS_TO)
            return ScenarioPbftReplica, args, {}

        return pbft_replica
    if kind == "consensus" and run.options.algorithm == "blockchain":
        return _validator_factory(run)
    if kind == "consensus":
        from ._voting import _voter

        return _voter
    factory = run.kind.agent
    assert factory is not None  # auction and market have one
    return factory


def _validator_factory(run: ScenarioRun) -> Callable[[AgentSpec], Any]:
    """The chain driver derives its keyring from the first draw of the run's protocol
    rng; the validators elsewhere derive theirs from the same seed, checked against the
    driver's public keys (a validator with other keys would seal blocks nobody accepts)."""
    keys_seed = random.Random(f"{run.seed}:protocol").getrandbits(64)

    def validator(agent: AgentSpec) -> Any:
        # Called while the driver spawns its agents: its chain (keys, config) is built.
        chain = run.cluster
        assert isinstance(chain, ChainCluster)
        mine = ChainKeyring.from_seed(keys_seed, chain.node_ids)
        if any(mine.public_key(v) != chain.keyring.public_key(v) for v in chain.node_ids):
            raise RuntimeError("the chain driver's keyring is not the run seed's first draw")
        config = msgspec.to_builtins(chain.config)
        seed = f"{run.seed}:chain:{agent.id}"
        args = (agent.id, chain.node_ids, keys_seed, config, seed, STATUS_TO)
        return ScenarioValidator, args, {}

    return validator


def _chain_outcome(run: ScenarioRun, outcome: Outcome) -> Outcome:
    """A chain run's nodes as the validators reported them (the driver's block trees
    are not theirs here), and its safety checked: no two validators made different
    blocks final at one height (else error ``safety_violation``)."""
    from ._chain import ChainResult, NodeReport

    chain = run.cluster
    if not outcome.ok or not isinstance(chain, ChainCluster):
        return outcome
    assert isinstance(outcome.result, ChainResult)
    view = chain.view
    finals: dict[int, set[str]] = {}
    for node_id in chain.node_ids:
        for height, block_hash in view.final_blocks(node_id).items():
            finals.setdefault(height, set()).add(block_hash)
    forks = sorted(height for height, hashes in finals.items() if len(hashes) > 1)
    if forks:
        message = f"validators made different blocks final at heights {forks}"
        return Outcome(ok=False, error=RunFailure(code="safety_violation", message=message))
    nodes = {}
    for node_id in chain.node_ids:
        status = view.statuses.get(node_id)
        nodes[node_id] = (
            NodeReport(0, "", 0)
            if status is None
            else NodeReport(status.head_height, status.head_hash, status.finalized_height)
        )
    return Outcome(ok=True, result=msgspec.structs.replace(outcome.result, nodes=nodes))


def run_distributed(
    scenario: Scenario,
    servers: Sequence[str],
    nodes: Sequence[str],
    *,
    prefix: str = "mabeam",
    seed: int | None = None,
    path: str = "<scenario>",
    start_timeout: float = 30.0,
) -> RunReport:
    """Run ``scenario`` with the coordinator here and the agents on ``nodes`` (running
    ``mabeam node`` with :func:`agent_classes` allowed), over the NATS ``servers``.

    Raises ScenarioError for what cannot run this way, NodeDownError when a node is not
    heard from within ``start_timeout`` seconds.
    """
    from ..sim import SimNetwork
    from ..transport import NatsTransport

    check_distributable(scenario, path)
    kind = kind_of(scenario)
    seed = scenario.seed if seed is None else seed
    wall_start = time.perf_counter()

    async def main() -> Outcome:
        transport = NatsTransport(
            servers=list(servers), prefix=prefix, heartbeat=0.5, down_after=5.0
        )
        async with ActorSystem(DRIVER_NODE, transport=transport) as system:
            await transport.wait_for_nodes(*nodes, timeout=start_timeout)
            # The network is only the run's book of nodes here: nothing travels on it.
            network = SimNetwork(rng=random.Random(f"{seed}:network"))
            run = ScenarioRun(scenario, seed, system, network, kind)
            run.place_agents(nodes, _remote_factory(run))
            try:
                outcome = await kind.drive(run)
                if getattr(run.options, "algorithm", None) == "blockchain":
                    outcome = _chain_outcome(run, outcome)
                return outcome
            finally:
                await run.stop_faults()
                await run.stop_remote_agents()

    outcome = asyncio.run(main())
    wall_ms = round((time.perf_counter() - wall_start) * 1000.0, 3)
    stats = RunStats(
        messages_sent=0,
        messages_delivered=0,
        messages_dropped=0,
        virtual_ms=wall_ms,
        wall_ms=wall_ms,
    )
    return RunReport.of(scenario, seed, outcome, stats)

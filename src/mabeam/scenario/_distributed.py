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
- no faults and a network without loss, duplication or reordering: they are the
  simulated network's, and there is none here.

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
from ..protocols.consensus.pbft.actor import PbftReplicaActor
from ..protocols.consensus.pbft.api import PbftCluster
from ..protocols.consensus.pbft.auth import Keyring as PbftKeyring
from ..protocols.consensus.pbft.replica import PbftConfig
from ..protocols.consensus.pbft.storage import PbftStorage
from ..protocols.consensus.raft import RaftConfig
from ..protocols.consensus.raft.actor import RaftAgent
from ..protocols.consensus.raft.storage import MemoryStorage
from ..runtime import ActorSystem
from ._kind import COORDINATOR, Outcome, protocol_kind
from ._run import RunReport, RunStats, ScenarioRun, check_runnable, kind_of

if TYPE_CHECKING:
    from ..protocols.bargaining import Utility
    from ._schema import Scenario
    from ._spec import AgentSpec

DRIVER_NODE = "driver"
"""The node name of the process that runs the coordinator."""
VOTING = ("simple_majority", "weighted_voting", "unanimous")
ALGORITHMS = (*VOTING, "raft", "pbft")
"""The consensus algorithms that run with --processes."""
STATUS_TO = f"{COORDINATOR}.status"
"""Where the consensus nodes tell their statuses: the collector of the coordinator (the
cluster API's client, named ``coordinator`` by the drivers)."""
SUPPORTED = ("auction", "bargaining", "consensus", "market")
SUPPORTED_TEXT = (
    "auction, bargaining, market, and consensus with algorithm simple_majority, "
    "weighted_voting, unanimous, raft or pbft"
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
    if kind == "consensus":
        from ._voting import _voter

        return _voter
    factory = run.kind.agent
    assert factory is not None  # auction and market have one
    return factory


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
                return await kind.drive(run)
            finally:
                await run.stop_faults()
                await run.stop_remote_agents()

    outcome = asyncio.run(main())
    wall_ms = round((time.perf_counter() - wall_start) * 1000.0, 3)
    return RunReport(
        scenario=scenario.name,
        protocol=protocol_kind(scenario),
        seed=seed,
        ok=outcome.ok,
        result=msgspec.to_builtins(outcome.result, order="deterministic"),
        error=outcome.error,
        stats=RunStats(
            messages_sent=0,
            messages_delivered=0,
            messages_dropped=0,
            virtual_ms=wall_ms,
            wall_ms=wall_ms,
        ),
    )

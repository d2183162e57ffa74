"""``algorithm = "raft"`` of the consensus kind: a Raft cluster among the agents.

Each agent hosts a Raft node (its :class:`MemoryStorage` survives a crash-restart); the
coordinator is the cluster's client. It submits the proposals in order, retrying through
redirects and elections; ``"@leader"`` crash targets find the leader through the nodes'
reports. Once every proposal is applied, the run waits for the faults still scheduled
before ``timeout_ms`` and for the live nodes to catch up (at most two election timeouts),
then reports each node's final state. No commit within ``timeout_ms``: error
``no_quorum``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import msgspec

from .._log import get_logger
from ..protocols.consensus.kv import ClientCommand
from ..protocols.consensus.raft import Entry, RaftConfig
from ..protocols.consensus.raft.actor import NodeState
from ..protocols.consensus.raft.api import Committed, CommitTimeoutError, RaftCluster
from ._kind import Outcome, RunFailure, shared_fields
from ._spec import FaultSpec

if TYPE_CHECKING:
    from ._consensus import ConsensusOptions
    from ._run import ScenarioRun

_log = get_logger("mabeam.consensus")


class LogEntry(msgspec.Struct, frozen=True):
    """A log entry as results show it: ``command`` None is a leader's no-op."""

    index: int
    term: int
    command: Any = None


class NodeReport(msgspec.Struct, frozen=True):
    """A node's final state in the result (``role`` "down" for a crashed node)."""

    role: str
    term: int
    commit_index: int
    log: list[LogEntry]


class RaftResult(msgspec.Struct, frozen=True):
    """The Raft result fields of PROTOCOLS.md."""

    consensus: Any
    algorithm: str
    leader: str
    term: int
    index: int
    acknowledgments: list[str]
    committed: bool
    nodes: dict[str, NodeReport]


def _config(options: ConsensusOptions) -> RaftConfig:
    low, high = options.election_timeout_ms
    fields = shared_fields(options, RaftConfig)
    fields["election_timeout_ms"] = (float(low), float(high))
    fields["heartbeat_ms"] = float(options.heartbeat_ms)
    return RaftConfig(**fields)


def _entry(entry: Entry) -> LogEntry:
    data = entry.data
    command = data.command if isinstance(data, ClientCommand) else data
    return LogEntry(entry.index, entry.term, command)


def _report(state: NodeState) -> NodeReport:
    return NodeReport(state.role, state.term, state.commit_index, [_entry(e) for e in state.log])


def holders(states: dict[str, NodeState], index: int, term: int) -> list[str]:
    """Ids of the nodes whose log holds the entry (index, term), in node order."""
    return [
        node_id
        for node_id, state in states.items()
        if len(state.log) >= index and state.log[index - 1].term == term
    ]


async def drive(run: ScenarioRun) -> Outcome:
    """Run Raft until every proposal is committed, or ``timeout_ms``."""
    options: ConsensusOptions = run.options
    loop = asyncio.get_running_loop()
    start = loop.time()
    config = _config(options)
    cluster = RaftCluster(
        run.system,
        run.agent_ids,
        config=config,
        seed=run.rng.getrandbits(64),
        client_name="coordinator",
        retry_ms=2.0 * config.election_timeout_ms[1],
    )
    await run.spawn_agents(lambda agent: cluster.agent_spec(agent.id))
    client_class, args, kwargs = cluster.client_spec()
    client = await run.spawn_coordinator(client_class, *args, **kwargs)
    cluster.attach(client, run.agents_supervisor)
    cluster.network = run.network  # for nodes added by an add_node fault
    run.leader = cluster.leader
    changes: list[asyncio.Task[Any]] = []
    run.membership = lambda fault: _membership_fault(run, cluster, fault, changes)
    await run.start_faults()
    timeout = options.timeout_ms / 1000.0
    commits: list[Committed] = []
    try:
        for proposal in options.proposals:
            remaining = max(0.0, start + timeout - loop.time())
            commit = await cluster.propose(proposal, timeout=remaining)
            _log.info(
                "raft_proposal_committed",
                index=commit.index,
                term=commit.term,
                leader=commit.leader,
            )
            commits.append(commit)
    except CommitTimeoutError:
        _log.info("raft_no_quorum", committed=len(commits), timeout_ms=options.timeout_ms)
        message = (
            f"proposal {len(commits)} not committed within {options.timeout_ms} ms "
            "(no live majority)"
        )
        return Outcome(ok=False, error=RunFailure(code="no_quorum", message=message))
    first = commits[0]
    acknowledgments = holders(await cluster.states(), first.index, first.term)
    await _settle(run, cluster, start, commits[-1].index)
    if changes:
        await _finish_changes(run, changes, start)
        await _settle(run, cluster, start, commits[-1].index)
    states = await cluster.states()
    result = RaftResult(
        consensus=options.proposals[0],
        algorithm="raft",
        leader=first.leader,
        term=first.term,
        index=first.index,
        acknowledgments=acknowledgments,
        committed=True,
        nodes={node_id: _report(state) for node_id, state in states.items()},
    )
    return Outcome(ok=True, result=result)


async def _membership_fault(
    run: ScenarioRun, cluster: RaftCluster, fault: FaultSpec, changes: list[asyncio.Task[Any]]
) -> None:
    """``add_node`` / ``remove_node``: start the change now and let it run (it waits for a
    quorum; later faults must not wait for it)."""
    if fault.add_node is not None:
        run.network.note_fault("add_node", fault.add_node)
        change = cluster.add_node(fault.add_node)
    elif fault.remove_node is not None:
        if fault.remove_node not in cluster.node_ids:
            run.network.note_fault("remove_node", fault.remove_node, "not a node: no-op")
            return
        run.network.note_fault("remove_node", fault.remove_node)
        change = cluster.remove_node(fault.remove_node)
    else:
        return
    changes.append(asyncio.get_running_loop().create_task(change))


async def _finish_changes(run: ScenarioRun, changes: list[asyncio.Task[Any]], start: float) -> None:
    """Wait (until the scenario's timeout) for the membership changes still under way; one
    that cannot finish by then is cancelled and logged."""
    options: ConsensusOptions = run.options
    remaining = max(0.0, start + options.timeout_ms / 1000.0 - asyncio.get_running_loop().time())
    done, pending = await asyncio.wait(changes, timeout=remaining)
    for task in pending:
        task.cancel()
    for task in done:
        if task.exception() is not None:
            _log.warning("raft_membership_change_failed", error=str(task.exception()))
    for task in pending:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _settle(run: ScenarioRun, cluster: RaftCluster, start: float, index: int) -> None:
    """Let the faults scheduled before the timeout happen, then the live nodes catch up."""
    options: ConsensusOptions = run.options
    await run.past_faults(start, options.timeout_ms)
    view = cluster.view

    def caught_up() -> bool:
        """A leader whose whole log is committed, and known so by every live node."""
        leader = view.leader()
        if leader is None:
            return False
        target = max(index, view.statuses[leader].last_index)
        for node_id in cluster.node_ids:
            status = view.statuses.get(node_id)
            if view.running(node_id) and (status is None or status.commit_index < target):
                return False
        return True

    # Past the bound, report the state as it is: a partition may keep a node behind.
    with contextlib.suppress(TimeoutError):
        await view.wait(caught_up, 2.0 * options.election_timeout_ms[1] / 1000.0)

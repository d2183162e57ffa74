"""``algorithm = "pbft"`` of the ``consensus`` kind: PBFT among the agents.

Each agent hosts a :class:`~..protocols.consensus.pbft.actor.PbftReplicaActor` (replica
order = agent order, so the primary of view v is agent v mod n); the coordinator is the
client. It submits the proposals one after the other; each is accepted on f + 1 matching
replies. Timing: a backup starts a view change after ``election_timeout_ms[0]`` without
progress on a request it knows of, the client retransmits to every replica after
``election_timeout_ms[1]``. Byzantine faults (``[[faults]] byzantine = id, behavior = ...``)
tamper with what the agent sends, through :func:`byzantine`. Once every proposal is
accepted, the run waits for the faults scheduled before ``timeout_ms`` and lets in-flight
messages land, then reports every replica. A proposal not accepted within ``timeout_ms``:
error ``no_quorum``.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import TYPE_CHECKING, Any

import msgspec

from .._log import get_logger
from ..protocols.consensus.pbft.actor import ReplicaState
from ..protocols.consensus.pbft.api import Executed, PbftCluster, RequestTimeoutError
from ..protocols.consensus.pbft.byzantine import BEHAVIORS, interceptor
from ..protocols.consensus.pbft.replica import PbftConfig
from ..sim import Interceptor
from ._kind import Outcome, RunFailure

if TYPE_CHECKING:
    from ._consensus import ConsensusOptions
    from ._run import ScenarioRun

_log = get_logger("mabeam.consensus")

SETTLE_MS = 50.0
"""How long the run lets in-flight messages land after the last accepted proposal."""


class PbftNodeReport(msgspec.Struct, frozen=True):
    """A replica's final state (``view`` None: the replica is down)."""

    view: int | None
    executed: list[str]
    byzantine: bool


class PbftResult(msgspec.Struct, frozen=True):
    """The PBFT result fields of PROTOCOLS.md."""

    consensus: Any
    algorithm: str
    view: int
    sequence: int
    primary: str
    replies: int
    nodes: dict[str, PbftNodeReport]


def byzantine(run: ScenarioRun, agent: str, behavior: str) -> Interceptor | None:
    """The interceptor making ``agent`` behave as ``behavior`` in ``run``, a PBFT run (its
    cluster's keys and replica order); None for a behavior PBFT does not know."""
    if behavior not in BEHAVIORS:
        return None
    cluster = run.cluster
    if not isinstance(cluster, PbftCluster):
        raise RuntimeError("a PBFT byzantine fault before the PBFT cluster was built")
    rng = random.Random(f"{cluster.seed}:byzantine:{agent}")
    return interceptor(behavior, agent, cluster.replica_ids, cluster.keyring, rng)


def digest_label(digest: str) -> str:
    """A request digest as results show it: the first 16 hex digits."""
    return digest[:16]


async def drive(run: ScenarioRun) -> Outcome:
    """Run PBFT over the scenario's agents; submit ``proposals`` in order."""
    options: ConsensusOptions = run.options
    loop = asyncio.get_running_loop()
    start = loop.time()
    low, high = options.election_timeout_ms
    config = PbftConfig(
        checkpoint_interval=options.checkpoint_interval, view_change_timeout_ms=float(low)
    )
    cluster = PbftCluster(
        run.system,
        run.agent_ids,
        config=config,
        seed=run.rng.getrandbits(64),
        client_name="coordinator",
        retransmit_ms=float(high),
    )
    run.cluster = cluster  # for byzantine()
    await run.spawn_agents(lambda agent: cluster.replica_spec(agent.id))
    client_class, args, kwargs = cluster.client_spec()
    cluster.attach(await run.spawn_coordinator(client_class, *args, **kwargs))
    await run.start_faults()
    timeout = options.timeout_ms / 1000.0
    accepted: list[Executed] = []
    try:
        for proposal in options.proposals:
            remaining = max(0.0, start + timeout - loop.time())
            done = await cluster.submit(proposal, timeout=remaining)
            _log.info("pbft_proposal_accepted", seq=done.seq, view=done.view)
            accepted.append(done)
    except RequestTimeoutError:
        _log.info("pbft_no_quorum", accepted=len(accepted), timeout_ms=options.timeout_ms)
        message = (
            f"proposal {len(accepted)} not accepted within {options.timeout_ms} ms "
            "(more than f replicas faulty or unreachable)"
        )
        return Outcome(ok=False, error=RunFailure(code="no_quorum", message=message))
    await _settle(run, start)
    states = await cluster.states()
    first = accepted[0]
    liars = {f.byzantine for f in run.scenario.faults if f.byzantine is not None}
    result = PbftResult(
        consensus=options.proposals[0],
        algorithm="pbft",
        view=first.view,
        sequence=first.seq,
        primary=run.agent_ids[first.view % len(run.agent_ids)],
        replies=replies(states, first.seq, liars),
        nodes={agent: _report(states[agent], agent in liars) for agent in run.agent_ids},
    )
    return Outcome(ok=True, result=result)


def replies(states: dict[str, ReplicaState | None], seq: int, liars: set[str]) -> int:
    """How many replicas executed sequence number ``seq`` with the batch the correct
    replicas agree on (so answered the client with its result)."""
    agreed: Counter[str] = Counter()
    for agent, state in states.items():
        if state is None or agent in liars:
            continue
        for number, digest in state.history:
            if number == seq:
                agreed[digest] += 1
    if not agreed:
        return 0
    digest = min(agreed, key=lambda d: (-agreed[d], d))
    return sum(
        1
        for state in states.values()
        if state is not None and (seq, digest) in [tuple(h) for h in state.history]
    )


def _report(state: ReplicaState | None, liar: bool) -> PbftNodeReport:
    if state is None:
        return PbftNodeReport(None, [], liar)
    return PbftNodeReport(state.view, [digest_label(d) for d in state.executed], liar)


async def _settle(run: ScenarioRun, start: float) -> None:
    """Let the faults scheduled before the timeout happen, then in-flight messages land."""
    options: ConsensusOptions = run.options
    await run.past_faults(start, options.timeout_ms)
    await asyncio.sleep(SETTLE_MS / 1000.0)

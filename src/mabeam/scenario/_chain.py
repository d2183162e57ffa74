"""``algorithm = "blockchain"`` of the consensus kind: proof of authority among the agents.

Every agent hosts a :class:`~mabeam.protocols.consensus.chain.actor.ValidatorAgent` (its
block tree survives a crash-restart); the coordinator is the chain's client. The signing
keys come from the run seed. The coordinator submits each proposal to every validator
(again every ``resend_ms`` until it is final) and the result reports the first
proposal's block once every proposal is final on a majority of validators. Nothing final
on a majority within ``timeout_ms``: error ``no_quorum``.

Byzantine behaviours (``[[faults]] byzantine = id``): ``equivocate`` (the faulty validator
seals a second, different block at each height it signs and sends it to every other
peer), ``wrong_digest`` (its announced blocks carry changed proposals under the old hash
and seal: rejected), ``forge_sender`` (its blocks claim another signer: the seal does not
verify, rejected); ``silent`` and ``random`` (garbage, counted and dropped) are the
generic ones. The faulty validator's signing key is its own: :func:`byzantine` reads the
keyring of the run's chain (``run.cluster``) when the fault is applied.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from .._log import get_logger
from ..protocols.consensus.chain.api import ChainCluster, FinalityTimeoutError, Finalized
from ..protocols.consensus.chain.block import Keyring
from ..protocols.consensus.chain.messages import Block, NewBlock, Tx
from ..protocols.consensus.chain.validator import ChainConfig
from ..sim import Interceptor
from ._kind import COORDINATOR, Outcome, RunFailure

if TYPE_CHECKING:
    from ._consensus import ConsensusOptions
    from ._run import ScenarioRun

_log = get_logger("mabeam.consensus")

BEHAVIORS = ("equivocate", "wrong_digest", "forge_sender")
"""The chain-specific byzantine behaviours (``silent`` and ``random`` are generic)."""


class NodeReport(msgspec.Struct, frozen=True):
    """A validator's state in the result."""

    head_height: int
    head_hash: str
    finalized_height: int


class ChainResult(msgspec.Struct, frozen=True):
    """The blockchain result fields of PROTOCOLS.md."""

    consensus: Any
    height: int
    block_hash: str
    finalized: bool
    nodes: dict[str, NodeReport]


async def drive(run: ScenarioRun) -> Outcome:
    """Run the chain until every proposal is final on a majority, or ``timeout_ms``."""
    options: ConsensusOptions = run.options
    loop = asyncio.get_running_loop()
    start = loop.time()
    keyring = Keyring.from_seed(run.rng.getrandbits(64), run.agent_ids)
    chain = ChainCluster(
        run.system,
        run.agent_ids,
        config=ChainConfig(finality_depth=options.finality_depth),
        seed=run.rng.getrandbits(64),
        keyring=keyring,
        client_name="coordinator",
    )
    run.cluster = chain  # its keyring, for byzantine()
    await run.spawn_agents(lambda agent: chain.agent_spec(agent.id))
    client_class, args, kwargs = chain.client_spec()
    client = await run.spawn_coordinator(client_class, *args, **kwargs)
    chain.attach(client, run.agents_supervisor)
    await run.start_faults()
    timeout = options.timeout_ms / 1000.0
    finals: list[Finalized] = []
    try:
        for proposal in options.proposals:
            remaining = max(0.0, start + timeout - loop.time())
            final = await chain.submit(proposal, timeout=remaining)
            _log.info(
                "chain_proposal_final",
                tx=final.tx_id,
                height=final.height,
                hash=final.block_hash,
                nodes=len(final.nodes),
            )
            finals.append(final)
            if run.network.trace is not None:  # a milestone for mabeam.viz; not in JSON lines
                run.network.trace.milestone(
                    loop.time(),
                    COORDINATOR,
                    "block_finalized",
                    height=final.height,
                    block=final.block_hash[:12],
                    nodes=len(final.nodes),
                )
    except FinalityTimeoutError:
        _log.info("chain_no_quorum", final=len(finals), timeout_ms=options.timeout_ms)
        message = (
            f"proposal {len(finals)} not final on a majority of validators within "
            f"{options.timeout_ms} ms"
        )
        return Outcome(ok=False, error=RunFailure(code="no_quorum", message=message))
    first = finals[0]
    nodes = {}
    for node_id in run.agent_ids:
        status = chain.status(node_id)
        nodes[node_id] = NodeReport(status.head_height, status.head_hash, status.finalized_height)
    result = ChainResult(
        consensus=options.proposals[0],
        height=first.height,
        block_hash=first.block_hash,
        finalized=True,
        nodes=nodes,
    )
    return Outcome(ok=True, result=result)


# ---------------------------------------------------------------------- byzantine


def byzantine(run: ScenarioRun, agent: str, behavior: str) -> Interceptor | None:
    """The interceptor of a byzantine validator in ``run``, a blockchain run (signing
    with its chain's keyring), or None for a behaviour left generic."""
    cluster = run.cluster
    keyring = cluster.keyring if isinstance(cluster, ChainCluster) else None
    return interceptor(agent, behavior, keyring)


def interceptor(agent: str, behavior: str, keyring: Keyring | None) -> Interceptor | None:
    """The interceptor of validator ``agent`` behaving as ``behavior``, signing with
    ``keyring`` (None: it cannot sign, so it does not equivocate or forge); None for a
    behaviour left generic."""
    if behavior not in BEHAVIORS:
        return None
    tamper: Callable[[Block], Block | None]
    if behavior == "equivocate":
        tamper = _equivocate(agent, keyring)
    elif behavior == "wrong_digest":
        tamper = _wrong_digest(agent)
    else:
        tamper = _forge(agent, keyring)

    def intercept(payload: Any, receiver: str) -> Any:
        if isinstance(payload, NewBlock):
            changed = tamper(payload.block)
            if changed is not None:
                sender = changed.signer if behavior == "forge_sender" else payload.sender
                return NewBlock(sender, changed)
        return payload

    return intercept


def _equivocate(agent: str, keyring: Keyring | None) -> Callable[[Block], Block | None]:
    """Every other announcement of its own block goes out as a conflicting twin."""
    count = 0

    def tamper(block: Block) -> Block | None:
        nonlocal count
        if keyring is None or block.signer != agent or agent not in keyring:
            return None
        count += 1
        if count % 2:
            return None
        twin = (Tx(f"equivocation:{agent}:{block.height}"),)
        proposals = block.proposals[:-1] if block.proposals else twin
        digest_parent = Block(block.parent, block.height - 1, "", (), block.parent, "")
        return keyring.sign(digest_parent, agent, proposals)

    return tamper


def _wrong_digest(agent: str) -> Callable[[Block], Block | None]:
    def tamper(block: Block) -> Block | None:
        if block.signer != agent:
            return None
        forged = (*block.proposals, Tx(f"injected:{block.height}"))
        return msgspec.structs.replace(block, proposals=forged)

    return tamper


def _forge(agent: str, keyring: Keyring | None) -> Callable[[Block], Block | None]:
    """Its blocks claim the next validator as signer (the seal stays its own)."""
    others = [] if keyring is None else [v for v in keyring.validators if v != agent]

    def tamper(block: Block) -> Block | None:
        if block.signer != agent or not others:
            return None
        return msgspec.structs.replace(block, signer=others[block.height % len(others)])

    return tamper

"""How each protocol decides a variable's new value among the participating agents.

Each decider takes the store's view (system, variable, participants, options) and
returns a :class:`Verdict`. They use the protocol packages' own entry points:

- ``auction``: :func:`~mabeam.protocols.auction.run_auction` among the participants
  (which answer the auction messages, e.g. :class:`VariableAgent`); the winner's value;
- ``voting``: each participant is asked its preference (:class:`Propose` with the
  ``proposals``); a preference equal to a proposal is a ballot for it; counted by
  :func:`~mabeam.protocols.consensus.count_votes` (``algorithm``, default simple majority);
- ``compromise``: each participant's preference and weight, resolved as a
  ``value_incompatible`` conflict by :func:`~mabeam.protocols.conflict.resolve_conflicts`;
- ``bargaining``: each participant's preference, settled as a ``value_incompatible``
  conflict by ``negotiated_settlement`` with ``negotiation_type="bargaining"``: an
  alternating-offers session among the participants (each utility ideal at its own
  preference, worst at the preference farthest from it; ``bargaining_outcomes``, default
  11 evenly spaced values between the extreme preferences);
- ``raft``: the ``value`` given is committed through a
  :class:`~mabeam.protocols.consensus.RaftCluster` with one node per participant (nodes
  of participants that are not running are down): it changes only with a live majority.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._errors import ConfigError
from ..protocols.auction import run_auction
from ..protocols.conflict import AgentTraits, Conflict, resolve_conflicts
from ..protocols.consensus import CommitTimeoutError, RaftCluster, count_votes
from ..runtime import ActorSystem
from .messages import Preference, Propose


@dataclass(frozen=True)
class Verdict:
    """What a protocol decided: a value, or an error code; protocol figures in details."""

    ok: bool
    value: Any = None
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


Decider = Callable[
    [ActorSystem, str, Any, Sequence[str], Mapping[str, Any], float], Awaitable[Verdict]
]


def _options(given: Mapping[str, Any], allowed: Sequence[str], protocol: str) -> dict[str, Any]:
    for option in given:
        if option not in allowed:
            problem = f"not an option of protocol {protocol!r}"
            raise ConfigError(option, problem, allowed=", ".join(allowed) or "none")
    return dict(given)


async def preferences(
    system: ActorSystem,
    variable: str,
    current: Any,
    agents: Sequence[str],
    reply_timeout: float,
    proposals: Sequence[Any] | None = None,
) -> dict[str, Preference]:
    """Ask every agent at once (``ask_all``) its preference; silent or odd answers are left
    out (an agent not running now, crashed on it or too late gave none)."""
    message = Propose(variable, current, None if proposals is None else list(proposals))
    answers = await system.ask_all(agents, message, timeout=reply_timeout)
    return {
        agent: answer
        for agent, answer in zip(agents, answers, strict=True)
        if isinstance(answer, Preference) and answer.agent == agent and answer.value is not None
    }


async def decide_auction(
    system: ActorSystem,
    variable: str,
    current: Any,
    agents: Sequence[str],
    options: Mapping[str, Any],
    reply_timeout: float,
) -> Verdict:
    opts = _options(
        options,
        (
            "auction_type",
            "payment_rule",
            "reserve_price",
            "starting_price",
            "increment",
            "decrement",
            "max_rounds",
        ),
        "auction",
    )
    result = await run_auction(system, variable, list(agents), reply_timeout=reply_timeout, **opts)
    details = {"winner": result.winner, "payment": result.payment, "rounds": result.rounds}
    if not result.ok:
        return Verdict(ok=False, error=result.error, details=details)
    if result.winning_value is None:
        return Verdict(ok=False, error="no_value", details=details)
    return Verdict(ok=True, value=result.winning_value, details=details)


async def decide_voting(
    system: ActorSystem,
    variable: str,
    current: Any,
    agents: Sequence[str],
    options: Mapping[str, Any],
    reply_timeout: float,
) -> Verdict:
    opts = _options(options, ("proposals", "algorithm", "weights"), "voting")
    proposals = opts.get("proposals")
    if not isinstance(proposals, list | tuple) or not proposals:
        problem = f"voting needs a non-empty list of proposals, got {proposals!r}"
        raise ConfigError("proposals", problem)
    algorithm = opts.get("algorithm", "simple_majority")
    count_votes(algorithm, proposals, agents, {}, weights=opts.get("weights"))  # checks input
    wanted = await preferences(system, variable, current, agents, reply_timeout, proposals)
    votes = {a: _index(proposals, p.value) for a, p in wanted.items()}
    weights = opts.get("weights") or {a: p.weight for a, p in wanted.items()}
    outcome = count_votes(algorithm, proposals, agents, votes, weights=weights)
    if outcome.result is None:
        assert outcome.error is not None
        details = dict(outcome.error.details or {})
        return Verdict(ok=False, error=outcome.error.code, details=details)
    result = outcome.result
    details = {
        "algorithm": result.algorithm,
        "vote_count": result.vote_count,
        "votes_cast": result.votes_cast,
        "confidence": result.confidence,
    }
    return Verdict(ok=True, value=result.consensus, details=details)


def _index(proposals: Sequence[Any], value: Any) -> int | None:
    """The first proposal equal to ``value`` (of the same type: True is not 1), or None."""
    for i, proposal in enumerate(proposals):
        if proposal == value and (type(proposal) is bool) == (type(value) is bool):
            return i
    return None


async def _settle_as_conflict(
    system: ActorSystem,
    variable: str,
    current: Any,
    agents: Sequence[str],
    reply_timeout: float,
    details_of: Sequence[str],
    **resolve: Any,
) -> Verdict:
    """Ask each participant its preference and resolve them as one conflict over
    ``variable`` (``resolve``: the strategy and its options); copy ``details_of``."""
    wanted = await preferences(system, variable, current, agents, reply_timeout)
    if not wanted:
        return Verdict(ok=False, error="no_preferences")
    order = [a for a in agents if a in wanted]
    conflict = Conflict(
        variable_id=variable,
        conflicting_agents=order,
        requested_values=[wanted[a].value for a in order],
    )
    traits = {a: AgentTraits(weight=wanted[a].weight) for a in order}
    result = await resolve_conflicts(
        system, [conflict], agents=traits, reply_timeout=reply_timeout, **resolve
    )
    (resolution,) = result.resolutions
    details: dict[str, Any] = {"resolution_type": type(resolution).__struct_config__.tag}
    if not result.ok or not hasattr(resolution, "resolved_value"):
        return Verdict(ok=False, error=getattr(resolution, "error", result.error), details=details)
    for name in details_of:
        details[name] = getattr(resolution, name, None)
    return Verdict(ok=True, value=resolution.resolved_value, details=details)


async def decide_compromise(
    system: ActorSystem,
    variable: str,
    current: Any,
    agents: Sequence[str],
    options: Mapping[str, Any],
    reply_timeout: float,
) -> Verdict:
    opts = _options(options, ("compromise_method", "fallback_strategy"), "compromise")
    return await _settle_as_conflict(
        system,
        variable,
        current,
        agents,
        reply_timeout,
        ("compromise_method",),
        strategy="compromise",
        **opts,
    )


async def decide_bargaining(
    system: ActorSystem,
    variable: str,
    current: Any,
    agents: Sequence[str],
    options: Mapping[str, Any],
    reply_timeout: float,
) -> Verdict:
    opts = _options(options, ("bargaining_outcomes", "fallback_strategy"), "bargaining")
    return await _settle_as_conflict(
        system,
        variable,
        current,
        agents,
        reply_timeout,
        ("step", "offers", "nash_value", "satisfaction_scores", "concessions"),
        strategy="negotiated_settlement",
        negotiation_type="bargaining",
        **opts,
    )


async def decide_raft(
    system: ActorSystem,
    variable: str,
    current: Any,
    agents: Sequence[str],
    options: Mapping[str, Any],
    reply_timeout: float,
) -> Verdict:
    opts = _options(options, ("value", "timeout", "seed"), "raft")
    if "value" not in opts:
        raise ConfigError("value", "raft commits a value: give value=...")
    timeout = opts.get("timeout", 30.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ConfigError("timeout", f"must be seconds > 0, got {timeout!r}")
    seed = opts.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError("seed", f"must be an integer, got {seed!r}")
    nodes = {agent: f"{variable}/raft/{agent}" for agent in agents}
    cluster = RaftCluster(
        system,
        list(nodes.values()),
        seed=seed,
        client_name=f"{variable}/raft/client",
    )
    await cluster.start()
    try:
        for agent, node in nodes.items():
            if system.whereis(agent) is None:
                await cluster.crash(node)
        try:
            committed = await cluster.set(variable, opts["value"], timeout=timeout)
        except CommitTimeoutError:
            return Verdict(ok=False, error="no_quorum")
        leader = cluster.leader()
    finally:
        await cluster.stop()
    details = {"leader": _agent_of(leader, nodes), "previous_in_log": committed}
    return Verdict(ok=True, value=opts["value"], details=details)


def _agent_of(node: str | None, nodes: Mapping[str, str]) -> str | None:
    return next((agent for agent, n in nodes.items() if n == node), None)


DECIDERS: dict[str, Decider] = {
    "auction": decide_auction,
    "voting": decide_voting,
    "compromise": decide_compromise,
    "raft": decide_raft,
    "bargaining": decide_bargaining,
}

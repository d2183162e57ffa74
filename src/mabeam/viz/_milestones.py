"""Protocol milestones and message labels, derived from the messages a trace recorded.

Nothing here changes what is recorded: milestones are read off the traced messages
(a node that sends ``AppendEntries`` in term *t* is the leader of *t*; a
``PriceAnnouncement`` opens an auction round at its price; an offer's utilities come
from the agents' own ``Appraisal`` answers), plus those a protocol shell noted with
:meth:`~mabeam.sim.Trace.milestone` (a block made final), which never reach the
JSON-lines export.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from ..sim._trace import Trace

ROLE_CHANGES: Final = frozenset({"candidate", "leader_elected", "primary", "view_change"})
"""Milestones that are role changes (drawn as notes in a Mermaid diagram)."""

_FIELDS: Final = (
    "term",
    "view",
    "seq",
    "round",
    "step",
    "price",
    "amount",
    "bid",
    "offer",
    "height",
    "quantity",
    "request",
)


@dataclass(frozen=True)
class Milestone:
    """A protocol event worth a mark: ``t`` in virtual seconds, on ``node``'s track."""

    t: float
    node: str
    name: str
    label: str
    args: dict[str, Any] = field(default_factory=dict)


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def label_of(payload: Any) -> str:
    """A message's label: its type and the fields that matter (term, price, view...)."""
    name = type(payload).__name__
    get = getattr
    if name == "RequestVote":
        kind = "PreVote" if get(payload, "pre_vote", False) else "RequestVote"
        return f"{kind} t={payload.term} last={payload.last_log_index}"
    if name == "RequestVoteResponse":
        kind = "PreVote" if get(payload, "pre_vote", False) else "Vote"
        verdict = "granted" if payload.granted else "denied"
        return f"{kind} {verdict} t={payload.term}"
    if name == "AppendEntries":
        n = len(payload.entries)
        if n == 0:
            return f"Heartbeat t={payload.term} commit={payload.leader_commit}"
        last = payload.prev_log_index + n
        return f"AppendEntries t={payload.term} idx={last} (+{n}) commit={payload.leader_commit}"
    if name == "AppendEntriesResponse":
        verdict = f"ok match={payload.match_index}" if payload.success else "rejected"
        return f"AppendEntriesResponse t={payload.term} {verdict}"
    if name == "TurnTaken" and get(payload, "accept", False):
        return "TurnTaken accept"
    if name == "NewBlock":
        return f"NewBlock h={payload.block.height} by {payload.block.signer}"
    parts = [name]
    for key in _FIELDS:
        value = get(payload, key, None)
        if value is not None and not callable(value) and isinstance(value, int | float | str):
            parts.append(f"{key}={_num(value)}")
    return " ".join(parts)


def _appraisals(records: list[Any]) -> dict[str, dict[Any, float]]:
    """Each agent's utility per outcome, from its ``Appraisal`` answer to ``Appraise``."""
    asked: dict[str, list[Any]] = {}
    utilities: dict[str, dict[Any, float]] = {}
    for _now, event, _mid, src, dst, _kind, payload, _note in records:
        if event != "send":
            continue
        name = type(payload).__name__
        if name == "Appraise":
            asked[dst] = list(payload.outcomes)
        elif name == "Appraisal" and payload.utilities is not None and src in asked:
            utilities[src] = dict(zip(asked[src], payload.utilities, strict=False))
    return utilities


def derive_milestones(trace: Trace) -> list[Milestone]:
    """The run's milestones in time order: derived from messages, plus noted ones."""
    records = trace.records()
    utilities = _appraisals(records)
    seen: set[tuple[Any, ...]] = set()
    out: list[Milestone] = []

    def once(key: tuple[Any, ...]) -> bool:
        if key in seen:
            return False
        seen.add(key)
        return True

    sent: set[int] = set()
    for now, event, mid, src, dst, _kind, payload, _note in records:
        # What a node emitted: its sends, and messages dropped before they were sent (a
        # byzantine interceptor drops a silent primary's pre-prepares at the source).
        if event == "send":
            sent.add(mid)
        elif event != "drop" or mid in sent:
            continue
        name = type(payload).__name__
        if name == "AppendEntries" and once(("leader", src, payload.term)):
            term = payload.term
            out.append(Milestone(now, src, "leader_elected", f"leader t={term}", {"term": term}))
        elif (
            name == "RequestVote"
            and not payload.pre_vote
            and once(("candidate", src, payload.term))
        ):
            term = payload.term
            out.append(Milestone(now, src, "candidate", f"candidate t={term}", {"term": term}))
        elif name == "PrePrepare" and once(("primary", src, payload.view)):
            view = payload.view
            out.append(Milestone(now, src, "primary", f"primary v={view}", {"view": view}))
        elif name == "NewView" and once(("view", src, payload.view)):
            view = payload.view
            out.append(Milestone(now, src, "view_change", f"new view v={view}", {"view": view}))
        elif name == "PriceAnnouncement" and once(("round", src, payload.round)):
            args = {"round": payload.round, "price": payload.price}
            label = f"round {payload.round} price {_num(payload.price)}"
            out.append(Milestone(now, src, "auction_round", label, args))
        elif name == "TurnTaken" and payload.offer is not None and not payload.accept:
            offer = payload.offer
            utils = {
                agent: table[offer] for agent, table in sorted(utilities.items()) if offer in table
            }
            text = ", ".join(f"{a} {u:.2f}" for a, u in utils.items())
            label = f"offer {_num(offer)}" + (f" ({text})" if text else "")
            args = {"offer": offer, "step": payload.step, "utilities": utils}
            out.append(Milestone(now, src, "offer", label, args))
        elif name == "TurnTaken" and payload.accept:
            out.append(Milestone(now, src, "agreement", "accepts", {"step": payload.step}))
        elif name == "Bid":
            amount = payload.amount
            out.append(Milestone(now, src, "bid", f"bid {_num(amount)}", {"amount": amount}))
        elif name == "Partial" and dst == "coordinator":
            args = {"request": payload.request, "missing": len(payload.missing)}
            label = f"aggregate answered ({len(payload.missing)} missing)"
            out.append(Milestone(now, src, "aggregated", label, args))
        elif name == "Fill" and payload.side == "buy":
            args = {"price": payload.price, "quantity": payload.quantity}
            label = f"trade {payload.quantity} @ {_num(payload.price)}"
            out.append(Milestone(now, src, "trade", label, args))
    for now, node, name, args in trace.noted_milestones():
        text = " ".join(f"{k}={_num(v)}" for k, v in args.items())
        out.append(Milestone(now, node, name, f"{name.replace('_', ' ')} {text}".strip(), args))
    out.sort(key=lambda m: m.t)
    return out

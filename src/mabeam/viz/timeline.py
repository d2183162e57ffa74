"""The run as a Trace Event Format timeline, for Perfetto and ``chrome://tracing``.

One track (thread) per agent, grouped into processes by role (the coordinator, the
agents, the network); each delivery is a slice on the receiver's track (the handler
ran then: a handler takes no virtual time, so slices are drawn at most 10 µs wide, cut
short where the next one starts), each message a flow arrow from its send to its
delivery, drops and dead letters instants on the sender's track, faults instants on
the target's track (partitions and heals on the network's), and protocol milestones
instants on the node's track. Timestamps are virtual microseconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import msgspec

from ._milestones import derive_milestones, label_of

if TYPE_CHECKING:
    from ..sim._trace import Trace

SLICE_US: Final = 10.0
"""The widest a handler slice is drawn (virtual handlers take no time)."""
DEAD_LETTER_NOTES: Final = frozenset({"no_actor", "not_running", "no_such_name"})
_GROUPS: Final = ("coordinator", "agents", "network")


def _us(seconds: float) -> float:
    return round(seconds * 1_000_000.0, 3)


def _group(name: str) -> int:
    if name == "coordinator":
        return 1
    if name in ("sim", "network"):
        return 3
    return 2


def timeline(trace: Trace, *, name: str = "mabeam run") -> dict[str, Any]:
    """The trace as a Trace Event Format document (a dict; see :func:`write_timeline`)."""
    records = trace.records()
    tracks: dict[str, int] = {}

    def tid(node: str) -> int:
        if node not in tracks:
            tracks[node] = len(tracks) + 1
        return tracks[node]

    sends: dict[int, tuple[float, str]] = {}
    slices: list[tuple[float, str, str, dict[str, Any]]] = []  # (seconds, node, name, args)
    flows: list[tuple[float, str, float, str, str]] = []  # send t, src, deliver t, dst, name
    instants: list[dict[str, Any]] = []
    for now, event, mid, src, dst, kind, payload, note in records:
        if event == "send":
            sends.setdefault(mid, (now, src))
            tid(src)
            tid(dst)
        elif event == "deliver":
            label = label_of(payload)
            slices.append((now, dst, type(payload).__name__, {"from": src, "message": label}))
            sent = sends.get(mid)
            if sent is not None:
                flows.append((sent[0], sent[1], now, dst, type(payload).__name__))
        elif event == "drop":
            dead = note in DEAD_LETTER_NOTES
            what = "dead letter" if dead else "drop"
            instants.append(
                _instant(
                    now,
                    src,
                    f"{what} {type(payload).__name__}",
                    "dead_letter" if dead else "drop",
                    {"to": dst, "reason": note, "kind": kind, "message": label_of(payload)},
                )
            )
        else:  # fault
            target = dst if dst != "network" else "network"
            args = {"fault": payload, "target": dst, **({"detail": note} if note else {})}
            instants.append(_instant(now, target, f"fault {payload}", "fault", args))
    instants.extend(
        _instant(m.t, m.node, m.label, f"milestone.{m.name}", dict(m.args))
        for m in derive_milestones(trace)
    )
    for item in instants:
        tid(item["_node"])

    events: list[dict[str, Any]] = []
    # The handler slices, then a slice for each send made outside of any handler (the
    # coordinator's first messages), so that every flow arrow starts inside a slice.
    starts: dict[str, list[float]] = {}
    for now, node, _n, _a in slices:
        starts.setdefault(node, []).append(now)
    orphan_sends = sorted(
        {(t, src) for t, src, _d, _dst, _n in flows if t not in set(starts.get(src, ()))}
    )
    all_slices = [(t, node, n, a) for t, node, n, a in slices]
    all_slices += [(t, src, "send", {}) for t, src in orphan_sends]
    all_slices.sort(key=lambda s: (tracks[s[1]], s[0]))
    for i, (now, node, sname, args) in enumerate(all_slices):
        ts = _us(now)
        dur = SLICE_US
        if i + 1 < len(all_slices) and all_slices[i + 1][1] == node:
            dur = min(dur, _us(all_slices[i + 1][0]) - ts)
        events.append(
            {
                "name": sname,
                "cat": "handler" if sname != "send" else "send",
                "ph": "X",
                "ts": ts,
                "dur": round(dur, 3),
                "pid": _group(node),
                "tid": tracks[node],
                "args": args,
            }
        )
    for flow_id, (t_send, src, t_deliver, dst, fname) in enumerate(flows, 1):
        common = {"name": fname, "cat": "message", "id": flow_id}
        events.append(
            {**common, "ph": "s", "ts": _us(t_send), "pid": _group(src), "tid": tracks[src]}
        )
        events.append(
            {
                **common,
                "ph": "f",
                "bp": "e",
                "ts": _us(t_deliver),
                "pid": _group(dst),
                "tid": tracks[dst],
            }
        )
    for item in instants:
        node = item.pop("_node")
        item["pid"], item["tid"] = _group(node), tracks[node]
        events.append(item)
    # Each track in time order (the format wants a track's events sorted by ts).
    events.sort(key=lambda e: (e["pid"], e["tid"], e["ts"]))
    meta: list[dict[str, Any]] = []
    for pid, group in enumerate(_GROUPS, 1):
        meta.append(_meta("process_name", pid, 0, {"name": group}))
        meta.append(_meta("process_sort_index", pid, 0, {"sort_index": pid}))
    for node, number in tracks.items():
        meta.append(_meta("thread_name", _group(node), number, {"name": node}))
        meta.append(_meta("thread_sort_index", _group(node), number, {"sort_index": number}))
    return {
        "traceEvents": meta + events,
        "displayTimeUnit": "ms",
        "otherData": {"name": name, "clock": "virtual", "events": len(records)},
    }


def _instant(
    seconds: float, node: str, name: str, cat: str, args: dict[str, Any]
) -> dict[str, Any]:
    return {
        "name": name,
        "cat": cat,
        "ph": "i",
        "s": "t",
        "ts": _us(seconds),
        "args": args,
        "_node": node,
    }


def _meta(name: str, pid: int, tid: int, args: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "ph": "M", "pid": pid, "tid": tid, "args": args}


def write_timeline(trace: Trace, path: str | Path, *, name: str = "mabeam run") -> int:
    """Write :func:`timeline` as JSON to ``path`` (deterministic bytes); returns its size."""
    from ..sim._trace import encode_payload

    document = timeline(trace, name=name)
    data = msgspec.json.encode(encode_payload(document))
    Path(path).write_bytes(data)
    return len(data)

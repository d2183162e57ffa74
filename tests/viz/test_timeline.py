"""The timeline is valid Trace Event Format: fields, flows, per-track order, milestones."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from mabeam.viz import timeline, write_timeline

from ._support import big_run, trace_of

PHASES = {"X", "s", "f", "i", "M"}


def check_trace_event_format(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Assert the JSON Object Format rules Perfetto and chrome://tracing rely on."""
    assert set(document) >= {"traceEvents", "displayTimeUnit"}
    assert document["displayTimeUnit"] in ("ms", "ns")
    events = document["traceEvents"]
    assert isinstance(events, list)
    assert events
    named_threads = set()
    named_processes = set()
    for event in events:
        assert {"name", "ph", "pid", "tid"} <= set(event), event
        assert event["ph"] in PHASES, event
        assert isinstance(event["pid"], int)
        assert isinstance(event["tid"], int)
        if event["ph"] == "M":
            if event["name"] == "thread_name":
                named_threads.add((event["pid"], event["tid"]))
            if event["name"] == "process_name":
                named_processes.add(event["pid"])
            continue
        assert isinstance(event["ts"], int | float)
        assert event["ts"] >= 0
        if event["ph"] == "X":
            assert event["dur"] >= 0
        if event["ph"] == "i":
            assert event["s"] in ("t", "p", "g")
        if event["ph"] in ("s", "f"):
            assert "id" in event
            assert "cat" in event
    timed = [e for e in events if e["ph"] != "M"]
    # Every track is named, and every track's events are in time order.
    last: dict[tuple[int, int], float] = {}
    for event in timed:
        track = (event["pid"], event["tid"])
        assert track in named_threads, track
        assert event["pid"] in named_processes
        assert event["ts"] >= last.get(track, 0.0), event
        last[track] = event["ts"]
    # Flows: each id starts once and ends once, not before it starts, inside slices.
    starts = {e["id"]: e for e in timed if e["ph"] == "s"}
    ends = {e["id"]: e for e in timed if e["ph"] == "f"}
    assert Counter(e["id"] for e in timed if e["ph"] == "s").most_common(1)[0][1] == 1
    assert Counter(e["id"] for e in timed if e["ph"] == "f").most_common(1)[0][1] == 1
    assert set(starts) == set(ends)
    slices: dict[tuple[int, int], list[tuple[float, float]]] = defaultdict(list)
    for e in timed:
        if e["ph"] == "X":
            slices[(e["pid"], e["tid"])].append((e["ts"], e["ts"] + e["dur"]))
    for flow_id, start in starts.items():
        end = ends[flow_id]
        assert start["ts"] <= end["ts"]
        assert end["bp"] == "e"
        for point in (start, end):
            track = (point["pid"], point["tid"])
            assert any(a <= point["ts"] <= b for a, b in slices[track]), point
    return timed


@pytest.mark.parametrize("name", ["raft", "pbft", "english", "bargaining", "chain", "hierarchy"])
def test_timeline_is_valid_trace_event_format(name: str, tmp_path: Path) -> None:
    trace = trace_of(name)
    target = tmp_path / f"{name}.json"
    size = write_timeline(trace, target)
    assert size == target.stat().st_size
    document = json.loads(target.read_bytes())
    timed = check_trace_event_format(document)
    delivered = sum(1 for e in trace.events() if e.event == "deliver")
    assert sum(1 for e in timed if e["ph"] == "f") == delivered
    assert sum(1 for e in timed if e["ph"] == "X" and e["cat"] == "handler") == delivered
    # One track per agent, grouped: the coordinator, the agents, the network.
    threads = {e["args"]["name"] for e in document["traceEvents"] if e["name"] == "thread_name"}
    assert "coordinator" in threads
    processes = {e["args"]["name"] for e in document["traceEvents"] if e["name"] == "process_name"}
    assert processes == {"coordinator", "agents", "network"}
    assert write_timeline(trace, tmp_path / "again.json") == size
    assert (tmp_path / "again.json").read_bytes() == target.read_bytes()


def instants(name: str) -> list[dict[str, Any]]:
    return [e for e in timeline(trace_of(name))["traceEvents"] if e["ph"] == "i"]


def test_milestones_are_instants_with_their_values() -> None:
    raft = instants("raft")
    leaders = [e for e in raft if e["cat"] == "milestone.leader_elected"]
    assert leaders
    assert leaders[0]["args"]["term"] >= 1
    assert leaders[0]["name"].startswith("leader t=")
    assert [e for e in raft if e["cat"] == "fault" and e["args"]["fault"] == "crash"]
    rounds = [e for e in instants("english") if e["cat"] == "milestone.auction_round"]
    assert [e["args"]["price"] for e in rounds[:3]] == [0.0, 1.0, 2.0]
    offers = [e for e in instants("bargaining") if e["cat"] == "milestone.offer"]
    by_offer = {e["args"]["offer"]: e["args"]["utilities"] for e in offers}
    assert by_offer[5] == {"buyer": 0.5, "seller": 0.5}
    assert by_offer[10] == {"buyer": 0.0, "seller": 1.0}
    final = [e for e in instants("chain") if e["cat"] == "milestone.block_finalized"]
    assert final
    assert final[0]["args"]["height"] >= 1


def test_drops_and_dead_letters_are_instants() -> None:
    chain = instants("chain")
    assert {e["args"]["reason"] for e in chain if e["cat"] == "drop"} >= {"partition", "loss"}
    dead = [e for e in instants("hierarchy") if e["cat"] == "dead_letter"]
    assert dead
    assert dead[0]["args"]["to"] == "a05"
    assert dead[0]["args"]["reason"] == "no_actor"


def test_a_thousand_agents_give_a_usable_timeline(tmp_path: Path) -> None:
    """1,000 agents: every agent a track, every message an arrow, well under 2 MB."""
    _, network = big_run()
    assert network.trace is not None
    size = write_timeline(network.trace, tmp_path / "big.json")
    assert size < 2_000_000
    document = json.loads((tmp_path / "big.json").read_bytes())
    timed = check_trace_event_format(document)
    threads = [e for e in document["traceEvents"] if e["name"] == "thread_name"]
    assert len(threads) == 1001
    assert sum(1 for e in timed if e["ph"] == "s") == network.delivered

"""The new network faults through scenario files (issue 20): per-link loss, latency and
cuts, one-way partitions, partitioned clients, and their validation errors."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from mabeam import ScenarioError
from mabeam.scenario import parse_scenario, run_scenario

HEAD = """name = "ping"
seed = 1
[protocol]
kind = "ping"
reply_timeout_ms = 200
[[agents]]
id = "a0"
[[agents]]
id = "a1"
[[agents]]
id = "a2"
"""


def run(tail: str) -> tuple[dict[str, Any], list[tuple[str, str, str | None]]]:
    scenario = parse_scenario((HEAD + tail).encode(), path="t.toml", fmt="toml")
    report, network = run_scenario(scenario, path="t.toml")
    assert network.trace is not None
    events = [
        (e.event if e.event == "drop" else e.kind, e.dst, e.note)
        for e in network.trace.events()
        if e.event in ("fault", "drop")
    ]
    return msgspec.json.decode(msgspec.json.encode(report)), events


def answered(report: dict[str, Any]) -> list[str]:
    return list(report["result"]["answered"])


def test_without_faults_everyone_answers() -> None:
    report, events = run("")
    assert answered(report) == ["a0", "a1", "a2"]
    assert events == []


def test_a_one_way_link_cut_loses_the_replies_only() -> None:
    report, events = run('[[faults]]\nat_ms = 0\nlink = ["a1", "coordinator"]\ncut = true\n')
    assert answered(report) == ["a0", "a2"]
    assert events == [("cut", "a1", "-> coordinator"), ("drop", "coordinator", "cut")]


def test_per_link_latency_and_loss() -> None:
    tail = (
        '[[faults]]\nat_ms = 0\nlink = ["coordinator", "a2"]\nlatency_ms = [250, 300]\n'
        '[[faults]]\nat_ms = 0\nlink = ["coordinator", "a0"]\ndrop_rate = 1.0\n'
    )
    report, events = run(tail)
    assert answered(report) == ["a1"]  # a2 answers too late, a0 never hears the ping
    assert ("drop", "a0", "loss") in events
    assert ("link", "coordinator", "-> a2 latency_ms=[250, 300]") in events


def test_a_one_way_partition_and_a_partitioned_client() -> None:
    report, _ = run('[[faults]]\nat_ms = 0\npartition_oneway = [["a0", "a1"], ["a2"]]\n')
    assert answered(report) == ["a0", "a1", "a2"]  # agents only: the coordinator is exempt
    groups = '[[faults]]\nat_ms = 0\npartition = [["a0"], ["a1", "a2"]]\n'
    report, _ = run(groups)
    assert answered(report) == ["a0", "a1", "a2"]  # the coordinator crosses partitions ...
    report, events = run("[network]\npartition_clients = true\n" + groups)
    assert answered(report) == []  # ... unless clients are partitioned too
    assert ("drop", "a0", "partition") in events


@pytest.mark.parametrize(
    ("tail", "field", "fragment"),
    [
        ('link = ["a0", "a1"]\n', "faults[0].link", "needs a setting"),
        ('link = ["a0", "a0"]\ncut = true\n', "faults[0].link", "two different nodes"),
        ('link = ["a0", "zz"]\ncut = true\n', "faults[0].link[1]", "unknown agent 'zz'"),
        ("drop_rate = 0.5\n", "faults[0].drop_rate", "only used with link"),
        ('link = ["a0", "a1"]\ndrop_rate = 1.5\n', "faults[0].drop_rate", ""),
        ('link = ["a0", "a1"]\nlatency_ms = [5, 1]\n', "faults[0].latency_ms", "lo <= hi"),
        ('partition_oneway = [["a0"], ["q"]]\n', "faults[0].partition_oneway[1][0]", "'q'"),
        ('link = ["a0", "a1"]\ncut = true\nheal = true\n', "faults[0]", "exactly one action"),
    ],
)
def test_bad_link_faults_name_the_field(tail: str, field: str, fragment: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(
            (HEAD + "[[faults]]\nat_ms = 0\n" + tail).encode(), path="t.toml", fmt="toml"
        )
    message = str(caught.value)
    assert message.startswith(f"t.toml: {field}"), message
    assert fragment in message

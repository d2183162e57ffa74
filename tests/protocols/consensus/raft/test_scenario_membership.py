"""Scenario faults ``add_node`` / ``remove_node`` (Raft membership changes)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from mabeam._errors import ScenarioError
from mabeam.scenario._load import load_scenario, parse_scenario
from mabeam.scenario._run import run_scenario

SCENARIO = Path(__file__).parents[4] / "tests" / "scenarios" / "consensus-raft-membership.toml"

BASE = """
name = "m"
[protocol]
kind = "consensus"
algorithm = "{algorithm}"
proposals = ["a"]
[[agents]]
id = "n1"
[[agents]]
id = "n2"
[[agents]]
id = "n3"
[[faults]]
at_ms = 10
{fault}
"""


def _parse(algorithm: str, fault: str) -> None:
    text = BASE.format(algorithm=algorithm, fault=fault)
    parse_scenario(text.encode(), path="m.toml", fmt="toml")


@pytest.mark.parametrize(
    ("algorithm", "fault", "field", "fragment"),
    [
        ("pbft", 'add_node = "n4"', "faults[0].add_node", "only with algorithm raft"),
        ("simple_majority", 'remove_node = "n1"', "faults[0].remove_node", "only with"),
        ("raft", 'add_node = "n2"', "faults[0].add_node", "'n2' is an agent already"),
        ("raft", 'add_node = "n4"\ncrash = "n1"', "faults[0].add_node", "exactly one action"),
    ],
)
def test_membership_faults_are_checked(
    algorithm: str, fault: str, field: str, fragment: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        _parse(algorithm, fault)
    assert caught.value.field == field
    assert fragment in str(caught.value)


def test_membership_faults_load_for_raft() -> None:
    _parse("raft", 'add_node = "n4"')
    _parse("raft", 'remove_node = "n2"')


def test_the_membership_scenario_adds_removes_and_keeps_committing() -> None:
    """n6 joins at 300 ms, n2 leaves at 600 ms, the leader crashes at 900 ms: the final
    nodes are the new membership, every live one with the same committed log."""
    scenario = load_scenario(SCENARIO)
    report, network = run_scenario(scenario, path=SCENARIO)
    assert report.ok, report.error
    result = msgspec.to_builtins(report.result)
    nodes = result["nodes"]
    assert set(nodes) == {"n1", "n3", "n4", "n5", "n6"}
    live = {k: v for k, v in nodes.items() if v["role"] != "down"}
    assert len(live) == 4
    logs = {tuple((e["index"], e["term"]) for e in v["log"]) for v in live.values()}
    assert len(logs) == 1
    assert nodes["n6"]["commit_index"] == max(v["commit_index"] for v in live.values())
    assert network.trace is not None
    faults = [e.type for e in network.trace.events() if e.event == "fault"]
    assert faults == ["add_node", "remove_node", "crash"]

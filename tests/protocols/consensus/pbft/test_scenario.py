"""``algorithm = "pbft"`` scenarios through ``run_scenario`` (the consensus kind dispatches
to the PBFT driver)."""

from __future__ import annotations

import json

import msgspec
import pytest

from mabeam.scenario._consensus import KIND as consensus_kind
from mabeam.scenario._load import parse_scenario
from mabeam.scenario._run import run_scenario

AGENTS = "".join(f'[[agents]]\nid = "a{i}"\n\n' for i in range(4))
SEVEN = "".join(f'[[agents]]\nid = "a{i}"\n\n' for i in range(7))


def _run(text: str, seed: int | None = None) -> dict[str, object]:
    scenario = parse_scenario(text.encode(), path="<test>", fmt="toml")
    report, _ = run_scenario(scenario, seed=seed)
    document: dict[str, object] = json.loads(msgspec.json.encode(report))
    return document


def _scenario(faults: str = "", agents: str = AGENTS, extra: str = "") -> str:
    return (
        'name = "pbft"\nseed = 7\n\n[protocol]\nkind = "consensus"\nalgorithm = "pbft"\n'
        f'proposals = [{{temperature = 0.7}}, "second"]\n{extra}\n{agents}{faults}'
    )


def test_normal_case_result() -> None:
    """All correct: view 0, sequence 1, primary a0, 4 replies, same executions everywhere."""
    document = _run(_scenario())
    assert document["ok"] is True
    result = document["result"]
    assert isinstance(result, dict)
    assert result["consensus"] == {"temperature": 0.7}
    assert (result["view"], result["sequence"], result["primary"]) == (0, 1, "a0")
    assert result["replies"] == 4
    nodes = result["nodes"]
    assert list(nodes) == ["a0", "a1", "a2", "a3"]
    executions = {tuple(node["executed"]) for node in nodes.values()}
    assert len(executions) == 1
    assert len(next(iter(executions))) == 2
    assert not any(node["byzantine"] for node in nodes.values())


@pytest.mark.parametrize(
    "behavior", ["silent", "equivocate", "wrong_digest", "forge_sender", "random"]
)
def test_byzantine_primary(behavior: str) -> None:
    """A byzantine primary from the start: the proposals are still accepted (a view change
    where the primary's behaviour blocks progress); correct replicas agree."""
    faults = f'[[faults]]\nat_ms = 0\nbyzantine = "a0"\nbehavior = "{behavior}"\n'
    document = _run(_scenario(faults))
    assert document["ok"] is True, document
    result = document["result"]
    assert isinstance(result, dict)
    nodes = result["nodes"]
    assert nodes["a0"]["byzantine"] is True
    correct = [nodes[a]["executed"] for a in ("a1", "a2", "a3")]
    assert correct[0] == correct[1] == correct[2]
    assert len(correct[0]) == 2
    if behavior in ("silent", "equivocate", "random"):
        assert result["view"] >= 1
        assert result["primary"] != "a0"


def test_two_silent_primaries_on_seven() -> None:
    """n = 7, agents a0 and a1 silent: the proposals are accepted in view 2."""
    faults = "".join(
        f'[[faults]]\nat_ms = 0\nbyzantine = "{a}"\nbehavior = "silent"\n' for a in ("a0", "a1")
    )
    document = _run(_scenario(faults, agents=SEVEN))
    assert document["ok"] is True
    result = document["result"]
    assert isinstance(result, dict)
    assert (result["view"], result["primary"]) == (2, "a2")


def test_crash_then_no_quorum() -> None:
    """Two of four crashed: error no_quorum after timeout_ms."""
    faults = "".join(f'[[faults]]\nat_ms = 0\ncrash = "{a}"\n' for a in ("a2", "a3"))
    document = _run(_scenario(faults, extra="timeout_ms = 2000\n"))
    assert document["ok"] is False
    error = document["error"]
    assert isinstance(error, dict)
    assert error["code"] == "no_quorum"


def test_crashed_backup_reported_down() -> None:
    """A crashed backup is reported with view None; the rest agree."""
    faults = '[[faults]]\nat_ms = 0\ncrash = "a3"\n'
    document = _run(_scenario(faults))
    result = document["result"]
    assert isinstance(result, dict)
    assert result["nodes"]["a3"] == {"view": None, "executed": [], "byzantine": False}
    assert result["replies"] == 3


def test_deterministic_replay() -> None:
    """Same scenario and seed: byte-identical result and message counts."""
    faults = '[[faults]]\nat_ms = 5\nbyzantine = "a0"\nbehavior = "equivocate"\n'
    text = _scenario(faults)
    first, second = _run(text, seed=11), _run(text, seed=11)
    for document in (first, second):
        stats = document["stats"]
        assert isinstance(stats, dict)
        stats.pop("wall_ms", None)
    assert first == second


def test_the_kind_names_the_behaviours_it_supports() -> None:
    """The runner checks support before any run, from the kind's list of behaviours."""
    assert set(consensus_kind.behaviors) == {"equivocate", "wrong_digest", "forge_sender"}


def test_restarted_replica_rejoins_empty() -> None:
    """A backup crashed and restarted comes back with empty volatile state and catches up
    (it asks where the others are and takes the batches f + 1 of them executed): in the
    end it executed what they did; the others agree throughout."""
    faults = '[[faults]]\nat_ms = 0\ncrash = "a3"\n\n[[faults]]\nat_ms = 20\nrestart = "a3"\n'
    text = _scenario(faults).replace('"second"]', '"second", "third", "fourth"]')
    document = _run(text)
    assert document["ok"] is True
    result = document["result"]
    assert isinstance(result, dict)
    nodes = result["nodes"]
    correct = [nodes[a]["executed"] for a in ("a0", "a1", "a2")]
    assert correct[0] == correct[1] == correct[2]
    assert len(correct[0]) == 4
    assert nodes["a3"]["view"] == 0
    assert nodes["a3"]["executed"] == correct[0]

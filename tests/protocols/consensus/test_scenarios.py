"""``kind = "consensus"`` with ``algorithm = "raft"``: the shared scenarios and faults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
import structlog
from structlog.testing import capture_logs

from mabeam.cli import main
from mabeam.protocols.consensus.raft import Entry
from mabeam.protocols.consensus.raft.actor import NodeState
from mabeam.scenario import parse_scenario, run_scenario

from ._support import logs_consistent

SHARED = Path(__file__).resolve().parents[2] / "scenarios"  # tests/scenarios


def run_file(name: str, seed: int | None = None) -> tuple[dict[str, Any], Any]:
    path = SHARED / name
    parsed = parse_scenario(path.read_bytes(), path=str(path), fmt="toml")
    report, network = run_scenario(parsed, seed=seed, path=str(path))
    return msgspec.json.decode(msgspec.json.encode(report)), network


def run_text(document: str, seed: int | None = None) -> dict[str, Any]:
    parsed = parse_scenario(document.encode(), path="raft.toml", fmt="toml")
    report, _ = run_scenario(parsed, seed=seed, path="raft.toml")
    decoded: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(report))
    return decoded


def states_of(result: dict[str, Any]) -> dict[str, NodeState]:
    """The result's per-node state, as NodeStates for the consistency check."""
    return {
        node: NodeState(
            id=node,
            role=state["role"],
            term=state["term"],
            commit_index=state["commit_index"],
            leader=None,
            log=[Entry(e["term"], e["index"], e["command"]) for e in state["log"]],
        )
        for node, state in result["nodes"].items()
    }


def raft(agents: int = 5, *, extra: str = "", faults: str = "", proposals: str = "[1]") -> str:
    ids = "".join(f'[[agents]]\nid = "n{i + 1}"\n' for i in range(agents))
    return (
        f'name = "raft"\nseed = 11\n[protocol]\nkind = "consensus"\nalgorithm = "raft"\n'
        f"proposals = {proposals}\n{extra}{ids}{faults}"
    )


def test_leader_crash_scenario_commits_and_logs_agree() -> None:
    """consensus-raft-leader-crash: committed; the crashed leader is "down"; the rest elect
    a new leader in a higher term; every pair of logs is consistent."""
    document, network = run_file("consensus-raft-leader-crash.toml")
    assert document["ok"] is True
    result = document["result"]
    assert result["consensus"] == {"temperature": 0.7}
    assert result["committed"] is True
    assert result["algorithm"] == "raft"
    assert result["index"] == 2
    assert len(result["acknowledgments"]) >= 3
    nodes = result["nodes"]
    assert list(nodes) == ["n1", "n2", "n3", "n4", "n5"]
    crashed = [e.dst for e in network.trace.events() if e.event == "fault" and e.kind == "crash"]
    assert len(crashed) == 1
    assert nodes[crashed[0]]["role"] == "down"
    leaders = [n for n, s in nodes.items() if s["role"] == "leader"]
    assert len(leaders) == 1
    assert nodes[leaders[0]]["term"] > result["term"]
    logs_consistent(states_of(result))
    for state in nodes.values():
        assert {"index": 2, "term": result["term"], "command": {"temperature": 0.7}} in state["log"]


def test_leader_crash_scenario_is_deterministic() -> None:
    """The same seed gives a byte-identical result and trace; another seed may differ."""
    first, net1 = run_file("consensus-raft-leader-crash.toml")
    second, net2 = run_file("consensus-raft-leader-crash.toml")
    assert msgspec.json.encode(first["result"]) == msgspec.json.encode(second["result"])
    assert first["stats"]["messages_sent"] == second["stats"]["messages_sent"]
    trace1 = [msgspec.json.encode(e) for e in net1.trace.events()]
    trace2 = [msgspec.json.encode(e) for e in net2.trace.events()]
    assert trace1 == trace2


def test_no_quorum_scenario_gives_up_at_the_timeout() -> None:
    """consensus-raft-no-quorum: 3 of 5 down from the start, error no_quorum at 5000 ms."""
    document, _ = run_file("consensus-raft-no-quorum.toml")
    assert document["ok"] is False
    assert document["result"] is None
    assert document["error"]["code"] == "no_quorum"
    assert document["stats"]["virtual_ms"] == pytest.approx(5000.0)


def test_restart_brings_a_node_back_with_its_log() -> None:
    """Crash a follower early, restart it later: it reports its log, consistent with all."""
    faults = (
        '[[faults]]\nat_ms = 1\ncrash = "n2"\n'
        '[[faults]]\nat_ms = 900\nrestart = "n2"\n'
        '[[faults]]\nat_ms = 950\ncrash = "@leader"\n'
    )
    document = run_text(raft(faults=faults, proposals="[1, 2, 3]"))
    assert document["ok"] is True
    nodes = document["result"]["nodes"]
    assert nodes["n2"]["role"] != "down"
    assert sum(1 for s in nodes.values() if s["role"] == "down") == 1
    logs_consistent(states_of(document["result"]))
    live = [s for s in nodes.values() if s["role"] != "down"]
    for state in live:
        assert [e["command"] for e in state["log"] if e["command"] is not None] == [1, 2, 3]


def test_leader_crash_before_the_commit_is_survived() -> None:
    """@leader crashed right after the first election, before the proposal: a second leader
    commits it; the result names that leader."""
    faults = (
        '[[faults]]\nat_ms = 1\ncrash = "@leader"\n[[faults]]\nat_ms = 500\ncrash = "@leader"\n'
    )
    document = run_text(raft(faults=faults, extra="election_timeout_ms = [100, 200]\n"))
    assert document["ok"] is True
    result = document["result"]
    assert result["nodes"][result["leader"]]["term"] >= result["term"]
    logs_consistent(states_of(result))


def test_partitioned_minority_lags_then_is_reported_as_is() -> None:
    """A partition of two nodes: the majority commits; the minority's logs lack the entry,
    and the logs stay consistent."""
    faults = '[[faults]]\nat_ms = 0\npartition = [["n1", "n2"], ["n3", "n4", "n5"]]\n'
    document = run_text(raft(faults=faults, extra="timeout_ms = 3000\n"))
    assert document["ok"] is True
    result = document["result"]
    assert set(result["acknowledgments"]) <= {"n3", "n4", "n5"}
    assert result["nodes"]["n1"]["commit_index"] < result["index"]
    logs_consistent(states_of(result))


def test_options_reach_the_nodes_and_the_run_is_seeded() -> None:
    """Without PreVote and CheckQuorum the run still commits; --seed changes the run."""
    extra = "pre_vote = false\ncheck_quorum = false\nheartbeat_ms = 20\n"
    one = run_text(raft(3, extra=extra))
    again = run_text(raft(3, extra=extra))
    other = run_text(raft(3, extra=extra), seed=99)
    assert one["ok"]
    assert other["ok"]
    assert one["result"] == again["result"]
    assert one["stats"]["virtual_ms"] != other["stats"]["virtual_ms"]


def test_decisions_are_logged() -> None:
    """The driver logs each commit (index, term, leader) and a give-up at the timeout."""
    with capture_logs() as logs:
        run_text(raft(3))
        run_text(raft(3, extra="timeout_ms = 500\n", faults=_DOWN))
    events = {e["event"]: e for e in logs if e["event"].startswith("raft_")}
    assert events["raft_proposal_committed"]["index"] == 2
    assert events["raft_no_quorum"]["timeout_ms"] == 500
    assert "raft_role_changed" in events


_DOWN = '[[faults]]\nat_ms = 0\ncrash = "n1"\n[[faults]]\nat_ms = 0\ncrash = "n2"\n'


@pytest.mark.parametrize(
    ("algorithm", "fields"),
    [
        pytest.param("pbft", {"view", "sequence", "primary", "replies", "nodes"}, id="pbft"),
        pytest.param("blockchain", {"height", "block_hash", "finalized", "nodes"}, id="chain"),
    ],
)
def test_cli_runs_pbft_and_blockchain(
    algorithm: str, fields: set[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`mabeam run` dispatches pbft and blockchain to their drivers: exit 0, their fields."""
    path = tmp_path / "bft.toml"
    path.write_text(raft(4).replace('"raft"', f'"{algorithm}"'))
    try:
        code = main(["run", str(path), "--json"])
    finally:
        structlog.reset_defaults()
    out, err = capsys.readouterr()
    assert code == 0, err
    document = json.loads(out)
    assert document["ok"] is True
    assert fields <= set(document["result"])
    assert set(document["result"]["nodes"]) == {"n1", "n2", "n3", "n4"}

"""``mabeam run --processes`` with Raft, PBFT and the PoA chain: the consensus nodes run
on ``mabeam node`` processes over a real nats-server, in real time, the client in the
driver. Timing differs from the in-process run (who leads, which view, how many blocks),
so these tests check what must not differ: the run is ok, every proposal is committed,
and no two nodes committed (or finalized) different values."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import structlog

from mabeam.transport._server import NatsServer

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

PROPOSALS = '[{temperature = 0.7}, {temperature = 0.8}, "third"]'


def _scenario(tmp_path: Path, algorithm: str, agents: list[str], extra: str = "") -> Path:
    lines = [
        f'name = "{algorithm} over processes"',
        "seed = 3",
        "[protocol]",
        'kind = "consensus"',
        f'algorithm = "{algorithm}"',
        f"proposals = {PROPOSALS}",
        "timeout_ms = 10000",
        extra,
    ]
    for agent in agents:
        lines += ["[[agents]]", f'id = "{agent}"']
    path = tmp_path / f"{algorithm}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(path: Path, url: str, processes: int) -> dict[str, Any]:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "mabeam", "run", str(path), "--json"),
            *("--processes", str(processes), "--nats", url),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    assert report["ok"] is True, report
    return report


EXPECTED = [{"temperature": 0.7}, {"temperature": 0.8}, "third"]


def _longest_agreed(sequences: dict[str, list[Any]]) -> list[Any]:
    """Safety across nodes: each sequence is a prefix of the longest, which is returned."""
    longest = max(sequences.values(), key=len)
    for node, sequence in sequences.items():
        assert sequence == longest[: len(sequence)], node
    return longest


def test_raft_nodes_on_three_processes_commit_the_same_log(
    nats_server_module: NatsServer, tmp_path: Path
) -> None:
    agents = ["n1", "n2", "n3", "n4", "n5"]
    report = _run(_scenario(tmp_path, "raft", agents), nats_server_module.url, 3)
    result = report["result"]
    assert result["algorithm"] == "raft"
    assert result["committed"] is True
    assert result["consensus"] == EXPECTED[0]
    assert result["leader"] in agents
    nodes = result["nodes"]
    assert sorted(nodes) == agents
    # Safety: the committed prefixes of all nodes agree, entry for entry.
    committed = {
        node: [(e["index"], e["term"], e["command"]) for e in state["log"]][: state["commit_index"]]
        for node, state in nodes.items()
    }
    longest = _longest_agreed(committed)
    # Liveness: every proposal is committed once, in order (no-ops aside), on a majority
    # (the run lets the others catch up too, but a slow one may be behind).
    assert [c for _, _, c in longest if c is not None] == EXPECTED
    caught_up = [node for node, entries in committed.items() if len(entries) == len(longest)]
    assert len(caught_up) > len(agents) // 2
    # Acknowledged the first proposal: a majority holds its entry.
    assert len(result["acknowledgments"]) > len(agents) // 2


def test_pbft_replicas_on_three_processes_execute_the_same_requests_in_order(
    nats_server_module: NatsServer, tmp_path: Path
) -> None:
    from mabeam.scenario import load_scenario, run_scenario

    agents = ["r0", "r1", "r2", "r3"]
    path = _scenario(tmp_path, "pbft", agents)
    report = _run(path, nats_server_module.url, 3)
    result = report["result"]
    assert result["algorithm"] == "pbft"
    assert result["consensus"] == EXPECTED[0]
    nodes = result["nodes"]
    assert sorted(nodes) == agents
    # Safety: every replica's executed requests are a prefix of the same sequence.
    executed = {node: state["executed"] for node, state in nodes.items()}
    longest = _longest_agreed(executed)
    # Liveness: the three proposals, as the in-process run's client signs them (the same
    # digests), were executed on at least f + 1 = 2 replicas, and f + 1 replied the first.
    in_process, _ = run_scenario(load_scenario(path), path=str(path))
    assert longest == in_process.result["nodes"]["r0"]["executed"]
    assert len(longest) == len(EXPECTED)
    assert sum(len(d) == len(longest) for d in executed.values()) >= 2
    assert result["replies"] >= 2


def test_chain_validators_on_three_processes_finalize_every_proposal_without_forks(
    nats_server_module: NatsServer, tmp_path: Path
) -> None:
    agents = ["v1", "v2", "v3", "v4", "v5"]
    # ok: the run also checked that no two validators made different blocks final at
    # one height (else its error would be safety_violation).
    report = _run(_scenario(tmp_path, "blockchain", agents), nats_server_module.url, 3)
    result = report["result"]
    assert result["finalized"] is True
    assert result["consensus"] == EXPECTED[0]
    assert result["height"] >= 1
    nodes = result["nodes"]
    assert sorted(nodes) == agents
    # The validators' own reports (not the driver's): a majority has the first
    # proposal's block final.
    final = [n for n, s in nodes.items() if s["finalized_height"] >= result["height"]]
    assert len(final) > len(agents) // 2


REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("name", "extra", "field", "problem"),
    [
        (
            "crash",
            '[[faults]]\nat_ms = 400\ncrash = "@leader"',
            "faults",
            "crash, restart and membership faults go through the agents' supervisor",
        ),
        (
            "partition",
            '[[faults]]\nat_ms = 0\npartition = [["n1"], ["n2", "n3"]]',
            "faults",
            "faults act on the simulated network, which --processes does not use",
        ),
        ("drops", "[network]\ndrop_rate = 0.1", "network.drop_rate", "is the simulated network's"),
    ],
)
def test_raft_with_what_needs_the_simulated_network_is_refused_before_any_process_starts(
    name: str, extra: str, field: str, problem: str, tmp_path: Path, capsys: Any
) -> None:
    from mabeam.cli import main

    path = _scenario(tmp_path, "raft", ["n1", "n2", "n3"])
    path.write_text(path.read_text() + extra + "\n")
    try:
        assert main(["run", str(path), "--processes", "2"]) == 2
    finally:
        structlog.reset_defaults()  # main() configured it for the command line
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert line.startswith(f"mabeam: error: {path}: {field}: {problem}"), line

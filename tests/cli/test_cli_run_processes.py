"""``mabeam run FILE --processes N``: the agents on N ``mabeam node`` processes over a
nats-server the command starts, in real time. Each supported kind gives the in-process
run's result; what cannot run this way is refused before any process starts (exit 2).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from mabeam.cli import main
from mabeam.scenario import load_scenario, run_scenario

from .conftest import PING, REPO

SCENARIOS = REPO / "tests" / "scenarios"
TIMEOUT = 60.0

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mabeam", "run", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=TIMEOUT,
    )


def in_process(path: Path) -> dict[str, object]:
    report, _ = run_scenario(load_scenario(path), path=str(path))
    document: dict[str, object] = json.loads(msgspec.json.encode(report))
    return document


@pytest.mark.parametrize(
    ("scenario", "processes"),
    [
        ("auction-english", 2),
        ("consensus-majority", 3),
        ("bargaining-linear", 2),
        ("market-call-uniform", 3),
    ],
)
def test_each_supported_kind_gives_the_in_process_result(scenario: str, processes: int) -> None:
    path = SCENARIOS / f"{scenario}.toml"
    done = run_cli(str(path), "--processes", str(processes), "--json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    distributed = json.loads(done.stdout)
    expected = in_process(path)
    stats = distributed.pop("stats")
    expected.pop("stats")
    assert distributed == expected
    assert stats["messages_sent"] == 0  # not counted across processes
    assert stats["wall_ms"] > 0


@pytest.mark.parametrize(
    ("scenario", "field", "problem"),
    [
        (PING, "protocol.kind", "kind 'ping' cannot run with --processes yet"),
        (
            SCENARIOS / "auction-bidder-crashed.toml",
            "faults",
            "crash, restart and membership faults go through the agents' supervisor, "
            "and the agents on other processes have none here",
        ),
    ],
)
def test_what_cannot_run_on_processes_is_exit_2_naming_the_kind_and_the_supported_ones(
    scenario: Path, field: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(scenario), "--processes", "2"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert line.startswith(f"mabeam: error: {scenario}: {field}: {problem} (allowed: ")
    if field == "faults":
        assert line.endswith("(allowed: no faults with --processes)")
    else:
        assert line.endswith(
            "(allowed: auction, bargaining, market, and consensus with algorithm "
            "simple_majority, weighted_voting, unanimous, raft, pbft or blockchain)"
        )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--processes", "0"], "argument --processes: must be at least 1, got '0'"),
        (["--nats", "nats://127.0.0.1:4222"], "--nats: only with --processes N"),
        (
            ["--processes", "2", "--trace", "t.jsonl"],
            "--trace: not available with --processes (no simulated network)",
        ),
    ],
)
def test_bad_flags_are_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(SCENARIOS / "auction-english.toml")
    try:
        code = main(["run", path, *args])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code  # type: ignore[assignment]
    assert code == 2
    assert message in capsys.readouterr().err


def test_help_says_it_runs_in_real_time(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "REAL TIME (not on the simulated network)" in out

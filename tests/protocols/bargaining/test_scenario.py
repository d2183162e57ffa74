"""``kind = "bargaining"`` end to end on the simulated network: examples, faults, exits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import structlog

from mabeam.cli import main
from mabeam.scenario import parse_scenario, run_scenario

SHARED = Path(__file__).resolve().parents[2] / "scenarios"  # tests/scenarios


def scenario(seller: str, buyer: str, *, protocol: str = "", extra: str = "") -> bytes:
    return (
        'name = "bargaining test"\nseed = 3\n[protocol]\nkind = "bargaining"\n'
        f"outcome_range = [0, 10]\nn_steps = 10\n{protocol}\n"
        f'[[agents]]\nid = "seller"\nutility = {{ideal = 10, worst = 0}}\n{seller}\n'
        f'[[agents]]\nid = "buyer"\nutility = {{ideal = 0, worst = 10}}\n{buyer}\n{extra}'
    ).encode()


def run(document: bytes, *, seed: int | None = None) -> tuple[Any, Any]:
    parsed = parse_scenario(document, path="test.toml", fmt="toml")
    return run_scenario(parsed, seed=seed, path="test.toml")


@pytest.mark.parametrize(
    ("seller", "buyer", "value", "step"),
    [
        pytest.param("", "", 5, 5, id="linear-by-default"),
        pytest.param('strategy = "boulware"', 'strategy = "boulware"', 4, 9, id="boulware"),
        pytest.param('strategy = "conceder"', 'strategy = "conceder"', 5, 0, id="conceder"),
        pytest.param('strategy = "boulware"', 'strategy = "conceder"', 8, 7, id="mixed"),
        pytest.param("exponent = 4.0", 'strategy = "conceder"', 8, 7, id="exponent"),
    ],
)
def test_worked_examples_as_scenarios(seller: str, buyer: str, value: int, step: int) -> None:
    """The examples run as scenario files with a mediator and agents on the network."""
    report, network = run(scenario(seller, buyer))
    assert report.ok
    assert (report.result["agreed_value"], report.result["step"]) == (value, step)
    assert report.result["agreement"] is True
    kinds = {e.type for e in network.trace.events() if e.event == "send"}
    assert {"TakeTurn", "TurnTaken", "Appraise", "Appraisal"} <= kinds


def test_reserved_utility_and_listed_outcomes() -> None:
    """``reserved`` raises the floor; ``outcomes`` lists the issue's points."""
    report, _ = run(
        scenario(
            "reserved = 0.7", "reserved = 0.1", protocol="outcomes = [0, 2, 4, 6, 8, 10]"
        ).replace(b"outcome_range = [0, 10]\n", b"")
    )
    assert report.ok
    assert report.result["agreed_value"] == 8  # >= 0.7 for the seller, >= 0.1 for the buyer
    assert report.result["nash_value"] == 8


def test_crashed_agent_means_no_agreement_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    """An agent crashed from the start never accepts: no_agreement, exit 1, no result."""
    document = scenario("", "", extra='[[faults]]\nat_ms = 0\ncrash = "buyer"\n')
    report, _ = run(document)
    assert (report.ok, report.result) == (False, None)
    assert report.error.code == "no_agreement"
    assert "after 10 steps" in report.error.message
    assert report.stats.virtual_ms < 1000  # an agent that is not running costs no wait


def test_crash_and_restart_mid_negotiation_still_agrees() -> None:
    """A buyer down for a while is silent meanwhile; restarted, it bargains on."""
    document = scenario(
        "",
        "",
        extra='[[faults]]\nat_ms = 3\ncrash = "buyer"\n[[faults]]\nat_ms = 9\nrestart = "buyer"\n',
    )
    report, _ = run(document)
    assert report.ok
    assert report.result["agreed_value"] == 5
    assert report.result["offers"] < 11  # the buyer missed turns while down


def test_same_seed_same_bytes_under_loss() -> None:
    """With latency jitter and loss, the same seed gives the same result and trace."""
    document = scenario("", "", extra="[network]\nlatency_ms = [1, 5]\ndrop_rate = 0.2\n")
    first, net1 = run(document)
    second, net2 = run(document)
    assert first.result == second.result
    assert first.ok == second.ok
    assert net1.trace.to_jsonl() == net2.trace.to_jsonl()


def test_cli_exit_codes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Exit 0 with an agreement, 1 without, 2 for a bad strategy naming the field."""
    path = tmp_path / "b.toml"
    try:
        path.write_bytes(scenario("", ""))
        assert main(["run", str(path), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["result"]["agreed_value"] == 5
        path.write_bytes(scenario('strategy = "hardliner"', 'strategy = "hardliner"'))
        assert main(["run", str(path), "--json"]) == 1
        assert json.loads(capsys.readouterr().out)["error"]["code"] == "no_agreement"
        path.write_bytes(scenario('strategy = "stubborn"', ""))
        assert main(["run", str(path), "--json"]) == 2
        assert "agents[0].strategy" in capsys.readouterr().err
    finally:
        structlog.reset_defaults()


def test_shared_known_answer() -> None:
    """tests/scenarios/bargaining-linear: 5 at step 5."""
    path = SHARED / "bargaining-linear.toml"
    expect = json.loads(path.with_suffix(".expect.json").read_text())
    report, _ = run(path.read_bytes())
    assert report.ok is expect["ok"]
    for key, value in expect["result"].items():
        assert report.result[key] == value

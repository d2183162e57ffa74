"""``kind = "auction"`` in ``mabeam run``: the shared answers, faults, late answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
import structlog

from mabeam import ScenarioError
from mabeam.cli import main
from mabeam.scenario import load_scenario, parse_scenario, run_scenario

SHARED = Path(__file__).resolve().parents[2] / "scenarios"  # tests/scenarios
SHARED_AUCTIONS = sorted(SHARED.glob("auction-*.toml"))


def run_toml(text: str) -> dict[str, Any]:
    """Run a scenario given as TOML; its report as plain data."""
    report, _ = run_scenario(parse_scenario(text.encode(), path="<test>", fmt="toml"))
    return msgspec.to_builtins(report)  # type: ignore[no-any-return]


def test_shared_auction_scenarios_exist() -> None:
    """The shared known answers are there to be checked."""
    assert len(SHARED_AUCTIONS) >= 5


@pytest.mark.parametrize("path", SHARED_AUCTIONS, ids=lambda p: p.stem)
def test_shared_auction_scenarios(path: Path) -> None:
    """Each shared auction scenario gives its .expect.json result, twice the same."""
    expect = json.loads(path.with_suffix(".expect.json").read_text())
    scenario = load_scenario(str(path))
    report, network = run_scenario(scenario)
    again, _ = run_scenario(scenario)
    assert report.ok is expect["ok"]
    result = msgspec.to_builtins(report.result)
    for field, value in expect["result"].items():
        assert result[field] == value, field
    assert msgspec.json.encode(report.result) == msgspec.json.encode(again.result)
    assert network.stats()["messages_sent"] > 0


AGENTS = """
[[agents]]
id = "a"
value = "A"
max_bid = 10.0
bid = 10.0

[[agents]]
id = "b"
value = "B"
max_bid = 7.0
bid = 7.0

[[agents]]
id = "c"
value = "C"
max_bid = 4.0
bid = 4.0
"""


def test_english_bidder_crash_mid_auction() -> None:
    """The top bidder crashes after the first round: it has dropped, b wins at 5."""
    report = run_toml(
        """
        name = "crash mid english"
        seed = 1
        [protocol]
        kind = "auction"
        auction_type = "english"
        increment = 1.0
        [network]
        latency_ms = 2
        [[faults]]
        at_ms = 5
        crash = "a"
        """
        + AGENTS
    )
    assert report["ok"]
    result = report["result"]
    assert (result["winner"], result["payment"], result["rounds"]) == ("b", 5.0, 6)
    assert result["bids_received"] == 3  # a answered the first announcement
    assert result["efficiency"] == 0.7  # a valued it 10 and answered before crashing


def test_dutch_bidder_crash_mid_auction() -> None:
    """The top bidder crashes while the dutch clock runs down: b takes it at 7."""
    report = run_toml(
        """
        name = "crash mid dutch"
        seed = 1
        [protocol]
        kind = "auction"
        auction_type = "dutch"
        starting_price = 12.0
        decrement = 1.0
        [network]
        latency_ms = 2
        [[faults]]
        at_ms = 5
        crash = "a"
        """
        + AGENTS
    )
    result = report["result"]
    assert (result["winner"], result["payment"], result["rounds"]) == ("b", 7.0, 6)
    assert result["bids_received"] == 3


def test_every_bidder_crashed_mid_english_ends_without_winner() -> None:
    """All bidders gone mid-clock: nobody answered the round, no winning bid, no hang."""
    report = run_toml(
        """
        name = "all crash"
        seed = 1
        [protocol]
        kind = "auction"
        auction_type = "english"
        increment = 1.0
        [network]
        latency_ms = 2
        [[faults]]
        at_ms = 5
        crash = "a"
        [[faults]]
        at_ms = 5
        crash = "b"
        [[faults]]
        at_ms = 5
        crash = "c"
        """
        + AGENTS
    )
    assert not report["ok"]
    assert report["result"] is None  # SCENARIOS.md: result is null when ok is false
    assert report["error"]["code"] == "no_winning_bid"


def test_answers_later_than_the_timeout_are_declines() -> None:
    """Latency beyond reply_timeout_ms: every bid is late, so no_bids (exit 1)."""
    report = run_toml(
        """
        name = "slow network"
        seed = 1
        [protocol]
        kind = "auction"
        reply_timeout_ms = 100
        [network]
        latency_ms = 60
        """
        + AGENTS
    )
    assert not report["ok"]
    assert report["result"] is None
    assert report["error"] == {
        "code": "no_bids",
        "message": "no valid bid was received",
    }
    assert report["stats"]["virtual_ms"] == pytest.approx(100, abs=1)


def test_random_latency_within_the_timeout_changes_nothing() -> None:
    """Answers arriving in any order within the timeout give the same second-price result."""
    report = run_toml(
        """
        name = "jitter"
        seed = 3
        [protocol]
        kind = "auction"
        payment_rule = "second_price"
        [network]
        latency_ms = [1, 5]
        """
        + AGENTS
    )
    result = report["result"]
    assert (result["winner"], result["payment"], result["efficiency"]) == ("a", 7.0, 1.0)


def test_invalid_auction_scenarios_are_refused() -> None:
    """A dutch auction needs a starting price; a bundle item must be in items."""
    with pytest.raises(ScenarioError, match="starting_price"):
        parse_scenario(
            b'name = "x"\nseed = 1\n[protocol]\nkind = "auction"\nauction_type = "dutch"\n'
            b'[[agents]]\nid = "a"\nbid = 1.0\n',
            path="<test>",
            fmt="toml",
        )
    with pytest.raises(ScenarioError, match=r"not in protocol\.items"):
        parse_scenario(
            b'name = "x"\nseed = 1\n[protocol]\nkind = "auction"\n'
            b'auction_type = "combinatorial"\nitems = ["A"]\n'
            b'[[agents]]\nid = "a"\nbundles = [{items = ["B"], bid = 1.0}]\n',
            path="<test>",
            fmt="toml",
        )


@pytest.mark.parametrize(
    ("crash_ms", "restart_ms", "expected"),
    [
        # Latency 5: round r's price reaches the bidders at 10r + 5, answers return at
        # 10r + 10. Down at 6..8 only, between two announcements: a misses nothing and
        # answers round 1 from the same private state, so the crash changes nothing.
        pytest.param(6, 8, ("a", 8.0, 9, 3, 1.0), id="back-before-next-announcement"),
        # Down when round 1's price arrives: a dropped there and never returns, even
        # though it is back from 17 ms on; b wins as if a had crashed for good.
        pytest.param(12, 17, ("b", 5.0, 6, 3, 0.7), id="dropped-stays-dropped"),
        # Down for round 0: a never answered the first announcement.
        pytest.param(1, 7, ("b", 5.0, 6, 2, 1.0), id="missed-the-first-announcement"),
    ],
)
def test_english_bidder_restarted_mid_clock(
    crash_ms: int, restart_ms: int, expected: tuple[Any, ...]
) -> None:
    """A restart brings a bidder back with its own state; a missed round is a drop."""
    report = run_toml(
        f"""
        name = "restart mid english"
        seed = 1
        [protocol]
        kind = "auction"
        auction_type = "english"
        increment = 1.0
        [network]
        latency_ms = 5
        [[faults]]
        at_ms = {crash_ms}
        crash = "a"
        [[faults]]
        at_ms = {restart_ms}
        restart = "a"
        """
        + AGENTS
    )
    result = report["result"]
    got = (
        result["winner"],
        result["payment"],
        result["rounds"],
        result["bids_received"],
        result["efficiency"],
    )
    assert got == expected


def test_cli_exit_codes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """mabeam run: an auction without agreement exits 1 with result null and the code;
    a negative bid exits 2 naming the field, before anything runs."""
    path = tmp_path / "below.toml"
    path.write_text(
        'name = "below reserve"\nseed = 1\n[protocol]\nkind = "auction"\nreserve_price = 11.0\n'
        + AGENTS
    )
    try:
        code = main(["run", str(path), "--json"])
        out, _ = capsys.readouterr()
        assert code == 1
        report = json.loads(out)
        assert (report["ok"], report["result"]) == (False, None)
        assert report["error"]["code"] == "no_bids"
        path.write_text(
            'name = "bad"\nseed = 1\n[protocol]\nkind = "auction"\n'
            '[[agents]]\nid = "a"\nbid = -1.0\n'
        )
        assert main(["run", str(path), "--json"]) == 2
        _, err = capsys.readouterr()
        assert "agents[0].bid" in err
    finally:
        structlog.reset_defaults()  # main() configured structlog for the command line

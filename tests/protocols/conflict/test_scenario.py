"""``kind = "conflict"`` end to end on the simulated network: auctions, faults, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import structlog

from mabeam.cli import main
from mabeam.scenario import parse_scenario, run_scenario

AGENTS = """
[[agents]]
id = "coder"
urgency = 2.0
priority = 1

[[agents]]
id = "creative_writer"
importance = 1.5
weight = 3.0

[[agents]]
id = "reviewer"
"""
TEMPERATURE = """
[[conflicts]]
variable_id = "temperature"
conflicting_agents = ["coder", "creative_writer", "reviewer"]
requested_values = [0.1, 1.2, 0.5]
"""


def scenario(protocol: str, *, conflicts: str = TEMPERATURE, extra: str = "") -> bytes:
    return (
        f'name = "conflict test"\nseed = 5\n[protocol]\nkind = "conflict"\n{protocol}\n'
        f"{AGENTS}{conflicts}{extra}"
    ).encode()


def run(document: bytes, *, seed: int | None = None) -> tuple[Any, Any]:
    parsed = parse_scenario(document, path="test.toml", fmt="toml")
    return run_scenario(parsed, seed=seed, path="test.toml")


def only(report: Any) -> dict[str, Any]:
    (resolution,) = report.result["resolutions"]
    assert isinstance(resolution, dict)
    return resolution


def test_negotiated_settlement_is_an_auction_among_the_agent_actors() -> None:
    """Bids are base_bid · urgency · importance · resources; the highest wins its value."""
    report, network = run(scenario('strategy = "negotiated_settlement"\nbase_bid = 2.0'))
    assert report.ok
    resolution = only(report)
    assert resolution["resolution_type"] == "negotiated_auction"
    assert resolution["winning_agent"] == "coder"  # 2.0 · 2.0 = 4 > 3 > 2
    assert resolution["resolved_value"] == 0.1
    assert resolution["payment"] == 4.0
    assert resolution["auction_efficiency"] == 1.0
    assert resolution["bids_received"] == 3
    bids = [e for e in network.trace.events() if e.event == "deliver" and e.type == "Bid"]
    assert sorted(e.src for e in bids) == ["coder", "creative_writer", "reviewer"]
    assert {e.dst for e in bids} == {"coordinator.auction-1"}


def test_second_price_and_ties_by_agent_id() -> None:
    """Equal bids: the smallest agent id wins; second_price pays the second bid."""
    conflicts = TEMPERATURE.replace(
        '["coder", "creative_writer", "reviewer"]', '["reviewer", "creative_writer"]'
    ).replace("[0.1, 1.2, 0.5]", "[0.5, 1.2]")
    document = scenario(
        'strategy = "negotiated_settlement"\npayment_rule = "second_price"', conflicts=conflicts
    ).replace(b"importance = 1.5", b"importance = 1.0")
    resolution = only(run(document)[0])
    assert resolution["winning_agent"] == "creative_writer"
    assert resolution["payment"] == 1.0
    assert resolution["payment_rule"] == "second_price"


def test_a_crashed_agent_does_not_bid_and_nothing_hangs() -> None:
    """An agent down from the start gets no message; the others settle without it."""
    faults = '[[faults]]\nat_ms = 0\ncrash = "coder"\n'
    report, network = run(scenario('strategy = "negotiated_settlement"', extra=faults))
    resolution = only(report)
    assert resolution["winning_agent"] == "creative_writer"
    assert resolution["bids_received"] == 2
    assert all(e.dst != "coder" for e in network.trace.events() if e.event == "send")


def test_an_agent_crashing_mid_auction_is_waited_for_only_until_the_timeout() -> None:
    """Crashed after joining, before the call for bids: no bid, and the auction ends."""
    network = "[network]\nlatency_ms = 10\n"
    faults = '[[faults]]\nat_ms = 25\ncrash = "coder"\n'
    report, net = run(
        scenario(
            'strategy = "negotiated_settlement"\nreply_timeout_ms = 200',
            extra=network + faults,
        )
    )
    resolution = only(report)
    assert resolution["winning_agent"] == "creative_writer"
    joined = [e.src for e in net.trace.events() if e.type == "NegotiationJoined"]
    assert "coder" in joined
    assert report.stats.virtual_ms < 1000


def test_no_bidder_left_falls_back_or_fails_with_exit_1() -> None:
    """Every agent down: the auction has no bids; the fallback resolves, else it fails."""
    faults = "".join(
        f'[[faults]]\nat_ms = 0\ncrash = "{a}"\n' for a in ("coder", "creative_writer", "reviewer")
    )
    fallback = run(
        scenario(
            'strategy = "negotiated_settlement"\nfallback_strategy = "compromise"', extra=faults
        )
    )[0]
    assert fallback.ok
    resolution = only(fallback)
    assert resolution["resolution_type"] == "compromise"
    assert resolution["failures"][0]["error"] == "no_bids"
    failed = run(scenario('strategy = "negotiated_settlement"', extra=faults))[0]
    assert not failed.ok
    assert failed.error.code == "unresolved_conflicts"
    assert only(failed)["resolution_type"] == "failed"
    assert only(failed)["error"] == "no_bids"


def test_the_scenario_agents_traits_drive_the_data_strategies() -> None:
    """weight, priority from the agent tables reach compromise and priority_override."""
    resolution = only(
        run(scenario('strategy = "compromise"\ncompromise_method = "weighted_average"'))[0]
    )
    assert resolution["resolved_value"] == pytest.approx((0.1 + 1.2 * 3 + 0.5) / 5)
    resolution = only(run(scenario('strategy = "priority_override"'))[0])
    assert resolution["winning_agent"] == "coder"
    assert resolution["overridden_agents"] == ["creative_writer", "reviewer"]


def test_leader_decision_uses_the_leader_option() -> None:
    """With the leader option: that agent's request, no election."""
    led, network = run(scenario('strategy = "leader_decision"\nleader = "reviewer"'))
    assert (only(led)["leader"], only(led)["resolved_value"]) == ("reviewer", 0.5)
    assert not [e for e in network.trace.events() if e.type == "RequestVote"]


@pytest.mark.parametrize("seed", range(4))
def test_without_the_option_a_leader_is_elected_by_raft_among_the_agents(seed: int) -> None:
    """No leader option: the conflicting agents' Raft nodes elect one (by RequestVote over
    the network); its request stands; same seed, same leader and trace."""
    document = scenario('strategy = "leader_decision"\nreply_timeout_ms = 100')
    report, network = run(document, seed=seed)
    resolution = only(report)
    assert resolution["resolution_type"] == "leader_decision"
    values = {"coder": 0.1, "creative_writer": 1.2, "reviewer": 0.5}
    assert resolution["resolved_value"] == values[resolution["leader"]]
    votes = [e for e in network.trace.events() if e.type == "RequestVote"]
    assert votes
    assert {e.src.rsplit(".", 1)[1] for e in votes} <= set(values)
    again, network_again = run(document, seed=seed)
    assert again.result == report.result
    assert list(network_again.trace.events()) == list(network.trace.events())


@pytest.mark.parametrize("seed", range(4))
def test_a_crashed_agent_is_never_elected(seed: int) -> None:
    """An agent down from the start takes no part: the two others elect one of them."""
    faults = '[[faults]]\nat_ms = 0\ncrash = "reviewer"\n'
    report = run(scenario('strategy = "leader_decision"', extra=faults), seed=seed)[0]
    assert only(report)["leader"] in ("coder", "creative_writer")


def test_no_majority_no_leader_then_the_fallback() -> None:
    """Two of three agents down: no Raft majority, no_leader, and the fallback resolves."""
    faults = "".join(f'[[faults]]\nat_ms = 0\ncrash = "{a}"\n' for a in ("coder", "reviewer"))
    fallback = only(
        run(
            scenario(
                'strategy = "leader_decision"\nfallback_strategy = "time_sharing"', extra=faults
            )
        )[0]
    )
    assert fallback["resolution_type"] == "time_sharing"
    (failure,) = fallback["failures"]
    assert failure["error"] == "no_leader"
    assert "coder, reviewer did not take part" in failure["message"]


@pytest.mark.parametrize(
    "protocol",
    [
        'strategy = "negotiated_settlement"\nfallback_strategy = "compromise"',
        'strategy = "priority_override"\nfallback_strategy = "negotiated_settlement"',
    ],
)
def test_bargaining_settles_among_the_agent_actors(protocol: str) -> None:
    """A settlement by bargaining runs a mediator and the agents' turns on the network
    (PROTOCOLS.md, end of "Bargaining"); every agent is linear by default."""
    report, network = run(scenario(f'{protocol}\nnegotiation_type = "bargaining"'))
    assert report.ok
    resolution = only(report)
    if "priority_override" in protocol:
        assert resolution["resolution_type"] == "priority_override"  # no bargaining needed
        return
    assert resolution["resolution_type"] == "negotiated_bargaining"
    assert resolution["negotiation_type"] == "bargaining"
    assert 0.1 <= resolution["resolved_value"] <= 1.2
    turns = [e for e in network.trace.events() if e.event == "send" and e.type == "TakeTurn"]
    assert {e.dst for e in turns} == {"coder", "creative_writer", "reviewer"}


def test_every_agent_is_told_the_outcome() -> None:
    """The coordinator tells each affected agent the resolution and awaits its answer."""
    report, network = run(scenario('strategy = "time_sharing"'))
    told = [
        e.dst
        for e in network.trace.events()
        if e.event == "deliver" and e.type == "ConflictResolved"
    ]
    noted = [
        e.src
        for e in network.trace.events()
        if e.event == "deliver" and e.type == "ResolutionNoted"
    ]
    assert sorted(told) == sorted(noted) == ["coder", "creative_writer", "reviewer"]
    assert report.stats.messages_sent == 6


@pytest.mark.parametrize("seed", range(6))
def test_lossy_network_always_ends_with_a_resolution_per_conflict(seed: int) -> None:
    """Loss and duplication never hang a run; every conflict gets a resolution, same per seed."""
    network = (
        "[network]\nlatency_ms = [1, 30]\ndrop_rate = 0.3\nduplicate_rate = 0.2\nreorder = true\n"
    )
    second = TEMPERATURE.replace("temperature", "top_p")
    document = scenario(
        'strategy = "negotiated_settlement"\nreply_timeout_ms = 100',
        conflicts=TEMPERATURE + second,
        extra=network,
    )
    first, net1 = run(document, seed=seed)
    again, net2 = run(document, seed=seed)
    assert [r["variable_id"] for r in first.result["resolutions"]] == ["temperature", "top_p"]
    assert first.result == again.result
    assert list(net1.trace.events()) == list(net2.trace.events())
    bids = {"coder": 2.0, "creative_writer": 1.5, "reviewer": 1.0}  # urgency, importance
    for resolution in first.result["resolutions"]:
        assert resolution["resolution_type"] in ("negotiated_auction", "failed")
        if resolution["resolution_type"] == "negotiated_auction":
            winner = resolution["winning_agent"]
            assert resolution["payment"] == bids[winner]  # first_price: pays its bid
            assert resolution["resolved_value"] == {"coder": 0.1, "creative_writer": 1.2}.get(
                winner, 0.5
            )
            assert 1 <= resolution["bids_received"] <= 3
        else:
            assert resolution["error"] in ("no_bids", "auction_lost")


@pytest.fixture
def _cli_logging() -> Any:
    yield
    structlog.reset_defaults()


@pytest.mark.usefixtures("_cli_logging")
def test_unresolved_conflicts_exit_1_and_still_list_every_resolution(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """mabeam run: one conflict unresolved → exit 1, error unresolved_conflicts, all listed."""
    labels = TEMPERATURE.replace("temperature", "style").replace(
        "[0.1, 1.2, 0.5]", '["terse", "florid", "plain"]'
    )
    path = tmp_path / "conflicts.toml"
    path.write_bytes(scenario('strategy = "compromise"', conflicts=TEMPERATURE + labels))
    assert main(["run", str(path), "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is False
    assert document["error"]["code"] == "unresolved_conflicts"
    assert "style (non_numeric_values)" in document["error"]["message"]
    types = [r["resolution_type"] for r in document["result"]["resolutions"]]
    assert types == ["compromise", "failed"]
    assert main(["run", str(path)]) == 1
    out = capsys.readouterr().out
    assert "outcome: unresolved_conflicts" in out
    assert out.count("    - {") == 2


FAULTY_NETWORK = (
    "[network]\nlatency_ms = [1, 30]\ndrop_rate = 0.2\nduplicate_rate = 0.1\nreorder = true\n"
    '[[faults]]\nat_ms = 40\ncrash = "coder"\n'
    '[[faults]]\nat_ms = 150\nrestart = "coder"\n'
    '[[faults]]\nat_ms = 160\npartition = [["creative_writer"]]\n'
    "[[faults]]\nat_ms = 400\nheal = true\n"
)
THREE_CONFLICTS = (
    TEMPERATURE
    + TEMPERATURE.replace("temperature", "top_p")
    + TEMPERATURE.replace("temperature", "max_tokens")
)


@pytest.mark.usefixtures("_cli_logging")
@pytest.mark.parametrize(
    ("strategy", "resolved", "seed"),
    [
        *(("negotiated_settlement", "negotiated_auction", seed) for seed in (0, 3, 5)),
        *(("leader_decision", "leader_decision", seed) for seed in (1, 4)),
    ],
)
def test_agent_strategies_under_loss_and_faults_are_byte_identical_per_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], strategy: str, resolved: str, seed: int
) -> None:
    """Same scenario and seed, lossy network, crash, restart and partition: mabeam run gives
    the same JSON (but wall time) and the same trace file, byte for byte, for auctions
    and Raft elections alike."""
    path = tmp_path / "faulty.toml"
    path.write_bytes(
        scenario(
            f'strategy = "{strategy}"\nfallback_strategy = "priority_override"\n'
            "reply_timeout_ms = 100",
            conflicts=THREE_CONFLICTS,
            extra=FAULTY_NETWORK,
        )
    )
    outputs, traces = [], []
    for run_number in range(2):
        trace = tmp_path / f"trace-{run_number}.jsonl"
        code = main(["run", str(path), "--json", "--seed", str(seed), "--trace", str(trace)])
        assert code == 0
        document = json.loads(capsys.readouterr().out)
        del document["stats"]["wall_ms"]
        outputs.append(json.dumps(document, sort_keys=True))
        traces.append(trace.read_bytes())
    assert outputs[0] == outputs[1]
    assert traces[0] == traces[1]
    assert traces[0].count(b"\n") > 50
    resolutions = json.loads(outputs[0])["result"]["resolutions"]
    assert [r["variable_id"] for r in resolutions] == ["temperature", "top_p", "max_tokens"]
    assert {r["resolution_type"] for r in resolutions} <= {resolved, "priority_override"}
    assert any(r["resolution_type"] == resolved for r in resolutions)
    dropped = json.loads(outputs[0])["stats"]["messages_dropped"]
    assert dropped > 0


def test_different_seeds_give_different_faulty_runs() -> None:
    """The seed drives the network: two seeds do not give the same trace (the check above
    is not vacuous)."""
    document = scenario(
        'strategy = "negotiated_settlement"\nreply_timeout_ms = 100',
        conflicts=THREE_CONFLICTS,
        extra=FAULTY_NETWORK,
    )
    traces = [list(run(document, seed=seed)[1].trace.events()) for seed in (0, 1)]
    assert traces[0] != traces[1]


def test_a_late_join_from_an_earlier_conflict_never_sets_the_value() -> None:
    """resolved_value is the winner's request in *this* conflict (PROTOCOLS.md: each agent
    bids for its requested value), even when a JoinNegotiation of an earlier conflict over
    the same variable arrives late and the agent bids with that stale value (seed 58)."""
    document = b"""name = "stale join"
[protocol]
kind = "conflict"
strategy = "negotiated_settlement"
reply_timeout_ms = 400
[[agents]]
id = "a"
[[agents]]
id = "b"
urgency = 2
[[conflicts]]
variable_id = "t"
conflicting_agents = ["a", "b"]
requested_values = [1, 2]
[[conflicts]]
variable_id = "t"
conflicting_agents = ["a", "b"]
requested_values = [10, 20]
[network]
latency_ms = [1, 700]
duplicate_rate = 0.9
reorder = true
"""
    first, second = run(document, seed=58)[0].result["resolutions"]
    assert first["resolution_type"] == "failed"
    assert second["resolution_type"] == "negotiated_auction"
    winner = second["winning_agent"]
    assert second["resolved_value"] == {"a": 10, "b": 20}[winner]


def test_a_one_agent_conflict_under_every_agent_strategy() -> None:
    """One conflicting agent: it wins its own auction (paying its bid) and is elected the
    only Raft node's leader."""
    alone = TEMPERATURE.replace('["coder", "creative_writer", "reviewer"]', '["reviewer"]').replace(
        "[0.1, 1.2, 0.5]", '["cool"]'
    )
    settled = only(run(scenario('strategy = "negotiated_settlement"', conflicts=alone))[0])
    assert (settled["winning_agent"], settled["resolved_value"]) == ("reviewer", "cool")
    assert (settled["payment"], settled["bids_received"]) == (1.0, 1)
    led = only(run(scenario('strategy = "leader_decision"', conflicts=alone))[0])
    assert (led["leader"], led["resolved_value"]) == ("reviewer", "cool")


def test_labels_for_a_resource_fail_the_resource_strategy_and_fall_back() -> None:
    """A string request is not an amount: resource_partitioning fails with
    non_numeric_values (the scenario is valid), the fallback resolves."""
    cpu = (
        TEMPERATURE.replace("temperature", "cpu")
        .replace("[0.1, 1.2, 0.5]", '[2, "lots", 1]')
        .replace('"reviewer"]', '"reviewer"]\nconflict_type = "resource_competition"')
    )
    resolution = only(
        run(
            scenario(
                'strategy = "resource_partitioning"\navailable_resources = 4\n'
                'fallback_strategy = "priority_override"',
                conflicts=cpu,
            )
        )[0]
    )
    assert resolution["resolution_type"] == "priority_override"
    assert resolution["failures"][0]["error"] == "non_numeric_values"
    assert resolution["resolved_value"] == 2  # coder's request: priority 1


@pytest.mark.parametrize("seed", range(3))
def test_an_agent_that_crashes_during_the_election_is_not_the_leader(seed: int) -> None:
    """The agent whose Raft node wins crashes after joining the election: it drops out,
    and another agent leads (its request stands)."""
    protocol = 'strategy = "leader_decision"\nreply_timeout_ms = 100'
    network = "[network]\nlatency_ms = 10\n"
    calm = only(run(scenario(protocol, extra=network), seed=seed)[0])["leader"]
    crash = f'[[faults]]\nat_ms = 60\ncrash = "{calm}"\n'
    report, trace = run(scenario(protocol, extra=network + crash), seed=seed)
    resolution = only(report)
    assert resolution["leader"] != calm
    values = {"coder": 0.1, "creative_writer": 1.2, "reviewer": 0.5}
    assert resolution["resolved_value"] == values[resolution["leader"]]
    joined = [e.src for e in trace.trace.events() if e.type == "ElectionJoined"]
    assert calm in joined  # it took part before it crashed


def test_at_leader_crashes_the_agent_whose_raft_node_leads_the_election() -> None:
    """A crash of "@leader" during a leader_decision election hits the agent whose node
    leads at that moment (coder, seed 0); it drops out and another is elected. Outside an
    election "@leader" is no one (a no-op)."""
    protocol = 'strategy = "leader_decision"\nreply_timeout_ms = 100'
    network = "[network]\nlatency_ms = 10\n"
    for at_ms, crashed, leader in ((228, "coder", "creative_writer"), (20, None, "coder")):
        crash = f'[[faults]]\nat_ms = {at_ms}\ncrash = "@leader"\n'
        report, trace = run(scenario(protocol, extra=network + crash), seed=0)
        (fault,) = [e for e in trace.trace.events() if e.event == "fault"]
        assert (fault.dst, fault.note) == (
            (crashed, None) if crashed else ("@leader", "no leader: no-op")
        )
        assert only(report)["leader"] == leader

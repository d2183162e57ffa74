"""Voting as messages between actors: scenarios on the simulated network, and run_vote."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec
import pytest

from mabeam import ActorSystem, ConfigError, ScenarioError
from mabeam.protocols.consensus import Voter, run_vote
from mabeam.scenario import parse_scenario, run_scenario
from mabeam.scenario._run import check_runnable

SHARED = Path(__file__).resolve().parents[2] / "scenarios"  # tests/scenarios


def scenario(
    algorithm: str,
    votes: list[int | None],
    *,
    proposals: str = "[0.7, 0.9]",
    extra: str = "",
    weights: list[float] | None = None,
    faults: str = "",
) -> bytes:
    agents = ""
    for i, vote in enumerate(votes):
        agents += f'[[agents]]\nid = "a{i + 1}"\n'
        if vote is not None:
            agents += f"vote = {vote}\n"
        if weights is not None:
            agents += f"weight = {weights[i]}\n"
    return (
        f'name = "vote"\nseed = 1\n[protocol]\nkind = "consensus"\nalgorithm = "{algorithm}"\n'
        f"proposals = {proposals}\nreply_timeout_ms = 100\n{extra}{agents}{faults}"
    ).encode()


def run(document: bytes) -> dict[str, Any]:
    parsed = parse_scenario(document, path="vote.toml", fmt="toml")
    report, _ = run_scenario(parsed, path="vote.toml")
    decoded: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(report))
    return decoded


def test_shared_majority_scenario() -> None:
    """consensus-majority.toml: 0.7 wins with 3 of 5 votes, confidence 0.6."""
    parsed = parse_scenario(
        (SHARED / "consensus-majority.toml").read_bytes(), path="m.toml", fmt="toml"
    )
    report, network = run_scenario(parsed)
    assert report.ok
    assert report.result["consensus"] == 0.7
    assert report.result["vote_count"] == 3
    assert report.result["total_voters"] == 5
    assert report.result["confidence"] == 0.6
    assert network.sent == 10  # a call for votes and a ballot per agent


def test_a_crashed_voter_counts_as_eligible() -> None:
    """3 of 5 want 0.7 but one of them is crashed: 2 of 5 is no majority."""
    faults = '[[faults]]\nat_ms = 0\ncrash = "a1"\n'
    report = run(scenario("simple_majority", [0, 0, 1, 0, 1], faults=faults))
    assert report["ok"] is False
    assert report["error"]["code"] == "no_majority"
    assert report["result"] is None


class SlowVoter(Voter):
    """Answers after 1 s of virtual time: past any reply timeout used here."""

    async def receive(self, message: Any) -> Any:
        await asyncio.sleep(1.0)
        return await super().receive(message)


@pytest.mark.virtual_time
async def test_a_silent_voter_counts_as_eligible_and_does_not_vote() -> None:
    """A ballot still pending at the deadline is no vote (not a win): 2 yes of 4 eligible
    fails although the slow voter would have said yes."""
    async with ActorSystem() as system:
        for name in ("a", "b"):
            await system.spawn(Voter, name, 0, name=name)
        await system.spawn(Voter, "c", 1, name="c")
        await system.spawn(SlowVoter, "slow", 0, name="slow")
        voters = ["a", "b", "c", "slow"]
        outcome = await run_vote(system, voters, ["x", "y"], reply_timeout=0.1)
        assert outcome.error is not None
        assert outcome.error.code == "no_majority"
        assert asyncio.get_running_loop().time() == pytest.approx(0.1)
        outcome = await run_vote(system, voters[:3], ["x", "y"], reply_timeout=0.1)
        assert outcome.result is not None
        assert outcome.result.votes_cast == 3


def test_weighted_voting_with_agent_weights() -> None:
    """One heavy voter (3 of W 5) decides; total_weight is W."""
    report = run(scenario("weighted_voting", [1, 0, 0], weights=[3.0, 1.0, 1.0]))
    assert report["ok"] is True
    assert report["result"]["consensus"] == 0.9
    assert report["result"]["total_weight"] == 5.0
    assert report["result"]["confidence"] == 0.6


def test_the_weights_option_overrides_agent_weights() -> None:
    """protocol.weights replaces a1's weight 3 by 0.5: 0.7 (2 of W 2.5) wins instead."""
    extra = "weights = { a1 = 0.5 }\n"
    report = run(scenario("weighted_voting", [1, 0, 0], weights=[3.0, 1.0, 1.0], extra=extra))
    assert report["result"]["consensus"] == 0.7
    assert report["result"]["total_weight"] == 2.5


def test_weighted_tie_does_not_pass() -> None:
    """2 against 2 of W 4: no_weighted_majority (exit 1)."""
    report = run(scenario("weighted_voting", [0, 0, 1, 1]))
    assert report["error"]["code"] == "no_weighted_majority"


def test_unanimous_failure_names_dissenters_and_silent() -> None:
    """A dissenter, an abstainer and a crashed voter appear in error.details."""
    faults = '[[faults]]\nat_ms = 0\ncrash = "a4"\n'
    report = run(scenario("unanimous", [0, 1, None, 0, 0], faults=faults))
    assert report["error"]["code"] == "no_unanimity"
    assert report["error"]["details"] == {"dissenters": ["a2"], "silent": ["a3", "a4"]}


def test_unanimous_success() -> None:
    """Everyone for 0.9: confidence 1.0."""
    report = run(scenario("unanimous", [1, 1, 1]))
    assert report["result"]["consensus"] == 0.9
    assert report["result"]["confidence"] == 1.0


@pytest.mark.parametrize("algorithm", ["pbft", "blockchain"])
def test_pbft_and_blockchain_are_runnable(algorithm: str) -> None:
    """Every algorithm of the kind is implemented: check_runnable accepts them."""
    parsed = parse_scenario(scenario(algorithm, [0, 0]), path="x.toml", fmt="toml")
    check_runnable(parsed, "x.toml")


def test_an_algorithm_not_implemented_is_refused_before_running(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The kind's refuse hook names protocol.algorithm for an algorithm it cannot run."""
    from mabeam.scenario import _consensus

    monkeypatch.setattr(_consensus, "IMPLEMENTED", ("raft",))
    parsed = parse_scenario(scenario("unanimous", [0, 0]), path="x.toml", fmt="toml")
    with pytest.raises(ScenarioError, match="not implemented yet") as info:
        check_runnable(parsed, "x.toml")
    assert info.value.field == "protocol.algorithm"


@pytest.mark.virtual_time
async def test_run_vote_library_api() -> None:
    """run_vote asks running Voter actors; a name with no actor is an eligible non-voter."""
    async with ActorSystem() as system:
        await system.spawn(Voter, "a", 0, name="a")
        await system.spawn(Voter, "b", 0, name="b")
        outcome = await run_vote(system, ["a", "b", "gone"], ["x", "y"], reply_timeout=0.1)
        assert outcome.result is not None
        assert outcome.result.consensus == "x"
        assert outcome.result.total_voters == 3
        outcome = await run_vote(system, ["a", "b", "gone"], ["x"], algorithm="unanimous")
        assert outcome.error is not None
        assert outcome.error.details == {"dissenters": [], "silent": ["gone"]}
        with pytest.raises(ConfigError):
            await run_vote(system, ["a"], ["x"], algorithm="dictator")

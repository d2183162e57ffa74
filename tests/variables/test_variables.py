"""Orchestration variables through real actors: each protocol, pushes, history, telemetry."""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs

from mabeam import Actor, ActorSystem, ConfigError
from mabeam.protocols.bargaining import Appraisal, Appraise, TakeTurn, TurnTaken, Utility
from mabeam.protocols.conflict.messages import BargainingJoined, JoinBargaining
from mabeam.variables import (
    Preference,
    Propose,
    VariableAgent,
    VariableChanged,
    VariableError,
    Variables,
)

pytestmark = pytest.mark.virtual_time


class Changes(Actor):
    """Answers 'changes' with the VariableChanged it was told (a plain subscriber)."""

    def __init__(self) -> None:
        self.seen: list[VariableChanged] = []

    async def receive(self, message: Any) -> Any:
        if isinstance(message, VariableChanged):
            self.seen.append(message)
            return None
        if isinstance(message, Propose):
            return None  # no preference
        return list(self.seen)


async def agents(system: ActorSystem, **specs: dict[str, Any]) -> None:
    for agent, kwargs in specs.items():
        await system.spawn(VariableAgent, agent, name=agent, **kwargs)


async def changes_of(system: ActorSystem, agent: str) -> list[VariableChanged]:
    ref = system.whereis(agent)
    assert ref is not None
    seen: list[VariableChanged] = await ref.ask("changes")
    return seen


async def values_of(system: ActorSystem, agent: str) -> list[tuple[Any, int]]:
    """What a VariableAgent was told: (value, version) per change."""
    ref = system.whereis(agent)
    assert ref is not None
    actor = ref._cell._actor
    assert isinstance(actor, VariableAgent)
    return [(c.value, c.version) for c in actor.changes]


async def test_compromise_among_subscribers_in_one_call() -> None:
    """Subscribers' preferences [0.1, 1.5] compromise to 0.8; everyone is told version 1."""
    async with ActorSystem() as system:
        await agents(
            system,
            coder={"preferences": {"temperature": 0.1}},
            creative={"preferences": {"temperature": 1.5}},
        )
        variables = await Variables.start(system)
        await variables.define("temperature", 0.5, protocol="compromise")
        await variables.subscribe("temperature", "coder", "creative")
        decision = await variables.coordinate("temperature")
        assert decision.ok
        assert decision.value == pytest.approx(0.8)
        assert decision.version == 1
        assert decision.details["compromise_method"] == "weighted_average"
        variable = await variables.get("temperature")
        assert (variable.value, variable.version) == (decision.value, 1)
        assert [c.version for c in variable.history] == [0, 1]
        assert variable.history[1].participants == ("coder", "creative")
        assert await values_of(system, "coder") == [(decision.value, 1)]
        assert await values_of(system, "creative") == [(decision.value, 1)]


async def test_auction_winner_sets_the_value() -> None:
    """Sealed bid among subscribers: the highest bidder's preference wins."""
    async with ActorSystem() as system:
        await agents(
            system,
            coder={"preferences": {"temperature": 0.1}, "bid": 5.0},
            creative={"preferences": {"temperature": 1.2}, "bid": 8.0},
        )
        variables = await Variables.start(system)
        await variables.define("temperature", 0.5)
        await variables.subscribe("temperature", "coder", "creative")
        decision = await variables.coordinate(
            "temperature", protocol="auction", payment_rule="second_price"
        )
        assert decision.ok
        assert decision.value == 1.2
        assert decision.details["winner"] == "creative"
        assert decision.details["payment"] == 5.0


async def test_auction_without_bids_leaves_the_variable_unchanged() -> None:
    """No bidder bids: error no_bids, value and version unchanged, nobody told."""
    async with ActorSystem() as system:
        await agents(system, a={"preferences": {"x": 1}})
        variables = await Variables.start(system)
        await variables.define("x", 0)
        await variables.subscribe("x", "a")
        decision = await variables.coordinate("x", protocol="auction")
        assert not decision.ok
        assert decision.error == "no_bids"
        assert (decision.value, decision.version) == (0, 0)
        assert await values_of(system, "a") == []


async def test_voting_picks_the_majority_proposal() -> None:
    """Three of five prefer 'b' (a silent one still counts in n): majority decides 'b'."""
    async with ActorSystem() as system:
        await agents(
            system,
            a={"preferences": {"mode": "b"}},
            b={"preferences": {"mode": "b"}},
            c={"preferences": {"mode": "a"}},
            d={"preferences": {"mode": "b"}},
        )
        variables = await Variables.start(system)
        await variables.define("mode", "a", protocol="voting")
        await variables.subscribe("mode", "a", "b", "c", "d", "gone")
        decision = await variables.coordinate("mode", proposals=["a", "b"])
        assert decision.ok
        assert decision.value == "b"
        assert decision.details["vote_count"] == 3
        assert decision.details["votes_cast"] == 4
        unanimous = await variables.coordinate("mode", proposals=["a", "b"], algorithm="unanimous")
        assert unanimous.error == "no_unanimity"
        assert unanimous.details["silent"] == ["gone"]
        assert (await variables.get("mode")).version == 1


async def test_weighted_voting_uses_the_preference_weights() -> None:
    """A heavy agent outweighs two light ones."""
    async with ActorSystem() as system:
        await agents(
            system,
            heavy={"preferences": {"v": 1}, "weight": 5.0},
            l1={"preferences": {"v": 2}},
            l2={"preferences": {"v": 2}},
        )
        variables = await Variables.start(system)
        await variables.define("v", 0)
        await variables.subscribe("v", "heavy", "l1", "l2")
        decision = await variables.coordinate(
            "v", protocol="voting", proposals=[1, 2], algorithm="weighted_voting"
        )
        assert decision.value == 1


async def test_raft_commits_the_value_through_a_majority() -> None:
    """Raft among three subscribers commits the value; with two of three down: no_quorum."""
    async with ActorSystem() as system:
        await agents(system, a={}, b={}, c={})
        variables = await Variables.start(system)
        await variables.define("leader_note", "old")
        await variables.subscribe("leader_note", "a", "b", "c")
        decision = await variables.coordinate("leader_note", protocol="raft", value="new", seed=3)
        assert decision.ok
        assert decision.value == "new"
        assert decision.details["leader"] in ("a", "b", "c")
        for agent in ("b", "c"):
            ref = system.whereis(agent)
            assert ref is not None
            await ref.stop()
        failed = await variables.coordinate("leader_note", protocol="raft", value="x", timeout=2.0)
        assert failed.error == "no_quorum"
        assert (await variables.get("leader_note")).value == "new"


async def test_bargaining_among_subscribers_agrees_in_the_middle() -> None:
    """Two linear bargainers wanting 10 and 0 over outcomes 0..10 meet in the middle: 5,
    in the conflict module's 100-step session at step 50 (t = 51 / 101, where each one's
    aspiration 1 - t first admits 5); both are told version 1."""
    async with ActorSystem() as system:
        await agents(
            system,
            seller={"preferences": {"price": 10}},
            buyer={"preferences": {"price": 0}},
        )
        variables = await Variables.start(system)
        await variables.define("price", 3, protocol="bargaining")
        await variables.subscribe("price", "seller", "buyer")
        decision = await variables.coordinate("price", bargaining_outcomes=list(range(11)))
        assert decision.ok
        assert (decision.value, decision.version) == (5, 1)
        assert decision.details["step"] == 50
        assert decision.details["resolution_type"] == "negotiated_bargaining"
        assert await values_of(system, "seller") == [(5, 1)]
        assert await values_of(system, "buyer") == [(5, 1)]


async def test_bargaining_strategies_come_from_the_agents() -> None:
    """A boulware seller against a conceder buyer: the seller, conceding late, gets more
    than the middle (9, at step 66 of 100)."""
    async with ActorSystem() as system:
        await agents(
            system,
            seller={"preferences": {"price": 10}, "strategy": "boulware"},
            buyer={"preferences": {"price": 0}, "strategy": "conceder"},
        )
        variables = await Variables.start(system)
        await variables.define("price", 3)
        await variables.subscribe("price", "seller", "buyer")
        decision = await variables.coordinate(
            "price", protocol="bargaining", bargaining_outcomes=list(range(11))
        )
        assert (decision.value, decision.details["step"]) == (9, 66)


async def test_bargaining_between_hardliners_fails_without_change() -> None:
    """Two hardliners never concede: no agreement, the variable unchanged, nobody told."""
    async with ActorSystem() as system:
        await agents(
            system,
            a={"preferences": {"p": 10}, "strategy": "hardliner"},
            b={"preferences": {"p": 0}, "strategy": "hardliner"},
        )
        variables = await Variables.start(system)
        await variables.define("p", 3)
        await variables.subscribe("p", "a", "b")
        decision = await variables.coordinate("p", protocol="bargaining")
        assert (decision.ok, decision.error, decision.version) == (False, "no_agreement", 0)
        assert (await variables.get("p")).value == 3
        assert await values_of(system, "a") == []


async def test_variable_agent_refuses_a_bad_bargaining_strategy() -> None:
    """An unknown strategy or a reserved utility outside [0, 1] is a ConfigError at once."""
    with pytest.raises(ConfigError, match="strategy"):
        VariableAgent("a", strategy="stubborn")
    with pytest.raises(ConfigError, match="reserved"):
        VariableAgent("a", reserved=2.0)


async def test_bad_requests_are_refused() -> None:
    """Unknown variables, protocols and options; no agents; duplicates: clear errors."""
    async with ActorSystem() as system:
        variables = await Variables.start(system)
        with pytest.raises(VariableError, match="no variable 'nope'"):
            await variables.get("nope")
        await variables.define("x", 1)
        with pytest.raises(VariableError, match="already defined"):
            await variables.define("x", 2)
        with pytest.raises(ConfigError, match="name"):
            await variables.define("", 2)
        with pytest.raises(ConfigError, match="no default protocol"):
            await variables.coordinate("x")
        with pytest.raises(ConfigError, match="subscribe some"):
            await variables.coordinate("x", protocol="compromise")
        with pytest.raises(ConfigError, match="unknown protocol"):
            await variables.coordinate("x", protocol="telepathy", agents=["a"])
        with pytest.raises(ConfigError, match="not an option"):
            await variables.coordinate("x", protocol="compromise", agents=["a"], bid=3)
        with pytest.raises(ConfigError, match="twice"):
            await variables.coordinate("x", protocol="compromise", agents=["a", "a"])
        with pytest.raises(ConfigError, match="reply_timeout"):
            await variables.coordinate("x", protocol="compromise", agents=["a"], reply_timeout=0)
        with pytest.raises(ConfigError, match="proposals"):
            await variables.coordinate("x", protocol="voting", agents=["a"])
        with pytest.raises(ConfigError, match="value"):
            await variables.coordinate("x", protocol="raft", agents=["a"])
        with pytest.raises(ConfigError, match="agent ids"):
            await variables.subscribe("x", "")
        with pytest.raises(ConfigError, match="history"):
            await Variables.start(system, name=None, history=0)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        pytest.param({"protocol": "raft", "value": 2, "timeout": "x"}, "timeout", id="raft-str"),
        pytest.param({"protocol": "raft", "value": 2, "timeout": -1}, "timeout", id="raft-neg"),
        pytest.param({"protocol": "raft", "value": 2, "seed": "x"}, "seed", id="raft-seed"),
        pytest.param({"protocol": "voting", "proposals": "ab"}, "proposals", id="proposals-str"),
        pytest.param({"protocol": "compromise", "reply_timeout": "1"}, "reply_timeout", id="rt"),
        pytest.param({"protocol": "compromise", "agents": "ab"}, "agents", id="agents-str"),
        pytest.param({"protocol": "compromise", "agents": ["a", 5]}, "agents[1]", id="agent-int"),
    ],
)
async def test_malformed_options_are_refused_and_the_store_lives_on(
    options: dict[str, Any], field: str
) -> None:
    """Each malformed option is a ConfigError naming it; the store keeps its variables
    (a raft timeout of 'x' crashed it, losing every variable)."""
    async with ActorSystem() as system:
        await agents(system, a={"preferences": {"x": 1.0}}, b={"preferences": {"x": 1.0}})
        variables = await Variables.start(system)
        await variables.define("x", 0.0)
        await variables.subscribe("x", "a", "b")
        with pytest.raises(ConfigError) as caught:
            await variables.coordinate("x", **options)
        assert caught.value.field == field
        assert variables.ref.is_alive
        assert (await variables.get("x")).version == 0


async def test_subscribe_with_a_bad_id_subscribes_none() -> None:
    """A bad id among several: refused, and none of them is subscribed."""
    async with ActorSystem() as system:
        variables = await Variables.start(system)
        await variables.define("x", 1)
        with pytest.raises(ConfigError, match="agent ids"):
            await variables.subscribe("x", "ok", "")
        assert (await variables.get("x")).subscribers == ()


async def test_compromise_with_no_preferences_is_an_error_result() -> None:
    """Nobody states a preference: error no_preferences, unchanged."""
    async with ActorSystem() as system:
        await system.spawn(Changes, name="quiet")
        variables = await Variables.start(system)
        await variables.define("x", 1, protocol="compromise")
        await variables.subscribe("x", "quiet", "absent")
        decision = await variables.coordinate("x")
        assert (decision.ok, decision.error, decision.version) == (False, "no_preferences", 0)


async def test_compromise_on_non_numeric_values_fails_without_change() -> None:
    """Non-numeric preferences cannot be averaged: the resolution fails, nothing changes."""
    async with ActorSystem() as system:
        await agents(system, a={"preferences": {"x": "red"}}, b={"preferences": {"x": "blue"}})
        variables = await Variables.start(system)
        await variables.define("x", "green")
        await variables.subscribe("x", "a", "b")
        decision = await variables.coordinate("x", protocol="compromise")
        assert not decision.ok
        assert decision.error == "non_numeric_values"
        assert decision.details["resolution_type"] == "failed"


async def test_set_pushes_to_subscribers_and_unsubscribe_stops_it() -> None:
    """A direct set bumps the version and tells every running subscriber, in order."""
    async with ActorSystem() as system:
        await system.spawn(Changes, name="watcher")
        variables = await Variables.start(system, history=2)
        await variables.define("x", 1)
        await variables.subscribe("x", "watcher", "not-running")
        await variables.set("x", 2)
        await variables.set("x", 3)
        seen = await changes_of(system, "watcher")
        assert [(c.value, c.previous, c.version, c.protocol) for c in seen] == [
            (2, 1, 1, "set"),
            (3, 2, 2, "set"),
        ]
        await variables.unsubscribe("x", "watcher")
        variable = await variables.set("x", 4)
        assert len(await changes_of(system, "watcher")) == 2
        assert variable.subscribers == ("not-running",)
        assert [c.version for c in variable.history] == [2, 3]  # the last two kept
        assert [v.name for v in await variables.list_variables()] == ["x"]
        await variables.stop()
        await variables.stop()


async def test_telemetry_events() -> None:
    """coordination_started / _result / _stopped and variable_changed, with their fields."""
    async with ActorSystem() as system:
        await agents(system, a={"preferences": {"t": 1.0}}, b={"preferences": {"t": 2.0}})
        variables = await Variables.start(system)
        with capture_logs() as logs:
            await variables.define("t", 0.0)
            await variables.subscribe("t", "a", "b")
            await variables.coordinate("t", protocol="compromise", compromise_method="median")
        events = {e["event"]: e for e in logs}
        assert events["variable_defined"]["variable"] == "t"
        assert events["variable_subscribed"]["agent"] == "b"
        started = events["coordination_started"]
        assert (started["protocol"], started["variable"], started["agents"]) == (
            "compromise",
            "t",
            2,
        )
        result = events["coordination_result"]
        assert (result["ok"], result["value"], result["version"]) == (True, 1.5, 1)
        assert "elapsed_ms" in events["coordination_stopped"]
        changed = events["variable_changed"]
        assert (changed["previous"], changed["value"], changed["version"]) == (0.0, 1.5, 1)
        assert changed["protocol"] == "compromise"


async def test_variable_agent_answers_preferences() -> None:
    """A VariableAgent states its preference and weight; None when it has none."""
    async with ActorSystem() as system:
        ref = await system.spawn(VariableAgent, "a", {"x": 3}, weight=2.0)
        assert await ref.ask(Propose("x")) == Preference(agent="a", value=3, weight=2.0)
        assert (await ref.ask(Propose("y"))).value is None


async def test_variable_agent_outside_a_bargaining_session_stays_silent() -> None:
    """Asked a turn or an appraisal for a session it never joined (or one replaced by a
    newer session on the same variable), a VariableAgent makes no move and tells nothing."""
    async with ActorSystem() as system:
        ref = await system.spawn(VariableAgent, "a", {"x": 3})
        utility = Utility(ideal=3, worst=0)
        for session in ("s1", "s2"):
            joined = await ref.ask(JoinBargaining("x", session, utility, [0, 1, 2, 3]))
            assert joined == BargainingJoined(agent="a", session=session)
        assert await ref.ask(TakeTurn("s1", 0, 0.5)) == TurnTaken(step=0)  # replaced by s2
        assert (await ref.ask(TakeTurn("s2", 0, 0.5))).offer == 2  # u(2) = 2/3 >= 1 - 0.5
        assert await ref.ask(Appraise("s9", [0, 3])) == Appraisal(utilities=None)
        assert (await ref.ask(Appraise("s2", [0, 3]))).utilities == [0.0, 1.0]


async def test_a_change_for_a_subscriber_that_is_down_is_a_dead_letter() -> None:
    """The store tells subscribers by name: one that is down does not vanish silently,
    its change is a dead letter from the store; the live one gets it."""
    async with ActorSystem() as system:
        await system.spawn(Changes, name="up")
        variables = await Variables.start(system)
        await variables.define("x", 1)
        await variables.subscribe("x", "up", "down")
        await variables.set("x", 2)
        seen = await changes_of(system, "up")
        letters = [
            letter
            for letter in system.dead_letters.recent
            if isinstance(letter.message, VariableChanged)
        ]
    assert [(c.value, c.version) for c in seen] == [(2, 1)]
    assert [(d.recipient, d.sender, d.reason) for d in letters] == [
        ("down", "variables", "no_such_name")
    ]

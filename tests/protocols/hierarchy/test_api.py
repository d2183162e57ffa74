"""The library API through real actors: rounds, the supervisor tree, telemetry, scale."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from mabeam import ActorCrashedError, ActorError, ActorSystem, ConfigError
from mabeam.protocols.hierarchy import (
    GetValue,
    Hierarchy,
    HierarchyAgent,
    SetValue,
    Structure,
    coordinate,
)
from mabeam.protocols.hierarchy.actor import HierarchyResult, HierarchyRound
from mabeam.protocols.hierarchy.messages import Begin, Collect
from mabeam.runtime.supervision import which_children
from mabeam.sim import SimNetwork

pytestmark = pytest.mark.virtual_time

VALUES = {f"a{i:02d}": float(i + 1) for i in range(13)}


async def test_round_over_a_supervised_tree() -> None:
    """Hierarchy.start spawns every agent by id; a round gives the PROTOCOLS.md example."""
    async with ActorSystem() as system:
        hierarchy = await Hierarchy.start(system, VALUES, branching_factor=3)
        result = await hierarchy.coordinate("mean")
        assert (result.value, result.responders, result.depth, result.messages) == (7.0, 13, 3, 24)
        assert result.missing == []
        assert result.ok
        assert sorted(n for n in system.registered() if n.startswith("a")) == sorted(VALUES)
        await hierarchy.stop()
        assert system.whereis("a00") is None


async def _restarted(system: ActorSystem, hierarchy: Hierarchy, crashed: str) -> dict[str, bool]:
    """Crash ``crashed`` and report, per agent, whether it now runs as a new incarnation."""
    before = {agent: system.whereis(agent) for agent in VALUES}
    ref = before[crashed]
    assert ref is not None
    ref.tell("not a hierarchy message")  # crashes it (TypeError)
    await ref.join()
    # The supervisor handles the exit (and its restarts) before it answers this.
    supervisors = [hierarchy.supervisor]
    while supervisors:
        children = await which_children(supervisors.pop())
        supervisors += [c.ref for c in children if c.kind == "supervisor" and c.ref is not None]
    return {agent: system.whereis(agent) is not old for agent, old in before.items()}


async def test_sub_coordinator_crash_restarts_its_subtree_under_rest_for_one() -> None:
    """rest_for_one (default): a01 crashing restarts a01 and its children a04..a06 only."""
    async with ActorSystem() as system:
        hierarchy = await Hierarchy.start(system, VALUES, branching_factor=3)
        changed = await _restarted(system, hierarchy, "a01")
        assert sorted(a for a, new in changed.items() if new) == ["a01", "a04", "a05", "a06"]
        result = await hierarchy.coordinate("sum")
        assert result.value == 91.0
        assert result.missing == []


async def test_one_for_one_restarts_only_the_crashed_agent() -> None:
    """one_for_one: a sub-coordinator's crash restarts it alone."""
    async with ActorSystem() as system:
        hierarchy = await Hierarchy.start(
            system, list(VALUES.items()), branching_factor=3, strategy="one_for_one"
        )
        changed = await _restarted(system, hierarchy, "a01")
        assert [a for a, new in changed.items() if new] == ["a01"]


async def test_one_for_all_in_a_group_restarts_the_group() -> None:
    """one_for_all: a leaf's crash restarts its parent's whole group, not other groups."""
    async with ActorSystem() as system:
        hierarchy = await Hierarchy.start(system, VALUES, strategy="one_for_all")
        changed = await _restarted(system, hierarchy, "a05")
        assert sorted(a for a, new in changed.items() if new) == ["a01", "a04", "a05", "a06"]


async def test_bad_strategy_is_refused() -> None:
    """An unknown strategy is a ConfigError naming the OTP strategies."""
    async with ActorSystem() as system:
        with pytest.raises(ConfigError, match="one_for_one"):
            await Hierarchy.start(system, VALUES, strategy="all_for_none")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("agents", "field"),
    [
        pytest.param({"r": 1.0, "x": "high"}, "agents[1].value", id="string"),
        pytest.param({"r": True}, "agents[0].value", id="bool"),
        pytest.param([("r", 1.0), ("x", float("nan"))], "agents[1].value", id="nan"),
        pytest.param({"r": 1.0, "x": 2.0}, None, id="fine"),
    ],
)
async def test_agent_values_must_be_finite_numbers(
    agents: dict[str, float] | list[tuple[str, float]], field: str | None
) -> None:
    """Hierarchy.start refuses a value that is not a finite number, naming the agent."""
    async with ActorSystem() as system:
        if field is None:
            await (await Hierarchy.start(system, agents)).stop()
            return
        with pytest.raises(ConfigError) as caught:
            await Hierarchy.start(system, agents)
        assert caught.value.field == field
        assert system.whereis("r") is None


async def test_coordinate_refuses_bad_options() -> None:
    """Unknown aggregate, non-positive timeout: ConfigError before anything is sent."""
    async with ActorSystem() as system:
        structure = Structure.star(["a"])
        with pytest.raises(ConfigError, match="aggregate"):
            await coordinate(system, structure, aggregate="mode")
        with pytest.raises(ConfigError, match="reply_timeout"):
            await coordinate(system, structure, reply_timeout=0)


async def test_round_coordinator_crashing_is_an_error_not_a_hang() -> None:
    """A round whose coordinator crashes (here on Begin itself) fails the ask instead of
    waiting forever for a result that will not come."""

    class Fragile(HierarchyRound):
        async def receive(self, message: object) -> None:
            raise RuntimeError("broken coordinator")

    async with ActorSystem() as system:
        structure = Structure.star(["r"])
        ref = await system.spawn(Fragile, structure, "sum", 1.0)
        with pytest.raises(ActorCrashedError, match="broken coordinator"):
            await ref.ask(Begin(), timeout=None)


async def test_a_round_is_awaited_through_ask_and_answered_once_it_is_over() -> None:
    """Begin asked is answered with the result when the root's answer is in (no future
    passed in); asked again, the same result without a second round."""
    async with ActorSystem() as system:
        structure = Structure.star(["r", "x", "y"])
        for agent, value in (("r", 1.0), ("x", 2.0), ("y", 6.0)):
            await system.spawn(HierarchyAgent, agent, value, structure, name=agent)
        ref = await system.spawn(HierarchyRound, structure, "sum", 1.0)
        with capture_logs() as logs:
            first = await ref.ask(Begin(), timeout=None)
            again = await ref.ask(Begin(), timeout=None)
        await ref.stop()
    assert isinstance(first, HierarchyResult)
    assert (first.value, first.responders, first.messages) == (9.0, 3, 4)
    assert again is first
    assert [e["event"] for e in logs].count("coordination_started") == 1


async def test_a_round_stopped_before_its_result_fails_the_ask_at_once() -> None:
    """The asker of Begin is not left waiting when the round's coordinator exits first."""

    class Mute(HierarchyAgent):
        async def receive(self, message: object) -> None:
            return None

    async with ActorSystem() as system:
        structure = Structure.star(["r"])
        await system.spawn(Mute, "r", 1.0, structure, name="r")
        ref = await system.spawn(HierarchyRound, structure, "sum", 60.0)
        waiting = asyncio.ensure_future(ref.ask(Begin(), timeout=None))
        await asyncio.sleep(1.0)  # virtual: the request is out, the root keeps silent
        assert not waiting.done()
        await ref.stop()
        with pytest.raises(ActorError):
            await waiting


async def test_root_down_is_a_result_not_an_exception() -> None:
    """No root running: error root_down, everyone missing."""
    async with ActorSystem() as system:
        structure = Structure.tree(["r", "x"], 2)
        result = await coordinate(system, structure)
        assert result.error == "root_down"
        assert not result.ok
        assert result.missing == ["r", "x"]


async def test_values_can_change_between_rounds() -> None:
    """SetValue changes what an agent answers; GetValue reads it."""
    async with ActorSystem() as system:
        hierarchy = await Hierarchy.start(system, {"r": 1.0, "x": 2.0, "y": 3.0}, structure="star")
        ref = system.whereis("y")
        assert ref is not None
        ref.tell(SetValue(30.0))
        assert await ref.ask(GetValue()) == 30.0
        assert (await hierarchy.coordinate("max")).value == 30.0


class _Thermometer(HierarchyAgent):
    def current_value(self) -> float:
        return self.value * 10


async def test_agent_class_can_compute_its_value_at_request_time() -> None:
    """A subclass overriding current_value() answers with what it computes."""
    async with ActorSystem() as system:
        hierarchy = await Hierarchy.start(
            system,
            {"r": 1.0, "x": 2.0},
            structure="layered",
            layers=[["r"], ["x"]],
            agent_class=_Thermometer,
        )
        assert (await hierarchy.coordinate("sum")).value == 30.0


async def test_request_from_outside_an_actor_is_ignored_with_a_warning() -> None:
    """A Collect with no sender has nobody to answer: logged, not crashed."""
    async with ActorSystem() as system:
        structure = Structure.star(["r"])
        ref = await system.spawn(HierarchyAgent, "r", 1.0, structure, name="r")
        with capture_logs() as logs:
            ref.tell(Collect(1, "mean", 100.0))
            assert await ref.ask(GetValue()) == 1.0
        assert [e["event"] for e in logs if e["log_level"] == "warning"] == [
            "hierarchy_request_without_sender"
        ]


async def test_telemetry_events() -> None:
    """coordination_started / _result / _stopped and hierarchy_child_skipped, with fields."""
    async with ActorSystem() as system:
        hierarchy = await Hierarchy.start(system, VALUES, branching_factor=3)
        with capture_logs() as logs:
            result = await hierarchy.coordinate("mean", variable="load")
        events = {e["event"]: e for e in logs}
        started, done = events["coordination_started"], events["coordination_result"]
        assert started["protocol"] == "hierarchy"
        assert started["variable"] == "load"
        assert started["agents"] == 13
        assert done["ok"] is True
        assert done["value"] == result.value
        assert done["responders"] == 13
        assert "elapsed_ms" in events["coordination_stopped"]


async def test_child_that_is_down_is_sent_the_request_and_waited_for() -> None:
    """A parent cannot know a child is down: it sends the request by name (it travels, is
    counted as sent, and is dropped on arrival as a dead letter), waits the child's whole
    wait, then asks the child's child itself.

    Chain r -> a -> b -> c, a down: r sends to a (1, lost), waits a's wait (height 3:
    7 x 1 s), asks b (2); b asks c (3), c answers b (4), b answers r (5).
    """
    network = SimNetwork(seed=1)
    async with ActorSystem(transport=network) as system:
        structure = Structure.tree(["r", "a", "b", "c"], 1)
        for agent in ("r", "b", "c"):
            network.add_node(agent)
            await system.spawn(HierarchyAgent, agent, 1.0, structure, name=agent)
        network.add_node("a")
        with capture_logs() as logs:
            result = await coordinate(system, structure, aggregate="sum")
        assert (result.value, result.responders, result.missing) == (3.0, 3, ["a"])
        assert result.messages == 5
        assert asyncio.get_running_loop().time() >= 7.0
        (letter,) = [d for d in system.dead_letters.recent if isinstance(d.message, Collect)]
        assert (letter.recipient, letter.sender, letter.reason) == ("a", "r", "no_such_name")
        assert network.trace is not None  # the request to a travels the network and is dropped
        events = list(network.trace.events())
        sends = [e.dst for e in events if e.event == "send"]
        assert sends == ["a", "b", "c", "b", "r"]
        assert [(e.dst, e.note) for e in events if e.event == "drop"] == [("a", "no_actor")]
        assert (network.sent, network.dropped) == (result.messages, 1)
        skipped = [e for e in logs if e["event"] == "hierarchy_child_skipped"]
        assert [(e["agent"], e["child"], e["reason"]) for e in skipped] == [("r", "a", "timeout")]


async def _big_round(n: int, shape: str) -> None:
    network = SimNetwork(seed=2, latency_ms=(1, 3), trace=False)
    ids = [f"n{i}" for i in range(n)]
    structure = Structure.build(shape, ids, branching_factor=10)
    async with ActorSystem(transport=network) as system:
        for index, agent in enumerate(ids):
            network.add_node(agent)
            await system.spawn(HierarchyAgent, agent, float(index % 7), structure, name=agent)
        dead = [ids[5], ids[57], ids[n - 1]]  # depth 2, depth 3 and a leaf
        for agent in dead:
            ref = system.whereis(agent)
            assert ref is not None
            await ref.stop()
        result = await coordinate(system, structure, aggregate="median")
        assert result.missing == sorted(dead)
        assert result.responders == n - 3
        live = sorted(float(i % 7) for i, a in enumerate(ids) if a not in dead)
        middle = len(live) // 2
        expected = live[middle] if len(live) % 2 else (live[middle - 1] + live[middle]) / 2
        assert result.value == expected


async def test_thousand_agents_on_the_simulated_network() -> None:
    """1,000 agents as a tree with three agents down: exact median, only those missing."""
    await _big_round(1000, "tree")


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["tree", "star"])
async def test_ten_thousand_agents_on_the_simulated_network(shape: str) -> None:
    """10,000 agents, tree (branching 10) and star: the round completes exactly."""
    await _big_round(10_000, shape)


async def test_partitioned_agent_is_waited_for_then_bypassed() -> None:
    """A child cut off by a partition is timed out after its wait, and its child adopted."""
    network = SimNetwork(seed=1)
    async with ActorSystem(transport=network) as system:
        structure = Structure.tree(["r", "a", "b"], 1)
        for agent in ("r", "a", "b"):
            network.add_node(agent)
            await system.spawn(HierarchyAgent, agent, 1.0, structure, name=agent)
        network.partition([["a"]])
        result = await coordinate(system, structure, aggregate="sum", reply_timeout=0.1)
        assert result.missing == ["a"]
        assert result.value == 2.0
        assert asyncio.get_running_loop().time() >= 0.3  # a's wait: height 2 -> 3 x 100 ms

"""``kind = "hierarchy"`` scenarios: dead sub-coordinators adopted, root down, layers, faults."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mabeam import ScenarioError
from mabeam.protocols.hierarchy import Structure
from mabeam.protocols.hierarchy.structure import MAX_WAIT_HEIGHT
from mabeam.scenario import parse_scenario, run_scenario


def scenario(
    n: int = 13,
    *,
    protocol: str = 'structure = "tree"\nbranching_factor = 3\n',
    faults: str = "",
    network: str = "",
    values: list[float] | None = None,
) -> bytes:
    values = values or [float(i + 1) for i in range(n)]
    agents = "".join(f'[[agents]]\nid = "a{i:02d}"\nvalue = {values[i]}\n' for i in range(n))
    return (
        f'name = "h"\nseed = 3\n[protocol]\nkind = "hierarchy"\nreply_timeout_ms = 100\n'
        f"{protocol}{agents}{network}{faults}"
    ).encode()


def run(document: bytes) -> Any:
    report, _ = run_scenario(parse_scenario(document, path="h.toml", fmt="toml"), path="h.toml")
    return report


def crash(agent: str, at_ms: int = 0) -> str:
    return f'[[faults]]\nat_ms = {at_ms}\ncrash = "{agent}"\n'


def test_every_agent_up_gives_the_documented_result() -> None:
    """13 agents, tree, branching 3, all up: mean 7, depth 3, 24 messages, none missing."""
    report = run(scenario())
    assert report.ok
    assert report.result == {
        "value": 7.0,
        "responders": 13,
        "missing": [],
        "depth": 3,
        "messages": 24,
    }
    assert report.stats.messages_sent == 24 + 2  # and the coordinator's request and answer
    assert report.stats.messages_dropped == 0


def test_dead_sub_coordinator_is_waited_for_then_its_children_adopted() -> None:
    """a01 down from the start (13 agents, tree, branching 3): the known answer.

    The root cannot know a01 is down: it sends a01 the request like any child, waits
    a01's wait (height 2: (2**2 - 1) x 100 ms), then asks a01's children a04..a06 itself.

    Requests sent: root -> a01, a02, a03 (3, the one to a01 lost); a02 -> a07..a09 and
    a03 -> a10..a12 (6); root -> a04..a06 after the wait (3): 12.
    Answers received: a07..a12 by a02 / a03 (6); a02, a03 by the root (2); a04..a06 by
    the root (3): 11. Messages 12 + 11 = 23 (24 with every agent up, less a01's answer).
    Responders 12; value (1 + ... + 13 - 2) / 12 = 89 / 12.
    """
    report = run(scenario(faults=crash("a01")))
    assert report.ok
    assert report.result == {
        "value": 89.0 / 12,
        "responders": 12,
        "missing": ["a01"],
        "depth": 3,
        "messages": 23,
    }
    assert report.stats.virtual_ms >= 300.0
    # The request to a01 travels the network like the others and is dropped on arrival:
    # the network counts every protocol message, plus the coordinator's request to the
    # root and the root's answer.
    assert report.stats.messages_sent == 23 + 2
    assert report.stats.messages_dropped == 1
    assert report.stats.messages_delivered == 23 + 2 - 1


def test_partitioned_sub_coordinator_times_out_and_is_bypassed() -> None:
    """a01 cut off: the root waits for it, gives up, and asks a04..a06 itself."""
    partition = '[[faults]]\nat_ms = 0\npartition = [["a01"]]\n'
    report = run(scenario(faults=partition))
    assert report.result["missing"] == ["a01"]
    assert report.result["responders"] == 12
    # The root waited a01's whole wait (height 2: 3 x 100 ms) before adopting its children.
    assert report.stats.virtual_ms >= 300.0
    # Requests: 9 in the tree (a01 never forwards its 3) + 3 adopted; 11 answers.
    assert report.result["messages"] == 12 + 11


def test_dead_node_deep_in_a_large_tree_is_bypassed() -> None:
    """1,000 agents, branching 10: a depth-3 node and a depth-2 node down, only they missing."""
    report = run(
        scenario(
            1000,
            protocol='structure = "tree"\nbranching_factor = 10\naggregate = "sum"\n',
            faults=crash("a15") + crash("a03"),
        )
    )
    assert report.ok
    assert report.result["missing"] == ["a03", "a15"]
    assert report.result["value"] == sum(range(1, 1001)) - 16.0 - 4.0
    assert report.result["depth"] == 4


def test_crash_in_the_middle_of_the_round_is_bypassed() -> None:
    """A leaf's parent crashing after the request left the root is timed out, not waited on."""
    network = "[network]\nlatency_ms = 10\n"
    report = run(scenario(faults=crash("a02", at_ms=5), network=network))
    assert report.ok
    assert report.result["missing"] == ["a02"]
    assert report.result["responders"] == 12


def test_root_down_is_error_root_down() -> None:
    """The first agent down: no result, error root_down."""
    report = run(scenario(faults=crash("a00")))
    assert not report.ok
    assert report.result is None
    assert report.error.code == "root_down"
    # Sent to the root all the same, and waited for: height 3, (2**3 - 1) x 100 ms.
    assert report.stats.virtual_ms >= 700.0


def test_root_crashing_mid_round_is_root_down() -> None:
    """The root dies after it was asked: its answer never comes, root_down."""
    report = run(scenario(faults=crash("a00", at_ms=1), network="[network]\nlatency_ms = 2\n"))
    assert report.error.code == "root_down"


@pytest.mark.parametrize(
    ("aggregate", "value"),
    [
        pytest.param("median", 4.0, id="median"),
        pytest.param("vote", 4.0, id="vote"),
        pytest.param("min", 1.0, id="min"),
        pytest.param("max", 9.0, id="max"),
    ],
)
def test_layered_structure_aggregates(aggregate: str, value: float) -> None:
    """Layers as documented; every aggregate runs over them."""
    layers = '[["a00"], ["a01", "a02"], ["a03", "a04", "a05", "a06"]]'
    protocol = f'structure = "layered"\nlayers = {layers}\naggregate = "{aggregate}"\n'
    report = run(scenario(7, protocol=protocol, values=[1.0, 9.0, 4.0, 4.0, 2.0, 3.0, 8.0]))
    assert report.result["value"] == value
    assert report.result["depth"] == 3
    assert report.result["messages"] == 12


def test_star_structure() -> None:
    """A star is depth 2, one request and one answer per agent but the root."""
    report = run(scenario(protocol='structure = "star"\n'))
    assert report.result["depth"] == 2
    assert report.result["messages"] == 24


@pytest.mark.parametrize(
    ("protocol", "field"),
    [
        pytest.param('structure = "layered"\n', "protocol.layers", id="layers-required"),
        pytest.param(
            'structure = "layered"\nlayers = [["a01"], ["a00"]]\n',
            "protocol.layers[0]",
            id="root-first",
        ),
        pytest.param(
            'structure = "layered"\nlayers = [["a00"], ["a01"]]\n', "protocol.layers", id="missing"
        ),
        pytest.param('layers = [["a00"]]\n', "protocol.layers", id="layers-without-layered"),
    ],
)
def test_invalid_layers_are_refused_before_running(protocol: str, field: str) -> None:
    """Layered validity is checked by the loader: a ScenarioError naming the field."""
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(scenario(3, protocol=protocol), path="h.toml", fmt="toml")
    assert caught.value.field == field


def test_same_seed_same_result_and_trace() -> None:
    """Byte-identical result and trace for the same scenario and seed, with jitter and faults."""
    document = scenario(40, network="[network]\nlatency_ms = [1, 9]\n", faults=crash("a02", 3))
    first, net1 = run_scenario(parse_scenario(document, path="h", fmt="toml"))
    second, net2 = run_scenario(parse_scenario(document, path="h", fmt="toml"))
    assert first.result == second.result
    assert net1.trace is not None
    assert net2.trace is not None
    assert net1.trace.to_jsonl() == net2.trace.to_jsonl()


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(2, 40),
    branching=st.integers(1, 4),
    down=st.sets(st.integers(1, 39), max_size=6),
    cut=st.sets(st.integers(1, 39), max_size=3),
    seed=st.integers(0, 1000),
)
def test_only_agents_that_are_down_or_cut_off_go_missing(
    n: int, branching: int, down: set[int], cut: set[int], seed: int
) -> None:
    """Random trees with crashed and partitioned agents, jittery latency: the missing are
    exactly those, and the value is the sum of everyone else's (for trees no higher than
    MAX_WAIT_HEIGHT, where the waits make the guarantee hold)."""
    assume(Structure.tree([f"a{i:02d}" for i in range(n)], branching).depth <= MAX_WAIT_HEIGHT)
    down = {i for i in down if i < n}
    cut = {i for i in cut if i < n} - down
    faults = "".join(crash(f"a{i:02d}") for i in sorted(down))
    if cut:
        groups = ", ".join(f'["a{i:02d}"]' for i in sorted(cut))
        faults += f"[[faults]]\nat_ms = 0\npartition = [{groups}]\n"
    protocol = f'structure = "tree"\nbranching_factor = {branching}\naggregate = "sum"\n'
    document = scenario(
        n, protocol=protocol, faults=faults, network="[network]\nlatency_ms = [1, 9]\n"
    )
    document = document.replace(b"seed = 3", f"seed = {seed}".encode())
    report = run(document)
    gone = down | cut
    assert report.ok
    assert report.result["missing"] == [f"a{i:02d}" for i in sorted(gone)]
    assert report.result["value"] == sum(float(i + 1) for i in range(n) if i not in gone)


def test_deep_chain_with_a_dead_agent_ends_in_bounded_time() -> None:
    """A chain 300 agents deep (branching 1), a01 down: the root waits a01's wait, linear
    past MAX_WAIT_HEIGHT (2**16 - 1 + 283 x 2**16 timeouts, not 2**299 - 1), then adopts
    a02, whose 297 descendants answer through it: only a01 missing; a request to each of
    the 299 non-root agents and an answer from each of the 298 live ones: 597 messages."""
    chain = 'structure = "tree"\nbranching_factor = 1\n'
    assert run(scenario(300, protocol=chain)).result["depth"] == 300
    report = run(scenario(300, protocol=chain, faults=crash("a01")))
    assert report.ok
    assert report.result["missing"] == ["a01"]
    assert report.result["responders"] == 299
    assert report.result["messages"] == 299 + 298
    a01_wait_ms = (2**16 - 1 + 283 * 2**16) * 100.0
    assert a01_wait_ms <= report.stats.virtual_ms < a01_wait_ms + 1000.0

"""Running scenarios: the ping protocol end to end, faults, determinism, scale."""

from __future__ import annotations

import time
from typing import Any

import msgspec
import pytest

from mabeam.protocols.ping import PingAgent
from mabeam.scenario import (
    KINDS,
    Kind,
    Outcome,
    RunError,
    RunFailure,
    ScenarioRun,
    parse_scenario,
    register_protocol,
    run_scenario,
)
from mabeam.scenario._ping import PingOptions


def ping_scenario(
    n: int = 4,
    *,
    network: str = "",
    faults: str = "",
    seed: int = 1,
    reply_timeout_ms: int = 200,
) -> bytes:
    agents = "".join(f'[[agents]]\nid = "a{i}"\n' for i in range(n))
    return (
        f'name = "ping"\nseed = {seed}\n[protocol]\nkind = "ping"\n'
        f"reply_timeout_ms = {reply_timeout_ms}\n{agents}{network}{faults}"
    ).encode()


def run(document: bytes, *, seed: int | None = None) -> tuple[Any, Any]:
    scenario = parse_scenario(document, path="test.toml", fmt="toml")
    report, network = run_scenario(scenario, seed=seed, path="test.toml")
    return report, network


def test_ping_every_agent_answers_on_a_reliable_network() -> None:
    """On the default network every agent answers and the report has the documented shape."""
    report, _ = run(ping_scenario(3))
    document = msgspec.json.decode(msgspec.json.encode(report))
    assert list(document) == ["scenario", "protocol", "seed", "ok", "result", "error", "stats"]
    assert document["ok"] is True
    assert document["protocol"] == "ping"
    assert document["result"] == {"answered": ["a0", "a1", "a2"], "unanswered": []}
    assert document["error"] is None
    stats = document["stats"]
    assert list(stats) == [
        "messages_sent",
        "messages_delivered",
        "messages_dropped",
        "virtual_ms",
        "wall_ms",
    ]
    assert stats["messages_sent"] == 6
    assert stats["messages_delivered"] == 6
    assert stats["messages_dropped"] == 0
    assert stats["virtual_ms"] == 2.0


def test_crash_at_zero_means_down_from_the_start() -> None:
    """An agent crashed at at_ms = 0 never answers and gets no message at all."""
    report, network = run(ping_scenario(3, faults='[[faults]]\nat_ms = 0\ncrash = "a1"\n'))
    assert report.result == {"answered": ["a0", "a2"], "unanswered": ["a1"]}
    events = list(network.trace.events())
    assert [(e.event, e.kind, e.dst) for e in events if e.event == "fault"] == [
        ("fault", "crash", "a1")
    ]
    assert all(e.dst != "a1" for e in events if e.event in ("send", "deliver"))


def test_a_crash_while_a_ping_is_in_flight_leaves_it_unanswered() -> None:
    """A crash at 5 ms, while a 10 ms ping travels, drops it at arrival (not_running)."""
    network = "[network]\nlatency_ms = 10\n"
    faults = '[[faults]]\nat_ms = 5\ncrash = "a0"\n'
    report, net = run(ping_scenario(2, network=network, faults=faults))
    assert report.result == {"answered": ["a1"], "unanswered": ["a0"]}
    drops = [(e.t_ms, e.dst, e.note) for e in net.trace.events() if e.event == "drop"]
    assert drops == [(10.0, "a0", "not_running")]


def test_restart_brings_a_crashed_agent_back_through_its_supervisor() -> None:
    """A restart before the ping arrives makes the agent answer again (a new incarnation)."""
    network = "[network]\nlatency_ms = 10\n"
    faults = '[[faults]]\nat_ms = 0\ncrash = "a0"\n[[faults]]\nat_ms = 3\nrestart = "a0"\n'
    report, net = run(ping_scenario(2, network=network, faults=faults))
    # The coordinator looked a0 up at 0 ms, when it was down: it never pinged it.
    assert report.result == {"answered": ["a1"], "unanswered": ["a0"]}
    kinds = [(e.kind, e.dst, e.note) for e in net.trace.events() if e.event == "fault"]
    assert kinds == [("crash", "a0", None), ("restart", "a0", None)]


def test_restarting_a_running_agent_changes_nothing() -> None:
    """restart of an agent that is running is a traced no-op."""
    report, net = run(ping_scenario(2, faults='[[faults]]\nat_ms = 0\nrestart = "a0"\n'))
    assert report.result == {"answered": ["a0", "a1"], "unanswered": []}
    notes = [e.note for e in net.trace.events() if e.event == "fault"]
    assert notes == ["running: no-op"]


def test_partition_does_not_cut_the_coordinator_off() -> None:
    """A partition splits agents, but the coordinator still reaches every one of them."""
    faults = '[[faults]]\nat_ms = 0\npartition = [["a0"], ["a1", "a2"]]\n'
    report, _ = run(ping_scenario(4, faults=faults))
    assert report.result == {"answered": ["a0", "a1", "a2", "a3"], "unanswered": []}


def test_heal_after_partition_and_faults_later_in_time_are_traced_in_order() -> None:
    """Faults apply at their virtual times, in order, and every kind shows in the trace."""
    faults = (
        '[[faults]]\nat_ms = 1\npartition = [["a0"]]\n'
        "[[faults]]\nat_ms = 2\nheal = true\n"
        '[[faults]]\nat_ms = 3\ncrash = "a1"\n'
        '[[faults]]\nat_ms = 4\nrestart = "a1"\n'
        '[[faults]]\nat_ms = 60\ncrash = "a0"\n'
    )
    report, net = run(ping_scenario(2, faults=faults, network="[network]\nlatency_ms = 50\n"))
    fault_events = [(e.t_ms, e.kind) for e in net.trace.events() if e.event == "fault"]
    assert fault_events == [
        (1.0, "partition"),
        (2.0, "heal"),
        (3.0, "crash"),
        (4.0, "restart"),
        (60.0, "crash"),
    ]
    # a0 answered at 50 ms, before its crash at 60 ms (its reply arrives at 100 ms);
    # a1 was pinged at 0 ms and crashed at 3 ms, before the ping arrived.
    assert report.result == {"answered": ["a0"], "unanswered": ["a1"]}


def test_same_seed_same_trace_and_result_byte_for_byte() -> None:
    """Two runs with the same seed on a lossy, jittery network give identical bytes."""
    network = "[network]\nlatency_ms = [1, 30]\ndrop_rate = 0.3\nduplicate_rate = 0.2\n"
    first, first_net = run(ping_scenario(40, network=network, seed=9))
    second, second_net = run(ping_scenario(40, network=network, seed=9))
    assert msgspec.json.encode(first.result) == msgspec.json.encode(second.result)
    assert first_net.trace.to_jsonl() == second_net.trace.to_jsonl()
    assert first.stats.virtual_ms == second.stats.virtual_ms


def test_a_different_seed_gives_a_different_trace_on_a_lossy_network() -> None:
    """Changing the seed (here with --seed's override) changes what the lossy network does."""
    network = "[network]\nlatency_ms = [1, 30]\ndrop_rate = 0.3\n"
    first, first_net = run(ping_scenario(40, network=network), seed=1)
    second, second_net = run(ping_scenario(40, network=network), seed=2)
    assert first.seed == 1
    assert second.seed == 2
    assert first_net.trace.to_jsonl() != second_net.trace.to_jsonl()


def test_clock_never_passes_a_deliverable_message() -> None:
    """Every delivery happens exactly at its send time plus a latency within the range."""
    network = "[network]\nlatency_ms = [2, 9]\nreorder = true\n"
    _, net = run(ping_scenario(50, network=network, seed=4))
    sent: dict[tuple[int, str], float] = {}
    for event in net.trace.events():
        if event.event == "send":
            sent[(event.id, event.kind)] = event.t_ms
        elif event.event == "deliver":
            latency = event.t_ms - sent[(event.id, event.kind)]
            assert 2.0 - 1e-6 <= latency <= 9.0 + 1e-6


def test_a_thousand_agents_ping_in_under_two_seconds() -> None:
    """1,000 agents on a jittery network: the whole run takes under 2 s of wall time."""
    network = "[network]\nlatency_ms = [1, 10]\n"
    started = time.perf_counter()
    report, _ = run(ping_scenario(1000, network=network))
    elapsed = time.perf_counter() - started
    assert len(report.result["answered"]) == 1000
    assert report.stats.messages_delivered == 2000
    assert elapsed < 2.0


async def _failing(run: ScenarioRun) -> Outcome:
    await run.spawn_agents(lambda agent: (PingAgent, (agent.id,), {}))
    await run.start_faults()
    return Outcome(ok=False, error=RunFailure(code="no_majority", message="no majority"))


def test_a_driver_without_agreement_reports_its_error() -> None:
    """A protocol outcome that is not an agreement is ok=false with the driver's error; a
    run takes a replacement kind explicitly (``kinds``), nothing global changes."""
    scenario = parse_scenario(ping_scenario(2), path="test.toml", fmt="toml")
    failing = Kind(options=PingOptions, drive=_failing)
    report, _ = run_scenario(scenario, kinds=[failing])
    assert report.ok is False
    assert report.result is None
    assert report.error == RunFailure(code="no_majority", message="no majority")
    assert msgspec.json.encode(report.error) == b'{"code":"no_majority","message":"no majority"}'
    assert run_scenario(scenario)[0].ok is True  # the built-in ping kind again


def test_every_builtin_kind_is_listed_once_in_schema_order() -> None:
    """KINDS names each kind once; the [protocol] union is built from it, in its order."""
    names = [kind.name for kind in KINDS]
    assert names == [
        "auction",
        "conflict",
        "consensus",
        "market",
        "bargaining",
        "hierarchy",
        "ping",
    ]
    assert RunError is RunFailure  # the old, deprecated name of the record


def test_register_protocol_is_deprecated_and_returns_a_kind() -> None:
    """register_protocol registers nothing: it warns and returns a Kind to pass to a run."""
    with pytest.warns(DeprecationWarning, match="kinds="):
        kind = register_protocol("ping", _failing)
    assert kind.name == "ping"
    scenario = parse_scenario(ping_scenario(2), path="test.toml", fmt="toml")
    assert run_scenario(scenario)[0].ok is True
    assert run_scenario(scenario, kinds=[kind])[0].error == RunFailure("no_majority", "no majority")
    with (
        pytest.warns(DeprecationWarning, match="kinds="),
        pytest.raises(ValueError, match="unknown kind 'pong'"),
    ):
        register_protocol("pong", _failing)


def test_register_protocol_adapts_an_old_byzantine_factory() -> None:
    """An old ``byzantine(agent, behavior)`` becomes the kind's factory and behaviors."""
    drop = lambda payload, receiver: None  # noqa: E731

    def old(agent: str, behavior: str) -> Any:
        return drop if behavior == "equivocate" else None

    with pytest.warns(DeprecationWarning, match="kinds="):
        kind = register_protocol("consensus", _failing, byzantine=old)
    assert kind.behaviors == ("equivocate",)
    assert kind.byzantine is not None
    assert kind.byzantine(None, "a", "equivocate") is drop  # type: ignore[arg-type]


def test_consensus_behaviors_are_implemented_by_pbft_and_the_chain() -> None:
    """The consensus kind claims every byzantine behavior the schema admits: each of its
    byzantine algorithms implements them (or leaves them to the generic ones)."""
    from mabeam.protocols.consensus.pbft.byzantine import BEHAVIORS as PBFT
    from mabeam.scenario import _chain, _consensus

    claimed = set(_consensus.BEHAVIORS)
    assert claimed == {"equivocate", "wrong_digest", "forge_sender"}
    assert claimed <= set(PBFT)
    assert claimed <= set(_chain.BEHAVIORS)


def test_the_protocol_union_is_built_from_kinds_in_order() -> None:
    """The schema's [protocol] union is KINDS' options Structs, in KINDS' order."""
    from typing import get_args

    from mabeam.scenario import _schema

    assert get_args(_schema.ProtocolOptions) == tuple(kind.options for kind in KINDS)

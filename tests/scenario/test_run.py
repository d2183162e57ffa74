"""Running scenarios: the ping protocol end to end, faults, determinism, scale."""

from __future__ import annotations

import time
from typing import Any

import msgspec
import pytest

from mabeam.protocols.ping import PingAgent
from mabeam.scenario import Outcome, RunError, ScenarioRun, parse_scenario, run_scenario
from mabeam.scenario import _run as run_module


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


def test_a_driver_without_agreement_reports_its_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A protocol outcome that is not an agreement is ok=false with the driver's error."""

    async def failing(run: ScenarioRun) -> Outcome:
        await run.spawn_agents(lambda agent: (PingAgent, (agent.id,), {}))
        await run.start_faults()
        return Outcome(ok=False, error=RunError(code="no_majority", message="no majority"))

    run_module.protocol_kinds()
    monkeypatch.setitem(run_module._PROTOCOLS, "ping", run_module._Protocol(failing))
    report, _ = run(ping_scenario(2))
    assert report.ok is False
    assert report.result is None
    assert report.error == RunError(code="no_majority", message="no majority")

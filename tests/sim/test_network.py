"""The simulated network: latency, order, loss, duplication, partitions, interceptors, trace."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mabeam import (
    Actor,
    ActorCrashedError,
    ActorRef,
    ActorSystem,
    AskTimeoutError,
    ChildSpec,
    ConfigError,
    Supervisor,
)
from mabeam.sim import DROP, SimNetwork, run_virtual


class Note(msgspec.Struct, frozen=True, tag=True):
    seq: int
    claim: str = ""


class Recorder(Actor):
    """Records (virtual time, sender label, message) for every message it gets."""

    def __init__(self, log: list[tuple[float, str | None, Any]]) -> None:
        self.log = log

    async def receive(self, message: Any) -> Any:
        sender = self.context.sender
        self.log.append((self.context.time(), None if sender is None else sender.label, message))
        return message


class Sender(Actor):
    """Tells ``target`` whatever it is told to send (so the sender is an actor node)."""

    async def receive(self, message: Any) -> Any:
        target, payload = message
        if isinstance(payload, list):
            for item in payload:
                target.tell(item)
            return None
        return await target.ask(payload, timeout=1.0)


Scenario = Callable[[ActorSystem, SimNetwork], Awaitable[Any]]


def simulate(network: SimNetwork, body: Scenario) -> Any:
    """Run ``body`` on virtual time in a system whose transport is ``network``."""

    async def main() -> Any:
        async with ActorSystem(transport=network) as system:
            result = await body(system, network)
            await asyncio.sleep(1.0)  # virtual: let everything in flight arrive
            return result

    return run_virtual(main)


async def pair(
    system: ActorSystem, network: SimNetwork, log: list[tuple[float, str | None, Any]]
) -> tuple[ActorRef, ActorRef]:
    network.add_node("src")
    network.add_node("dst")
    src = await system.spawn(Sender, name="src")
    dst = await system.spawn(Recorder, log, name="dst")
    return src, dst


def test_fixed_latency_delivers_at_exactly_send_time_plus_latency() -> None:
    """With latency 7 ms every message arrives exactly 7 virtual ms after it was sent."""
    log: list[tuple[float, str | None, Any]] = []

    async def body(system: ActorSystem, network: SimNetwork) -> None:
        src, dst = await pair(system, network, log)
        await asyncio.sleep(0.5)
        src.tell((dst, [Note(1), Note(2)]))

    simulate(SimNetwork(seed=1, latency_ms=7), body)
    assert [(round(t, 9), s, m.seq) for t, s, m in log] == [(0.507, "src", 1), (0.507, "src", 2)]


def test_latency_range_keeps_each_link_fifo_by_default() -> None:
    """Latencies drawn from [1, 50] ms never reorder one link's messages unless reorder=True."""
    log: list[tuple[float, str | None, Any]] = []

    async def body(system: ActorSystem, network: SimNetwork) -> None:
        src, dst = await pair(system, network, log)
        src.tell((dst, [Note(i) for i in range(200)]))

    simulate(SimNetwork(seed=3, latency_ms=(1, 50)), body)
    assert [m.seq for _, _, m in log] == list(range(200))
    assert all(0.001 <= t <= 0.050 + 1e-9 for t, _, _ in log)


def test_reorder_lets_messages_overtake_within_the_latency_range() -> None:
    """With reorder=True messages arrive in latency order, so some overtake earlier ones."""
    log: list[tuple[float, str | None, Any]] = []

    async def body(system: ActorSystem, network: SimNetwork) -> None:
        src, dst = await pair(system, network, log)
        src.tell((dst, [Note(i) for i in range(200)]))

    simulate(SimNetwork(seed=3, latency_ms=(1, 50), reorder=True), body)
    seqs = [m.seq for _, _, m in log]
    assert sorted(seqs) == list(range(200))
    assert seqs != list(range(200))
    times = [t for t, _, _ in log]
    assert times == sorted(times)
    assert all(0.001 - 1e-12 <= t <= 0.050 + 1e-9 for t in times)


@pytest.mark.parametrize(
    ("drop_rate", "expected"),
    [pytest.param(0.0, 300, id="reliable"), pytest.param(1.0, 0, id="all-lost")],
)
def test_drop_rate_extremes(drop_rate: float, expected: int) -> None:
    """drop_rate 0 delivers everything, 1 delivers nothing; counters and trace agree."""
    log: list[tuple[float, str | None, Any]] = []
    network = SimNetwork(seed=5, drop_rate=drop_rate)

    async def body(system: ActorSystem, network: SimNetwork) -> None:
        src, dst = await pair(system, network, log)
        src.tell((dst, [Note(i) for i in range(300)]))

    simulate(network, body)
    assert len(log) == expected
    assert network.sent == 300
    assert network.delivered == expected
    assert network.dropped == 300 - expected
    assert network.trace is not None
    drops = [e for e in network.trace.events() if e.event == "drop"]
    assert len(drops) == 300 - expected
    assert all(e.note == "loss" for e in drops)


def test_partial_loss_is_seeded_and_roughly_the_rate() -> None:
    """A 30% loss rate drops about 30% of 2,000 messages, and the same seed drops the same ones."""

    def run(seed: int) -> list[int]:
        log: list[tuple[float, str | None, Any]] = []

        async def body(system: ActorSystem, network: SimNetwork) -> None:
            src, dst = await pair(system, network, log)
            src.tell((dst, [Note(i) for i in range(2000)]))

        simulate(SimNetwork(seed=seed, drop_rate=0.3), body)
        return [m.seq for _, _, m in log]

    first, again, other = run(11), run(11), run(12)
    assert first == again
    assert first != other
    assert 1250 <= len(first) <= 1550


def test_duplication_delivers_a_message_twice() -> None:
    """duplicate_rate 1 delivers every message twice, and counts the duplicates."""
    log: list[tuple[float, str | None, Any]] = []
    network = SimNetwork(seed=2, duplicate_rate=1.0)

    async def body(system: ActorSystem, network: SimNetwork) -> None:
        src, dst = await pair(system, network, log)
        src.tell((dst, [Note(1), Note(2)]))

    simulate(network, body)
    assert [m.seq for _, _, m in log] == [1, 1, 2, 2]
    assert network.duplicated == 2
    assert network.delivered == 4


def test_partition_cuts_groups_apart_and_heal_joins_them() -> None:
    """Across a partition messages are dropped; the exempt coordinator still reaches all."""
    log: list[tuple[float, str | None, Any]] = []
    network = SimNetwork(seed=1)

    async def body(system: ActorSystem, network: SimNetwork) -> None:
        src, dst = await pair(system, network, log)
        network.add_node("coordinator", exempt=True)
        coordinator = await system.spawn(Sender, name="coordinator")
        network.partition([["src"], ["dst"]])
        src.tell((dst, [Note(1)]))
        coordinator.tell((dst, [Note(2)]))
        await asyncio.sleep(0.1)
        network.heal()
        src.tell((dst, [Note(3)]))

    simulate(network, body)
    assert [(s, m.seq) for _, s, m in log] == [("coordinator", 2), ("src", 3)]
    assert network.trace is not None
    notes = [(e.event, e.note) for e in network.trace.events() if e.event in ("drop", "fault")]
    assert notes == [
        ("fault", "[['src'], ['dst']]"),
        ("drop", "partition"),
        ("fault", None),
    ]


def test_unlisted_nodes_form_one_more_group() -> None:
    """Nodes not named in a partition share a group: they reach each other, not the listed."""
    network = SimNetwork()
    for name in ("a", "b", "c", "d"):
        network.add_node(name)
    network.partition([["a"]])
    assert network.connected("b", "c")
    assert not network.connected("a", "b")
    assert network.connected("a", "a")


def test_an_ask_crossing_the_network_gets_its_reply_over_the_network() -> None:
    """An ask and its reply each take the link latency, and both are in the trace."""
    log: list[tuple[float, str | None, Any]] = []
    network = SimNetwork(seed=1, latency_ms=4)

    async def body(system: ActorSystem, network: SimNetwork) -> tuple[float, Any]:
        src, dst = await pair(system, network, log)
        loop = asyncio.get_running_loop()
        start = loop.time()
        answer = await src.ask((dst, Note(5)), timeout=None)
        return loop.time() - start, answer

    elapsed, answer = simulate(network, body)
    assert answer == Note(5)
    assert round(elapsed, 9) == 0.008
    assert network.trace is not None
    assert [(e.event, e.kind, e.src, e.dst, e.t_ms) for e in network.trace.events()] == [
        ("send", "message", "src", "dst", 0.0),
        ("deliver", "message", "src", "dst", 4.0),
        ("send", "reply", "dst", "src", 4.0),
        ("deliver", "reply", "dst", "src", 8.0),
    ]


def test_a_lost_reply_times_the_ask_out() -> None:
    """When the reply is lost the asking actor's ask times out at exactly its timeout."""
    log: list[tuple[float, str | None, Any]] = []
    network = SimNetwork(seed=1, latency_ms=4)

    def lose_replies(payload: Any, receiver: str) -> Any:
        return DROP

    async def body(system: ActorSystem, network: SimNetwork) -> Any:
        src, dst = await pair(system, network, log)
        network.intercept("dst", lose_replies)
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(ActorCrashedError) as crash:
            await src.ask((dst, Note(5)), timeout=None)
        assert isinstance(crash.value.__cause__, AskTimeoutError)
        assert "'dst' with Note" in str(crash.value.__cause__)
        return loop.time() - start

    elapsed = simulate(network, body)
    assert round(elapsed, 9) == 1.0
    assert len(log) == 1


def test_interceptor_rewrites_or_drops_but_cannot_forge_the_sender() -> None:
    """A byzantine interceptor changes payloads (even claiming another sender inside the
    payload) or drops them, but the receiver's context.sender is still the real sender."""
    log: list[tuple[float, str | None, Any]] = []
    network = SimNetwork(seed=1)

    def tamper(payload: Any, receiver: str) -> Any:
        assert receiver == "dst"
        if isinstance(payload, Note) and payload.seq == 2:
            return DROP
        if isinstance(payload, Note):
            return Note(payload.seq * 100, claim="coordinator")
        return payload

    async def body(system: ActorSystem, network: SimNetwork) -> None:
        src, dst = await pair(system, network, log)
        network.intercept("src", tamper)
        src.tell((dst, [Note(1), Note(2), Note(3)]))

    simulate(network, body)
    assert [(s, m) for _, s, m in log] == [
        ("src", Note(100, claim="coordinator")),
        ("src", Note(300, claim="coordinator")),
    ]
    assert network.trace is not None
    events = [(e.event, e.note) for e in network.trace.events()]
    assert events[0] == ("fault", "intercepted")
    assert ("drop", "byzantine_drop") in events
    assert events.count(("send", "tampered")) == 2


def test_messages_from_outside_the_nodes_bypass_the_model() -> None:
    """Application code and unnamed actors talk to nodes directly: no latency, no trace."""
    log: list[tuple[float, str | None, Any]] = []
    network = SimNetwork(seed=1, latency_ms=50, drop_rate=1.0)

    async def body(system: ActorSystem, network: SimNetwork) -> None:
        _, dst = await pair(system, network, log)
        dst.tell(Note(1))

    simulate(network, body)
    assert [(round(t, 9), s) for t, s, _ in log] == [(0.0, None)]
    assert network.sent == 0


def test_a_message_to_a_crashed_node_is_a_traced_drop_and_a_dead_letter() -> None:
    """A message arriving after its target died is dropped (not_running) and dead-lettered."""
    log: list[tuple[float, str | None, Any]] = []
    network = SimNetwork(seed=1, latency_ms=10)

    async def body(system: ActorSystem, network: SimNetwork) -> int:
        src, dst = await pair(system, network, log)
        src.tell((dst, [Note(1)]))
        await asyncio.sleep(0.005)
        await dst.stop()
        await asyncio.sleep(0.1)
        return system.dead_letters.count

    dead = simulate(network, body)
    assert log == []
    assert dead == 1
    assert network.trace is not None
    assert [e.note for e in network.trace.events() if e.event == "drop"] == ["not_running"]


def test_trace_exports_jsonl_and_mermaid() -> None:
    """The trace is JSON lines with time, endpoints, type and payload, and a Mermaid diagram."""
    log: list[tuple[float, str | None, Any]] = []
    network = SimNetwork(seed=1, latency_ms=2)

    async def body(system: ActorSystem, network: SimNetwork) -> None:
        src, dst = await pair(system, network, log)
        src.tell((dst, [Note(1)]))

    simulate(network, body)
    assert network.trace is not None
    lines = [json.loads(line) for line in network.trace.to_jsonl().splitlines()]
    assert lines == [
        {
            "t_ms": 0.0,
            "event": "send",
            "id": 1,
            "from": "src",
            "to": "dst",
            "kind": "message",
            "type": "Note",
            "payload": {"type": "Note", "seq": 1, "claim": ""},
        },
        {
            "t_ms": 2.0,
            "event": "deliver",
            "id": 1,
            "from": "src",
            "to": "dst",
            "kind": "message",
            "type": "Note",
            "payload": {"type": "Note", "seq": 1, "claim": ""},
        },
    ]
    mermaid = network.trace.to_mermaid()
    assert mermaid.splitlines() == [
        "sequenceDiagram",
        "    autonumber",
        "    participant src",
        "    participant dst",
        "    src->>dst: 2.0 ms Note seq=1",
    ]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param({"drop_rate": 1.5}, "drop_rate", id="drop-rate"),
        pytest.param({"duplicate_rate": -0.1}, "duplicate_rate", id="dup-rate"),
        pytest.param({"latency_ms": (5, 1)}, "latency_ms", id="latency-order"),
        pytest.param({"latency_ms": -1}, "latency_ms", id="latency-negative"),
        pytest.param({"latency_ms": (1, 2, 3)}, "latency_ms", id="latency-shape"),
    ],
)
def test_bad_network_settings_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    """Invalid network settings raise ConfigError naming the setting."""
    with pytest.raises(ConfigError, match=field):
        SimNetwork(**kwargs)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    lo=st.integers(0, 20),
    spread=st.integers(0, 30),
    drop_rate=st.sampled_from([0.0, 0.1, 0.5]),
    duplicate_rate=st.sampled_from([0.0, 0.2]),
    reorder=st.booleans(),
    count=st.integers(1, 60),
)
def test_every_message_is_accounted_for_and_links_stay_fifo(
    seed: int,
    lo: int,
    spread: int,
    drop_rate: float,
    duplicate_rate: float,
    reorder: bool,
    count: int,
) -> None:
    """Whatever the settings: sent + duplicated = delivered + dropped once quiet, latencies
    stay in range, and without reorder each link delivers in send order."""
    log: list[tuple[float, str | None, Any]] = []
    network = SimNetwork(
        seed=seed,
        latency_ms=(lo, lo + spread),
        drop_rate=drop_rate,
        duplicate_rate=duplicate_rate,
        reorder=reorder,
    )

    async def body(system: ActorSystem, network: SimNetwork) -> None:
        src, dst = await pair(system, network, log)
        src.tell((dst, [Note(i) for i in range(count)]))

    simulate(network, body)
    assert network.sent == count
    assert network.sent + network.duplicated == network.delivered + network.dropped
    assert len(log) == network.delivered
    seqs = [m.seq for _, _, m in log]
    if not reorder:
        assert seqs == sorted(seqs)
    assert all(lo / 1000 - 1e-12 <= t <= (lo + spread) / 1000 + 1e-9 for t, _, _ in log)


def test_tick_rounds_delivery_times_up_to_whole_ticks() -> None:
    """With tick_ms = 2 every delivery lands on a multiple of 2 ms, never before its latency."""
    log: list[tuple[float, str | None, Any]] = []
    network = SimNetwork(seed=8, latency_ms=(1, 9), reorder=True, tick_ms=2)

    async def body(system: ActorSystem, network: SimNetwork) -> None:
        src, dst = await pair(system, network, log)
        src.tell((dst, [Note(i) for i in range(100)]))

    simulate(network, body)
    assert network.trace is not None
    sent = {e.id: e.t_ms for e in network.trace.events() if e.event == "send"}
    delivered = [e for e in network.trace.events() if e.event == "deliver"]
    assert len(delivered) == 100
    times = {e.t_ms for e in delivered}
    assert times <= {2.0, 4.0, 6.0, 8.0, 10.0}
    assert len(times) > 1
    for event in delivered:
        assert 1.0 <= event.t_ms - sent[event.id] <= 10.0


def test_bad_tick_is_refused() -> None:
    """A negative tick is a ConfigError naming tick_ms."""
    with pytest.raises(ConfigError, match="tick_ms"):
        SimNetwork(tick_ms=-1)


# ---------------------------------------------------------------- name-addressed messages


class NameSender(Actor):
    """Told ``(target, [messages])``: sends each by name (a str) or by ref."""

    async def receive(self, message: Any) -> Any:
        target, payload = message
        for item in payload:
            if isinstance(target, str):
                self.context.tell(target, item)
            else:
                target.tell(item)


class Incarnation(Actor):
    """Records ``(virtual time, incarnation id, message)``; crashes on ``"crash"``."""

    def __init__(self, log: list[tuple[float, int, Any]]) -> None:
        self.log = log

    async def receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("injected crash")
        self.log.append((self.context.time(), self.context.id, message))


def events_of(network: SimNetwork) -> list[tuple[str, str, str, str | None]]:
    """(event, to, type, note) of every message event in the trace."""
    assert network.trace is not None
    return [(e.event, e.dst, e.type, e.note) for e in network.trace.events() if e.event != "fault"]


def test_a_named_message_to_a_down_node_travels_and_is_dropped_on_arrival() -> None:
    """A node whose actor is gone still receives traffic: the message is counted as sent,
    traced, and dropped on arrival (note no_actor) as a dead letter no_such_name."""
    network = SimNetwork(seed=1, latency_ms=10)

    async def body(system: ActorSystem, network: SimNetwork) -> list[Any]:
        network.add_node("src")
        network.add_node("down")
        src = await system.spawn(NameSender, name="src")
        src.tell(("down", [Note(1)]))
        await asyncio.sleep(0.005)
        assert system.dead_letters.count == 0  # in flight: nothing known yet
        await asyncio.sleep(0.1)
        return system.dead_letters.recent

    letters = simulate(network, body)
    assert (network.sent, network.delivered, network.dropped) == (1, 0, 1)
    assert network.stats()["messages_sent"] == 1
    assert events_of(network) == [
        ("send", "down", "Note", None),
        ("drop", "down", "Note", "no_actor"),
    ]
    assert network.trace is not None
    (drop,) = [e for e in network.trace.events() if e.event == "drop"]
    assert drop.t_ms == 10.0
    assert [(d.recipient, d.sender, d.message, d.reason) for d in letters] == [
        ("down", "src", Note(1), "no_such_name")
    ]


def test_a_named_message_in_flight_reaches_the_restarted_incarnation() -> None:
    """Sent by name before a crash and restart, it reaches the new incarnation (Erlang's
    registered names); the same message sent by ref stays with the dead one: not_running."""
    log: list[tuple[float, int, Any]] = []
    network = SimNetwork(seed=1, latency_ms=10)

    async def body(system: ActorSystem, network: SimNetwork) -> tuple[int, int, int]:
        network.add_node("src")
        network.add_node("dst")
        src = await system.spawn(NameSender, name="src")
        await system.spawn(Supervisor, [ChildSpec("dst", Incarnation, (log,), name="dst")])
        first = system.whereis("dst")
        assert first is not None
        src.tell(("dst", [Note(1)]))
        src.tell((first, [Note(2)]))
        await asyncio.sleep(0.002)
        first.tell("crash")  # from outside the nodes: at once
        await first.join()
        await asyncio.sleep(0.001)
        second = system.whereis("dst")
        assert second is not None
        assert second is not first
        return first.id, second.id, system.dead_letters.count

    first_id, second_id, _ = simulate(network, body)
    assert [(round(t, 9), who, m) for t, who, m in log] == [(0.01, second_id, Note(1))]
    assert first_id != second_id
    assert events_of(network) == [
        ("send", "dst", "Note", None),
        ("send", "dst", "Note", None),
        ("deliver", "dst", "Note", None),
        ("drop", "dst", "Note", "not_running"),
    ]
    assert (network.sent, network.delivered, network.dropped) == (2, 1, 1)


def test_a_named_message_to_a_stopping_node_is_dropped_not_running() -> None:
    """The name still resolves to an actor that is stopping: dropped (not_running) and a
    dead letter actor_not_running, as for a ref."""
    network = SimNetwork(seed=1, latency_ms=10)
    gate = asyncio.Event()

    class Slow(Actor):
        async def on_stop(self, reason: Any) -> None:
            await gate.wait()

        async def receive(self, message: Any) -> Any:
            return None

    async def body(system: ActorSystem, network: SimNetwork) -> list[str]:
        network.add_node("src")
        network.add_node("dst")
        src = await system.spawn(NameSender, name="src")
        dst = await system.spawn(Slow, name="dst")
        src.tell(("dst", [Note(1)]))
        stopping = asyncio.create_task(dst.stop())
        await asyncio.sleep(0.05)
        assert system.whereis("dst") is dst
        gate.set()
        await stopping
        return [d.reason for d in system.dead_letters.recent]

    assert simulate(network, body) == ["actor_not_running"]
    assert events_of(network)[-1] == ("drop", "dst", "Note", "not_running")


def test_a_partition_drops_a_named_message_at_send_and_in_flight() -> None:
    """Partitions apply to name-addressed messages: cut off at send, or cut while in flight."""
    log: list[tuple[float, str | None, Any]] = []
    network = SimNetwork(seed=1, latency_ms=10)

    async def body(system: ActorSystem, network: SimNetwork) -> int:
        network.add_node("src")
        network.add_node("dst")
        src = await system.spawn(NameSender, name="src")
        await system.spawn(Recorder, log, name="dst")
        network.partition([["src"], ["dst"]])
        src.tell(("dst", [Note(1)]))
        await asyncio.sleep(0.02)
        network.heal()
        src.tell(("dst", [Note(2)]))
        await asyncio.sleep(0.005)
        network.partition([["src"], ["dst"]])
        await asyncio.sleep(0.02)
        network.heal()
        src.tell(("dst", [Note(3)]))
        await asyncio.sleep(0.02)
        return system.dead_letters.count

    assert simulate(network, body) == 0  # lost by the network, not refused by a node
    assert [m for _, _, m in log] == [Note(3)]
    drops = [(to, note) for event, to, _, note in events_of(network) if event == "drop"]
    assert drops == [("dst", "partition"), ("dst", "partition")]
    assert (network.sent, network.delivered, network.dropped) == (3, 1, 2)


def test_named_messages_share_the_link_fifo_and_duplication() -> None:
    """By name and by ref on one link stay in send order under a latency range, and a
    duplicated named message arrives twice."""
    log: list[tuple[float, str | None, Any]] = []
    network = SimNetwork(seed=4, latency_ms=(1, 40), duplicate_rate=0.3)

    async def body(system: ActorSystem, network: SimNetwork) -> None:
        _, dst = await pair(system, network, log)
        named = await system.spawn(NameSender, name="named")
        network.add_node("named")
        for i in range(30):
            named.tell(("dst" if i % 2 else dst, [Note(i)]))

    simulate(network, body)
    seqs = [m.seq for _, _, m in log]
    assert seqs == sorted(seqs)
    assert len(seqs) == 30 + network.duplicated
    assert network.duplicated > 0
    assert {s for _, s, _ in log} == {"named"}


def test_a_byzantine_sender_tampers_with_named_messages() -> None:
    """Interceptors see name-addressed payloads like any other."""
    log: list[tuple[float, str | None, Any]] = []
    network = SimNetwork(seed=1)

    def tamper(payload: Any, receiver: str) -> Any:
        assert receiver == "dst"
        return DROP if payload.seq == 2 else Note(payload.seq, claim="forged")

    async def body(system: ActorSystem, network: SimNetwork) -> None:
        network.add_node("src")
        network.add_node("dst")
        src = await system.spawn(NameSender, name="src")
        await system.spawn(Recorder, log, name="dst")
        network.intercept("src", tamper)
        src.tell(("dst", [Note(1), Note(2)]))

    simulate(network, body)
    assert [(s, m) for _, s, m in log] == [("src", Note(1, claim="forged"))]
    assert [e[3] for e in events_of(network)] == ["tampered", "byzantine_drop", None]


def test_named_messages_outside_the_nodes_are_delivered_at_once() -> None:
    """A name that is not a node, or a sender that is not one: today's direct delivery, no
    latency, no trace; nobody under the name is a dead letter at once."""
    log: list[tuple[float, str | None, Any]] = []
    network = SimNetwork(seed=1, latency_ms=50, drop_rate=1.0)

    async def body(system: ActorSystem, network: SimNetwork) -> list[tuple[str, str]]:
        network.add_node("src")
        src = await system.spawn(NameSender, name="src")
        await system.spawn(Recorder, log, name="plain")  # not a node
        src.tell(("plain", [Note(1)]))
        src.tell(("nobody", [Note(2)]))
        await asyncio.sleep(0)
        system.tell("plain", Note(3))  # from application code
        return [(d.recipient, d.reason) for d in system.dead_letters.recent]

    assert simulate(network, body) == [("nobody", "no_such_name")]
    assert [(round(t, 9), s, m) for t, s, m in log] == [
        (0.0, "src", Note(1)),
        (0.0, None, Note(3)),
    ]
    assert network.sent == 0
    assert len(network.trace or []) == 0


def test_named_traffic_is_deterministic_for_a_seed() -> None:
    """Same seed, same named traffic to up and down nodes under loss and duplication:
    byte-identical traces and dead letters."""

    def once(seed: int) -> tuple[bytes, list[Any]]:
        log: list[tuple[float, str | None, Any]] = []
        network = SimNetwork(seed=seed, latency_ms=(1, 20), drop_rate=0.2, duplicate_rate=0.2)

        async def body(system: ActorSystem, network: SimNetwork) -> list[Any]:
            network.add_node("src")
            network.add_node("down")
            network.add_node("dst")
            src = await system.spawn(NameSender, name="src")
            await system.spawn(Recorder, log, name="dst")
            for i in range(40):
                src.tell(("dst" if i % 3 else "down", [Note(i)]))
            await asyncio.sleep(0.1)
            return system.dead_letters.recent

        letters = simulate(network, body)
        assert network.trace is not None
        return network.trace.to_jsonl(), letters

    first, again, other = once(7), once(7), once(8)
    assert first == again
    assert first != other
    assert first[1]
    assert {d.reason for d in first[1]} == {"no_such_name"}

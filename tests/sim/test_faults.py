"""Per-link faults on the SimNetwork (issue 20): one-way cuts and partitions, per-link loss
and latency, partitioned clients, and disk faults, each on virtual time with real messages.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import msgspec
import pytest

from mabeam import Actor, ActorSystem, ConfigError
from mabeam.protocols.consensus.raft import Entry
from mabeam.protocols.consensus.raft.storage import HardState, MemoryStorage
from mabeam.sim import SimDisk, SimNetwork, run_virtual

Log = list[tuple[float, str, str, int]]


class Ping(msgspec.Struct, frozen=True, tag=True):
    seq: int


class Node(Actor):
    """Records what it gets; told ``(target, [seqs])`` by the test, sends Pings there."""

    def __init__(self, log: Log) -> None:
        self.log = log

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Ping):
            sender = self.context.sender
            src = "?" if sender is None else str(sender.label)
            self.log.append((round(self.context.time(), 9), src, self.context.name, message.seq))
            return None
        target, seqs = message
        for seq in seqs:
            self.context.tell(target, Ping(seq))
        return None


def run(network: SimNetwork, names: list[str], body: Any, *, exempt: tuple[str, ...] = ()) -> Log:
    log: Log = []

    async def main() -> None:
        async with ActorSystem(transport=network) as system:
            for name in names:
                network.add_node(name, exempt=name in exempt)
                await system.spawn(Node, log, name=name)
            await body(system, network)
            await asyncio.sleep(1.0)

    run_virtual(main)
    return log


def pairs(log: Log) -> set[tuple[str, str]]:
    return {(src, dst) for _, src, dst, _ in log}


def faults(network: SimNetwork) -> list[tuple[str, str, str | None]]:
    assert network.trace is not None
    return [(e.kind, e.dst, e.note) for e in network.trace.events() if e.event == "fault"]


def drops(network: SimNetwork) -> list[str | None]:
    assert network.trace is not None
    return [e.note for e in network.trace.events() if e.event == "drop"]


def test_a_one_way_cut_drops_one_direction_only_and_is_a_network_fault() -> None:
    """a -> b cut: a's pings are lost (note ``cut``), b's reach a; the trace says ``cut``."""
    network = SimNetwork(seed=1)

    async def body(system: ActorSystem, net: SimNetwork) -> None:
        net.cut("a", "b")
        system.tell("a", ("b", [1, 2]))
        system.tell("b", ("a", [3]))
        await asyncio.sleep(0.1)
        net.uncut("a", "b")
        system.tell("a", ("b", [4]))

    log = run(network, ["a", "b"], body)
    assert [(src, dst, seq) for _, src, dst, seq in log] == [("b", "a", 3), ("a", "b", 4)]
    assert drops(network) == ["cut", "cut"]
    assert faults(network) == [("cut", "a", "-> b"), ("uncut", "a", "-> b")]


def test_a_cut_survives_a_byzantine_interceptor_and_catches_messages_in_flight() -> None:
    """Cuts have their own mechanism: byzantine() on the sender does not undo them, and a
    message already on the wire when the cut starts is lost on arrival."""
    network = SimNetwork(seed=1, latency_ms=50)

    async def body(system: ActorSystem, net: SimNetwork) -> None:
        system.tell("a", ("b", [1]))
        await asyncio.sleep(0.01)  # ping 1 is in flight
        net.cut("a", "b")
        net.intercept("a", lambda payload, receiver: payload)
        system.tell("a", ("b", [2]))
        await asyncio.sleep(0.2)
        net.heal()  # heal ends cuts too
        system.tell("a", ("b", [3]))

    log = run(network, ["a", "b"], body)
    assert [seq for *_, seq in log] == [3]
    assert drops(network) == ["cut", "cut"]
    assert [kind for kind, _, _ in faults(network)] == ["cut", "byzantine", "heal"]


def test_a_one_way_partition_cuts_every_link_from_one_group_to_the_other() -> None:
    network = SimNetwork(seed=2)

    async def body(system: ActorSystem, net: SimNetwork) -> None:
        net.cut_oneway(["a", "b"], ["c"])
        assert net.cuts() == [("a", "c"), ("b", "c")]
        for src in "abc":
            system.tell(src, ("a" if src == "c" else "c", [1]))
            system.tell(src, ("b" if src != "b" else "a", [2]))

    log = run(network, ["a", "b", "c"], body)
    assert pairs(log) == {("c", "a"), ("a", "b"), ("b", "a"), ("c", "b")}


def test_per_link_loss_and_latency_apply_to_that_direction_only() -> None:
    """a -> b loses everything and b -> a takes 30 ms; other links keep the network's."""
    network = SimNetwork(seed=3, latency_ms=1)

    async def body(system: ActorSystem, net: SimNetwork) -> None:
        net.set_link("a", "b", drop_rate=1.0)
        net.set_link("b", "a", latency_ms=30)
        system.tell("a", ("b", list(range(20))))
        system.tell("b", ("a", [100]))
        system.tell("a", ("c", [200]))
        await asyncio.sleep(0.1)
        net.reset_link("a", "b")
        system.tell("a", ("b", [300]))

    log = run(network, ["a", "b", "c"], body)
    assert [(src, dst, seq, t) for t, src, dst, seq in log] == [
        ("a", "c", 200, 0.001),
        ("b", "a", 100, 0.03),
        ("a", "b", 300, 0.101),
    ]
    assert drops(network) == ["loss"] * 20
    assert [kind for kind, _, _ in faults(network)] == ["link", "link", "link"]
    assert faults(network)[0] == ("link", "a", "-> b drop_rate=1")


def test_partial_per_link_loss_is_seeded() -> None:
    def once() -> Log:
        async def body(system: ActorSystem, net: SimNetwork) -> None:
            net.set_link("a", "b", drop_rate=0.3, latency_ms=(1, 9))
            system.tell("a", ("b", list(range(400))))

        return run(SimNetwork(seed=9, reorder=True), ["a", "b"], body)

    first = once()
    assert first == once()
    assert 220 < len(first) < 340


@pytest.mark.parametrize(("partition_exempt", "reached"), [(False, True), (True, False)])
def test_clients_are_partitioned_only_when_asked(partition_exempt: bool, reached: bool) -> None:
    """An exempt node (a coordinator, a client) crosses partitions unless partition_exempt."""
    network = SimNetwork(seed=4, partition_exempt=partition_exempt)

    async def body(system: ActorSystem, net: SimNetwork) -> None:
        net.partition([["a"], ["client"]])
        system.tell("client", ("a", [1]))
        system.tell("a", ("client", [2]))

    log = run(network, ["a", "client"], body, exempt=("client",))
    assert bool(log) is reached
    assert len(log) == (2 if reached else 0)


def test_bad_link_faults_name_the_field() -> None:
    network = SimNetwork(seed=1)
    network.add_node("a")
    with pytest.raises(ConfigError, match="link"):
        network.cut("a", "nobody")
    with pytest.raises(ConfigError, match="drop_rate"):
        network.add_node("b") or network.set_link("a", "b", drop_rate=2.0)
    with pytest.raises(ConfigError, match="latency_ms"):
        network.set_link("a", "b", latency_ms=(5, 1))
    with pytest.raises(ConfigError, match="partition_oneway"):
        network.cut_oneway(["a"], ["zz"])


# ---------------------------------------------------------------------- disk


def entries(*terms: int, start: int = 1) -> list[Entry]:
    return [Entry(term=t, index=start + i, data=f"c{start + i}") for i, t in enumerate(terms)]


def test_a_synced_disk_loses_nothing_to_a_power_loss() -> None:
    disk = SimDisk(MemoryStorage)
    disk.save_hard_state(HardState(2, "n1"))
    disk.append(entries(1, 2))
    assert disk.power_loss() == 0
    assert disk.load() == (HardState(2, "n1"), entries(1, 2))


def test_unsynced_writes_are_lost_and_the_process_sees_its_own_writes_until_then() -> None:
    network = SimNetwork(seed=1)
    disk = SimDisk(MemoryStorage, sync="manual", name="n1", network=network)
    disk.append(entries(1, 1))
    disk.sync()
    disk.save_hard_state(HardState(3, "n2"))
    disk.append(entries(3, start=3))
    disk.truncate_after(2)
    assert disk.load() == (HardState(3, "n2"), entries(1, 1))  # the live view
    assert disk.unsynced == 3
    assert disk.power_loss() == 3
    assert disk.load() == (HardState(), entries(1, 1))
    assert disk.lost == 3
    assert faults(network) == [("disk_loss", "n1", "lost 3 unsynced writes")]


def test_a_power_loss_may_keep_a_seeded_prefix_of_the_unsynced_writes() -> None:
    def once(seed: int) -> tuple[int, Any]:
        disk = SimDisk(MemoryStorage, sync="manual", rng=random.Random(seed))
        disk.append(entries(1, 1, 1, 1))
        for index in range(5, 9):
            disk.append(entries(2, start=index))
        lost = disk.power_loss(keep="prefix")
        return lost, disk.load()

    outcomes = [once(seed) for seed in range(12)]
    assert outcomes == [once(seed) for seed in range(12)]
    for lost, (_, log) in outcomes:
        assert len(log) in {0, 4, 5, 6, 7, 8}
        assert [e.index for e in log] == list(range(1, len(log) + 1))  # a prefix, in order
        assert lost == (5 - (0 if not log else len(log) - 3))
    assert len({lost for lost, _ in outcomes}) > 1
    with pytest.raises(ConfigError, match="keep"):
        SimDisk(MemoryStorage).power_loss(keep="some")  # type: ignore[arg-type]

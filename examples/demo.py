"""`make run`: supervision at work, then a simulated ping with faults.

1. A one_for_all supervisor runs three workers; one crashes; all three restart in
   order and the crashed one is found again by name.
2. A worker that keeps crashing exceeds its supervisor's restart intensity: the
   supervisor gives up and its own supervisor restarts it (escalation).
3. The same scenario file run twice on the simulated network gives the same result.
4. The temperature story: a coder, a creative writer and a reviewer bid for the
   temperature setting in a sealed-bid auction; then the conflict between them is
   resolved by compromise. Every message crosses the simulated network and is counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

import structlog

from mabeam import Actor, ActorCrashedError, ActorDeadError, ActorSystem, ChildSpec, Supervisor
from mabeam.protocols.auction import Bid, CallForBids, run_auction
from mabeam.protocols.conflict import (
    AgentTraits,
    Conflict,
    ConflictAgent,
    ValueCompromise,
    resolve_conflicts,
)
from mabeam.runtime.supervision import which_children
from mabeam.scenario import load_scenario, run_scenario
from mabeam.sim import SimNetwork, run_virtual


class Worker(Actor):
    """Counts what it is told; crashes on "boom"."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.count = 0

    async def on_start(self) -> None:
        print(f"  {self.label} started")

    async def on_stop(self, reason: Any) -> None:
        print(f"  {self.label} stopped ({reason if isinstance(reason, str) else 'crash'})")

    async def receive(self, message: Any) -> Any:
        if message == "boom":
            raise RuntimeError(f"{self.label} was told to crash")
        self.count += 1
        return self.count


async def supervision() -> None:
    async with ActorSystem() as system:
        print("one_for_all supervisor with workers w1, w2, w3:")
        specs = [
            ChildSpec(id=f"w{i}", actor=Worker, args=(f"w{i}",), name=f"w{i}") for i in (1, 2, 3)
        ]
        workers = await system.spawn(Supervisor, specs, strategy="one_for_all", name="workers")
        w2 = system.whereis("w2")
        assert w2 is not None
        print(f"  ask w2 -> {await w2.ask('work')}")
        print("w2 crashes:")
        try:
            await w2.ask("boom")
        except ActorCrashedError as exc:
            print(f"  the asker sees: {exc}")
        # The supervisor handles messages in order: once it answers, the restart is done.
        await which_children(workers)
        again = system.whereis("w2")
        assert again is not None
        print(f"  w2 is back under its name, fresh state: ask -> {await again.ask('work')}")

        print("\na worker that keeps crashing (intensity 2 in 5 s), under a top supervisor:")
        inner = ChildSpec(
            id="inner",
            actor=Supervisor,
            args=([ChildSpec(id="flaky", actor=Worker, args=("flaky",), name="flaky")],),
            kwargs={"intensity": 2, "period": 5.0},
        )
        top = await system.spawn(Supervisor, [inner], name="top")
        first_inner = (await which_children(top))[0].ref
        for _ in range(3):
            flaky = system.whereis("flaky")
            assert flaky is not None
            with contextlib.suppress(ActorCrashedError):
                await flaky.ask("boom")
            inner_ref = (await which_children(top))[0].ref
            assert inner_ref is not None
            with contextlib.suppress(ActorDeadError):
                await which_children(inner_ref)  # dead if it gave up on this crash
        now_inner = (await which_children(top))[0].ref
        print(f"  the inner supervisor gave up and was restarted: {first_inner} -> {now_inner}")
        print("\nclosing the system stops everything in reverse order:")


def simulation() -> None:
    scenario_path = Path(__file__).with_name("ping.toml")
    scenario = load_scenario(scenario_path)
    first, _ = run_scenario(scenario)
    second, _ = run_scenario(scenario)
    print(f"\nsimulated ping ({scenario_path.name}): {first.result}")
    print(
        f"  {first.stats.messages_sent} messages sent, {first.stats.messages_dropped} dropped, "
        f"{first.stats.virtual_ms:g} virtual ms in {first.stats.wall_ms:g} wall ms"
    )
    print(f"  same seed, same result: {first.result == second.result}")


class Assistant(ConflictAgent):
    """A conflict agent that also bids on its own account: ``bid`` for its ``value``."""

    def __init__(self, agent_id: str, value: float, bid: float, traits: AgentTraits) -> None:
        super().__init__(agent_id, traits)
        self.value = value
        self.bid = bid

    async def receive(self, message: Any) -> Any:
        if isinstance(message, CallForBids):
            return Bid(amount=self.bid, value=self.value)
        return await super().receive(message)


# (agent id, preferred temperature, sealed bid, weight in a compromise)
ASSISTANTS = [
    ("coder", 0.1, 5.0, 1.0),
    ("creative_writer", 1.2, 8.0, 1.0),
    ("reviewer", 0.7, 3.0, 2.0),
]


def story() -> None:
    """The seed's story, on virtual time over a simulated network (1-5 ms, seed 7)."""
    network = SimNetwork(seed=7, latency_ms=[1, 5])

    async def main() -> tuple[list[str], float]:
        lines: list[str] = []
        async with ActorSystem("story", transport=network) as system:
            traits = {}
            for agent, value, bid, weight in ASSISTANTS:
                traits[agent] = AgentTraits(weight=weight)
                network.add_node(agent)
                await system.spawn(Assistant, agent, value, bid, traits[agent], name=agent)
                lines.append(f"  {agent:<16} wants temperature {value}, bids {bid}")
            network.add_node("auctioneer", exempt=True)
            auction = await run_auction(
                system,
                "temperature",
                [agent for agent, *_ in ASSISTANTS],
                payment_rule="second_price",
                name="auctioneer",
            )
            lines.append(
                f"  sealed-bid auction, second price: {auction.winner} wins and sets temperature "
                f"{auction.winning_value}, paying {auction.payment}"
            )
            lines.append(f"    ({network.sent} messages: a call for bids and a bid per agent)")
            before = network.sent
            network.add_node("mediator", exempt=True)
            conflict = Conflict(
                variable_id="temperature",
                conflicting_agents=[agent for agent, *_ in ASSISTANTS],
                requested_values=[value for _, value, *_ in ASSISTANTS],
            )
            result = await resolve_conflicts(
                system,
                [conflict],
                strategy="compromise",
                agents=traits,
                notify_agents=True,
                name="mediator",
            )
            (resolution,) = result.resolutions
            assert isinstance(resolution, ValueCompromise)
            values = ", ".join(str(value) for _, value, *_ in ASSISTANTS)
            lines.append(f"  the others contest it: [{values}], resolved by compromise")
            lines.append(
                f"    {resolution.compromise_method}, the reviewer weighing 2 -> temperature "
                f"{resolution.resolved_value:g}; every agent is told "
                f"({network.sent - before} messages)"
            )
            return lines, system.time() * 1000.0

    lines, virtual_ms = run_virtual(main)
    print("\nthe temperature story, over a simulated network (1-5 ms latency):")
    print("\n".join(lines))
    print(f"  {network.sent} messages in all, {network.dropped} lost, {virtual_ms:.1f} virtual ms")


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    asyncio.run(supervision())
    simulation()
    story()


if __name__ == "__main__":
    main()

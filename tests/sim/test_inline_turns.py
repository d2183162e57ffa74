"""Inline turns (issue 18): while the virtual loop's next turn would run nothing but the
simulated network's next delivery, the network runs it itself and moves the loop's clock
as that turn would, a loop turn and a timer cheaper per delivery time.

The loop's side (``VirtualEventLoop._advance_to``) is tested directly; the network's
through whole runs compared with the same program on a loop in debug mode, where every
delivery time takes its own loop turn (and every wake its own task).
"""

from __future__ import annotations

import asyncio
import contextvars
import socket
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st

from mabeam import ActorSystem
from mabeam.runtime import Actor
from mabeam.sim import SimNetwork, run_virtual
from mabeam.sim._clock import _POLL_EVERY, VirtualEventLoop

T = TypeVar("T")
HOP: contextvars.ContextVar[str] = contextvars.ContextVar("HOP", default="unset")


# -- the loop: when may a caller take the next turn ------------------------------------


def _loop() -> VirtualEventLoop:
    loop = VirtualEventLoop()
    asyncio.set_event_loop(None)
    return loop


def test_an_idle_loop_advances_to_the_time_asked_and_counts_the_turn() -> None:
    loop = _loop()
    assert loop._advance_to(0.25)
    assert loop.time() == 0.25
    assert loop._virtual_selector._turns == 1
    assert loop._advance_to(0.1)  # never backwards: a timer already due runs now
    assert loop.time() == 0.25
    loop.close()


def test_a_ready_callback_a_stopping_loop_or_debug_mode_keep_the_turn_for_the_loop() -> None:
    loop = _loop()
    handle = loop.call_soon(print)
    assert not loop._advance_to(1.0)
    handle.cancel()  # cancelled but still queued: the turn would still run the queue
    assert not loop._advance_to(1.0)
    loop._ready.clear()  # type: ignore[attr-defined]
    loop.stop()
    assert not loop._advance_to(1.0)
    loop._stopping = False  # type: ignore[attr-defined]
    loop.set_debug(True)
    assert not loop._advance_to(1.0)
    loop.set_debug(False)
    assert loop._advance_to(1.0)
    assert loop.time() == 1.0
    loop.close()


def test_a_live_timer_due_before_or_at_the_time_keeps_the_turn_for_the_loop() -> None:
    loop = _loop()
    loop.call_at(1.0, print)
    assert not loop._advance_to(1.5)  # due before: it runs first
    assert not loop._advance_to(1.0)  # due at the same instant: one turn runs both
    assert loop.time() == 0.0
    assert loop._advance_to(0.999)
    assert loop.time() == 0.999
    loop.close()


def test_cancelled_timers_at_the_head_are_dropped_as_the_loop_would_drop_them() -> None:
    loop = _loop()
    early = loop.call_at(1.0, print)
    also = loop.call_at(1.5, print)
    late = loop.call_at(3.0, print)
    early.cancel()
    also.cancel()
    assert loop._timer_cancelled_count == 2  # type: ignore[attr-defined]
    assert loop._advance_to(2.0)
    assert loop._timer_cancelled_count == 0  # type: ignore[attr-defined]
    assert loop._scheduled == [late]  # type: ignore[attr-defined]
    assert not loop._advance_to(3.0)
    loop.close()


def test_a_turn_due_to_poll_the_real_selector_is_left_to_the_loop() -> None:
    loop = _loop()
    for step in range(1, _POLL_EVERY):
        assert loop._advance_to(step / 1000)
    assert not loop._advance_to(1.0)
    assert loop.time() == (_POLL_EVERY - 1) / 1000
    loop.close()


def test_a_reserved_place_orders_its_timer_before_those_scheduled_after_it() -> None:
    fired: list[str] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualEventLoop)
        loop.call_at(1.0, fired.append, "before")
        place = loop._reserve_timer()
        loop.call_at(1.0, fired.append, "after")
        loop._push_timer(place, 1.0, fired.append, ("reserved",), None)
        await asyncio.sleep(2.0)

    run_virtual(main)
    assert fired == ["before", "reserved", "after"]


# -- the network: whole runs, against a turn per delivery time -------------------------


class CountingLoop(VirtualEventLoop):
    """A virtual loop that counts its turns."""

    turns = 0

    def _run_once(self) -> None:
        CountingLoop.turns += 1
        super()._run_once()  # type: ignore[misc]


def both(main: Callable[[], Awaitable[T]]) -> tuple[tuple[T, int], tuple[T, int]]:
    """``main`` and its loop turns, as it runs, then with a loop turn per delivery time
    (the loop in debug mode)."""

    def run(debug: bool) -> tuple[T, int]:
        async def wrapped() -> T:
            asyncio.get_running_loop().set_debug(debug)
            return await main()

        CountingLoop.turns = 0
        with asyncio.Runner(loop_factory=CountingLoop) as runner:
            result = runner.run(wrapped())
        return result, CountingLoop.turns

    return run(False), run(True)


class Relay(Actor):
    """Records what reached it (the time, the hop and the context's ``HOP``) and passes
    the message on, setting ``HOP`` first. When asked to, every other hop also schedules a
    loop timer due with that message's delivery, which records how many deliveries it
    follows (every other: so that the hop between runs alone in its turn, eagerly, and
    its timer's place is one the network reserved inside its own turns)."""

    def __init__(
        self,
        peer: str,
        log: list[Any],
        network: SimNetwork,
        done: asyncio.Future[None] | None = None,
    ) -> None:
        self.peer = peer
        self.log = log
        self.network = network
        self.done = done

    def _timer(self, hops: int) -> None:
        self.log.append(("timer", self.context.name, hops, self.network.delivered))

    async def receive(self, message: Any) -> Any:
        hops, timer = message
        loop = asyncio.get_running_loop()
        self.log.append((round(loop.time(), 9), self.context.name, hops, HOP.get()))
        if hops <= 0:
            if self.done is not None:
                self.done.set_result(None)
            return None
        HOP.set(f"{self.context.name}-{hops}")
        due = loop.time() + 0.001  # the next delivery's instant (latency 1 ms)
        timed = timer is not None and hops % 2 == 0
        if timed and timer == "before":
            loop.call_at(due, self._timer, hops)
        self.context.tell(self.peer, (hops - 1, timer))
        if timed and timer == "after":
            loop.call_at(due, self._timer, hops)
        return None


def _relay(hops: int, timer: str | None, latency: Any = 1.0) -> Callable[[], Awaitable[Any]]:
    async def main() -> Any:
        network = SimNetwork(seed=3, latency_ms=latency)
        log: list[Any] = []
        async with ActorSystem(transport=network) as system:
            for name, peer in (("a", "b"), ("b", "a")):
                network.add_node(name)
                await system.spawn(Relay, peer, log, network, name=name)
            ref = system.whereis("a")
            assert ref is not None
            ref.tell((hops, timer))
            await asyncio.sleep(hops / 1000 + 1.0)
        assert network.trace is not None
        return log, network.trace.to_jsonl()

    return main


def test_deliveries_at_distinct_instants_take_far_fewer_loop_turns_for_the_same_run() -> None:
    (inline, inline_turns), (debug, debug_turns) = both(_relay(300, None))
    assert inline == debug
    assert len(inline[0]) == 301
    assert debug_turns > 300  # a turn per delivery time at least
    assert inline_turns < debug_turns / 4


def test_a_loop_timer_due_with_the_next_delivery_keeps_its_place_before_or_after_it() -> None:
    """A handler schedules a timer at the very instant its tell will be delivered, before
    or after telling: the one scheduled first runs first, inline or not. (The actor the
    delivery wakes runs after both, in either case: a wake runs after what is ready.)"""
    for timer, delivered in (("before", [0, 2, 4]), ("after", [1, 3, 5])):
        (inline, _), (debug, _) = both(_relay(6, timer))
        assert inline == debug
        assert [entry[3] for entry in inline[0] if entry[0] == "timer"] == delivered


def test_each_delivery_runs_in_the_context_its_send_had_as_a_loop_turn_would() -> None:
    (inline, _), (debug, _) = both(_relay(5, None))
    assert inline == debug
    assert [entry[3] for entry in inline[0]] == ["unset", "a-5", "b-4", "a-3", "b-2", "a-1"]


@settings(max_examples=15, deadline=None)
@given(
    hops=st.integers(1, 80),
    timer=st.sampled_from([None, "before", "after"]),
    latency=st.sampled_from([1.0, (0.5, 3.0), (0.0, 1.0)]),
)
def test_a_relay_runs_the_same_as_with_a_loop_turn_per_delivery_time(
    hops: int, timer: str | None, latency: Any
) -> None:
    (inline, _), (debug, _) = both(_relay(hops, timer, latency))
    assert inline == debug


def test_real_io_gets_in_while_the_network_runs_its_turns_itself() -> None:
    """The real selector is still polled every so many turns, taken inline or not."""

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        reader, writer = socket.socketpair()
        seen: list[float] = []

        def readable() -> None:
            reader.recv(16)
            seen.append(loop.time())
            loop.remove_reader(reader)

        try:
            loop.add_reader(reader, readable)
            writer.send(b"x")
            log, _ = await _relay(10 * _POLL_EVERY, None)()
        finally:
            reader.close()
            writer.close()
        return seen, len(log)

    ((seen, delivered), turns), _ = both(main)
    assert delivered == 10 * _POLL_EVERY + 1
    assert turns < delivered / 4  # most delivery times were taken inline
    assert len(seen) == 1
    assert seen[0] < 2 * _POLL_EVERY / 1000  # long before the relay ended


class CountingRealLoop(asyncio.SelectorEventLoop):
    """asyncio's own loop (real time), counting its turns."""

    turns = 0

    def _run_once(self) -> None:
        CountingRealLoop.turns += 1
        super()._run_once()  # type: ignore[misc]


def test_on_a_loop_that_is_not_virtual_every_delivery_time_is_a_loop_turn() -> None:
    """Only the virtual loop's clock may be moved by the network: on a real loop its
    timer runs one delivery time per turn, as always (latency 0: no wall-clock wait)."""

    async def main() -> list[Any]:
        network = SimNetwork(seed=3, latency_ms=0.0)
        log: list[Any] = []
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        async with ActorSystem(transport=network) as system:
            for name, peer in (("a", "b"), ("b", "a")):
                network.add_node(name)
                await system.spawn(Relay, peer, log, network, done, name=name)
            ref = system.whereis("a")
            assert ref is not None
            ref.tell((40, None))
            await done
        assert network.delivered == 40
        return log

    CountingRealLoop.turns = 0
    with asyncio.Runner(loop_factory=CountingRealLoop) as runner:
        log = runner.run(main())
    assert [entry[2] for entry in log] == list(range(40, -1, -1))
    assert CountingRealLoop.turns > 40

from __future__ import annotations

import asyncio
import random
import selectors
import threading
import time
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mabeam.sim._clock import VirtualEventLoop, is_virtual, run_virtual


def _now() -> float:
    return asyncio.get_running_loop().time()


# -- through pytest-asyncio (the conftest hook) --------------------------------------


@pytest.mark.virtual_time
async def test_marked_test_runs_on_virtual_loop_from_zero() -> None:
    """A test marked virtual_time runs on a VirtualEventLoop whose clock starts at 0.0."""
    assert is_virtual()
    assert _now() == 0.0


async def test_unmarked_test_runs_on_real_loop() -> None:
    """An unmarked async test keeps asyncio's default loop."""
    assert not is_virtual()


@pytest.mark.virtual_time
async def test_hour_long_sleep_takes_no_wall_time() -> None:
    """A one-hour asyncio.sleep completes in under a second of wall time, at exactly 3600.0."""
    wall = time.perf_counter()
    await asyncio.sleep(3600)
    assert time.perf_counter() - wall < 1.0
    assert _now() == 3600.0


@pytest.mark.virtual_time
async def test_timers_fire_in_virtual_time_order() -> None:
    """call_later and call_at callbacks fire in deadline order, each at exactly its deadline."""
    loop = asyncio.get_running_loop()
    fired: list[tuple[float, str]] = []
    done = loop.create_future()
    loop.call_later(3.0, lambda: fired.append((loop.time(), "c")))
    loop.call_later(1.0, lambda: fired.append((loop.time(), "a")))
    loop.call_at(2.5, lambda: fired.append((loop.time(), "b")))
    loop.call_later(0.5, lambda: fired.append((loop.time(), "first")))
    loop.call_at(4.0, done.set_result, None)
    await done
    assert fired == [(0.5, "first"), (1.0, "a"), (2.5, "b"), (3.0, "c")]


@pytest.mark.virtual_time
async def test_ready_callbacks_run_before_clock_moves() -> None:
    """A 10,000-hop call_soon chain runs entirely at 0.0 while a timer waits at +1 s."""
    loop = asyncio.get_running_loop()
    seen: list[tuple[str, float]] = []
    done = loop.create_future()

    def hop(remaining: int) -> None:
        seen.append(("hop", loop.time()))
        if remaining:
            loop.call_soon(hop, remaining - 1)

    loop.call_later(1.0, lambda: done.set_result(loop.time()))
    loop.call_soon(hop, 9_999)
    assert await done == 1.0
    assert len(seen) == 10_000
    assert {t for _, t in seen} == {0.0}


@pytest.mark.virtual_time
async def test_cancelled_timers_do_not_stop_the_clock() -> None:
    """The clock jumps past cancelled timers, including a mass of them, to the next live one."""
    loop = asyncio.get_running_loop()
    for i in range(500):
        loop.call_later(0.001 * (i + 1), pytest.fail, "cancelled timer ran").cancel()
    await asyncio.sleep(7.0)
    assert _now() == 7.0


@pytest.mark.virtual_time
async def test_timer_in_the_past_never_moves_clock_backwards() -> None:
    """A call_at deadline already past runs promptly and leaves the clock where it was."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(10.0)
    fired = loop.create_future()
    loop.call_at(-5.0, lambda: fired.set_result(loop.time()))
    assert await fired == 10.0
    assert loop.time() == 10.0


@pytest.mark.virtual_time
async def test_timers_beyond_maximum_select_timeout_are_exact() -> None:
    """A ten-day sleep lands exactly at 864000.0 although asyncio caps select at one day."""
    await asyncio.sleep(10 * 86_400)
    assert _now() == 864_000.0


@pytest.mark.virtual_time
async def test_timers_far_from_zero_still_fire() -> None:
    """Past ~9e6 s a float's spacing exceeds 1 ns; timers there still fire, exactly on time."""
    await asyncio.sleep(2e7)
    assert _now() == 2e7
    loop = asyncio.get_running_loop()
    fired: asyncio.Future[float] = loop.create_future()
    loop.call_later(0, lambda: fired.set_result(loop.time()))
    assert await fired == 2e7
    await asyncio.sleep(1e15)
    assert _now() == 2e7 + 1e15


def test_loop_started_far_from_zero_runs_timers() -> None:
    """A loop whose start is far from 0 fires a timer due at once."""

    async def main() -> float:
        await asyncio.sleep(0.5)
        return _now()

    assert run_virtual(main, start=1e12) == 1e12 + 0.5


# -- timeouts ---------------------------------------------------------------------------


@pytest.mark.virtual_time
async def test_fail_after_raises_at_exact_virtual_deadline() -> None:
    """anyio.fail_after(5) around a 10 s sleep raises TimeoutError at exactly virtual 5.0."""
    with pytest.raises(TimeoutError):
        with anyio.fail_after(5):
            await anyio.sleep(10)
    assert anyio.current_time() == 5.0


@pytest.mark.virtual_time
async def test_move_on_after_cancels_at_exact_virtual_deadline() -> None:
    """anyio.move_on_after(2.5) ends a 10 s sleep at exactly virtual 2.5."""
    with anyio.move_on_after(2.5) as scope:
        await anyio.sleep(10)
    assert scope.cancelled_caught
    assert anyio.current_time() == 2.5


@pytest.mark.virtual_time
async def test_asyncio_wait_for_times_out_at_exact_virtual_deadline() -> None:
    """asyncio.wait_for(sleep(10), 3) raises TimeoutError at exactly virtual 3.0."""
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.sleep(10), 3)
    assert _now() == 3.0


# -- the loop is otherwise an ordinary asyncio loop -------------------------------------


@pytest.mark.virtual_time
async def test_tasks_futures_and_cancellation_behave_normally() -> None:
    """Tasks, futures, gather, queues and cancellation work as on a real loop, in virtual time."""
    loop = asyncio.get_running_loop()

    async def worker(delay: float, value: int) -> tuple[int, float]:
        await asyncio.sleep(delay)
        return value, loop.time()

    assert list(await asyncio.gather(worker(2, 1), worker(1, 2))) == [(1, 2.0), (2, 1.0)]
    assert loop.time() == 2.0

    sleeper = asyncio.create_task(asyncio.sleep(100))
    loop.call_later(1.0, sleeper.cancel)
    with pytest.raises(asyncio.CancelledError):
        await sleeper
    assert loop.time() == 3.0

    queue: asyncio.Queue[str] = asyncio.Queue()
    loop.call_later(0.5, queue.put_nowait, "msg")
    assert await queue.get() == "msg"
    assert loop.time() == 3.5


@pytest.mark.virtual_time
@pytest.mark.timeout(10)
async def test_call_soon_threadsafe_from_thread_wakes_idle_loop() -> None:
    """With nothing scheduled the loop blocks on the real selector and a thread can wake it."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[int] = loop.create_future()
    selector = loop._selector  # type: ignore[attr-defined]
    real = selector._real
    blocking = threading.Event()

    class Recording(selectors.BaseSelector):
        """The real selector, telling the thread when the loop blocks in select(None)."""

        def select(self, timeout: float | None = None) -> Any:
            if timeout is None:
                blocking.set()
            return real.select(timeout)

        def register(self, fileobj: Any, events: int, data: Any = None) -> Any:
            return real.register(fileobj, events, data)

        def unregister(self, fileobj: Any) -> Any:
            return real.unregister(fileobj)

        def get_map(self) -> Any:
            return real.get_map()

        def close(self) -> None:
            real.close()

    selector._real = Recording()

    def from_thread() -> None:
        assert blocking.wait(5)  # the loop is blocked in the real select() now
        loop.call_soon_threadsafe(fut.set_result, 42)

    thread = threading.Thread(target=from_thread)
    thread.start()
    try:
        assert await fut == 42
    finally:
        thread.join()
        selector._real = real
    assert loop.time() == 0.0


# -- run_virtual, anyio.run, is_virtual -------------------------------------------------


def test_run_virtual_returns_result_and_honours_start() -> None:
    """run_virtual runs main(*args) from the given start time and returns its result."""

    async def main(x: int, y: int) -> tuple[int, float, float]:
        t0 = _now()
        await asyncio.sleep(1.5)
        return x + y, t0, _now()

    assert run_virtual(main, 2, 3, start=100.0) == (5, 100.0, 101.5)


def test_run_virtual_propagates_exceptions() -> None:
    """An exception from main propagates out of run_virtual."""

    async def main() -> None:
        await asyncio.sleep(1)
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        run_virtual(main)


@pytest.mark.timeout(10)
def test_run_virtual_waits_for_default_executor_in_real_time() -> None:
    """Closing the loop joins executor threads still running, without a virtual-time timeout."""

    finished: list[bool] = []

    def real_work() -> None:
        time.sleep(0.05)  # the work under test: it takes real time in its thread
        finished.append(True)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.run_in_executor(None, real_work)  # still running when main returns

    run_virtual(main)  # on 3.13 asyncio would time out its 300 s join at once and warn
    assert finished == [True]


def test_is_virtual_outside_a_running_loop_is_false() -> None:
    """is_virtual() with no running loop is False, and it reports a given loop's kind."""
    assert not is_virtual()
    loop = VirtualEventLoop()
    try:
        assert is_virtual(loop)
    finally:
        loop.close()


def test_anyio_run_with_task_group_on_virtual_loop() -> None:
    """anyio.run with loop_factory=VirtualEventLoop runs a task group's sleeps in virtual time."""
    finished: list[tuple[str, float]] = []

    async def child(name: str, delay: float) -> None:
        await anyio.sleep(delay)
        finished.append((name, anyio.current_time()))

    async def main() -> float:
        assert is_virtual()
        async with anyio.create_task_group() as tg:
            tg.start_soon(child, "slow", 3.0)
            tg.start_soon(child, "fast", 1.0)
            tg.start_soon(child, "mid", 2.0)
            with anyio.move_on_after(30):
                await anyio.sleep_forever()
        return anyio.current_time()

    wall = time.perf_counter()
    end = anyio.run(main, backend="asyncio", backend_options={"loop_factory": VirtualEventLoop})
    assert time.perf_counter() - wall < 1.0
    assert end == 30.0
    assert finished == [("fast", 1.0), ("mid", 2.0), ("slow", 3.0)]


# -- determinism ------------------------------------------------------------------------


def _random_sleepers(seed: int) -> list[tuple[float, int, int]]:
    """Run 50 tasks that each sleep 20 seeded-random durations; return (time, task, step)."""
    rng = random.Random(seed)
    plans = [[rng.choice([0.0, 0.5, 1.0, rng.uniform(0, 3)]) for _ in range(20)] for _ in range(50)]
    trace: list[tuple[float, int, int]] = []

    async def sleeper(task: int, plan: list[float]) -> None:
        for step, delay in enumerate(plan):
            await asyncio.sleep(delay)
            trace.append((_now(), task, step))

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for task, plan in enumerate(plans):
                tg.start_soon(sleeper, task, plan)

    run_virtual(main)
    return trace


def test_same_program_gives_same_trace() -> None:
    """Two runs of a seeded program with many sleeping tasks give identical (time, event) traces."""
    first = _random_sleepers(seed=1234)
    assert len(first) == 50 * 20
    assert first == _random_sleepers(seed=1234)
    times = [t for t, _, _ in first]
    assert times == sorted(times)
    assert first != _random_sleepers(seed=4321)


@given(st.lists(st.floats(min_value=0.0, max_value=1e6), max_size=20))
def test_sequential_sleeps_land_on_exact_float_sum(delays: list[float]) -> None:
    """After sleeping d1, d2, ... in turn, loop.time() equals the float sum with no drift."""

    async def main() -> list[float]:
        seen = []
        for delay in delays:
            await asyncio.sleep(delay)
            seen.append(_now())
        return seen

    expected, total = [], 0.0
    for delay in delays:
        total += delay
        expected.append(total)
    assert run_virtual(main) == expected


def _fire_order(loop: asyncio.AbstractEventLoop, plan: list[tuple[int, bool, int]]) -> list[int]:
    """Schedule timer i at instant ``when`` (a few distinct ones, so ties abound), cancel
    those marked, and run each after ``turns`` idle loop turns; the order they fire in."""
    fired: list[int] = []

    async def main() -> None:
        handles = []
        for i, (when, cancel, turns) in enumerate(plan):
            for _ in range(turns):
                await asyncio.sleep(0)
            handles.append(loop.call_at(1.0 + when / 1000, fired.append, i))
            if cancel:
                handles[-1].cancel()
        await asyncio.sleep(2.0)

    loop.run_until_complete(main())
    loop.close()
    return fired


@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.booleans(), st.integers(0, 2)), min_size=1, max_size=60
    )
)
def test_timers_due_at_one_instant_run_in_the_order_they_were_scheduled(
    plan: list[tuple[int, bool, int]],
) -> None:
    """asyncio leaves ties to its heap, whose layout depends on history (cancelled timers,
    loop turns); the virtual loop runs them first scheduled, first run, every time."""
    expected = sorted(
        (i for i, (_, cancel, _) in enumerate(plan) if not cancel), key=lambda i: plan[i][0]
    )
    assert _fire_order(VirtualEventLoop(), plan) == expected


def test_virtual_timers_compare_by_instant_then_by_scheduling_order() -> None:
    loop = VirtualEventLoop()
    first, second = loop.call_at(1.0, print), loop.call_at(1.0, print)
    later = loop.call_at(2.0, print)
    assert first < second
    assert second > first
    assert not second < first
    assert not first > second
    assert later > second
    assert second < later
    assert not later < second
    assert not second > later
    other = asyncio.TimerHandle(1.0, print, (), loop)  # not the virtual loop's own kind
    assert not first < other
    assert not first > other
    with pytest.raises(TypeError):
        assert first < 1.0  # type: ignore[operator]
    with pytest.raises(TypeError):
        assert first > 1.0  # type: ignore[operator]
    with pytest.raises(TypeError, match="when cannot be None"):
        loop.call_at(None, print)  # type: ignore[arg-type]
    loop.close()

"""Eager wakes on the simulated network (issue 18): an actor woken by a delivery runs
right after the network's delivery callback, with no task of its own, and the run is
exactly the run that a task per wake gives.

The reference run is the same program on a loop in debug mode, where wakes start tasks
as always (``mabeam.runtime._eager``). Every comparison is of whole runs: the actors'
own records, in order, and the network's trace, byte for byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st

from mabeam import ActorSystem, AskTimeoutError
from mabeam.runtime import TELL, Actor, ActorRef, Down, EagerWakes, Envelope
from mabeam.runtime._eager import FAILED, PENDING
from mabeam.sim import SimNetwork, run_virtual

T = TypeVar("T")
LOG: contextvars.ContextVar[str] = contextvars.ContextVar("LOG", default="unset")


def _kind(task: asyncio.Task[Any] | None) -> str:
    """What runs a handler: the eager wakes' host task, an actor's own drain task, none."""
    if task is None:
        return "none"
    name = getattr(task.get_coro(), "__qualname__", "")
    return "host" if name == "_Host._main" else "task"


def both(main: Callable[[], Awaitable[T]]) -> tuple[T, T]:
    """``main`` with eager wakes, then with a task per wake (the loop in debug mode)."""

    async def debug() -> T:
        asyncio.get_running_loop().set_debug(True)
        return await main()

    return run_virtual(main), run_virtual(debug)


class Agent(Actor):
    """A seeded random walker: forwards, asks a peer, sleeps, and records it all."""

    def __init__(
        self, name: str, peers: list[str], seed: int, log: list[Any], kinds: set[str]
    ) -> None:
        self.name = name
        self.peers = [peer for peer in peers if peer != name]
        self.rng = random.Random(seed)
        self.log = log
        self.kinds = kinds

    async def receive(self, message: Any) -> Any:
        self.kinds.add(_kind(asyncio.current_task()))
        now = round(self.context.time(), 9)
        self.log.append((now, self.name, message, LOG.get()))
        if message[0] == "q":
            return message[1] + 1
        hops, n = message
        if hops <= 0:
            return None
        peer = self.rng.choice(self.peers)
        action = self.rng.random()
        if action < 0.25:
            LOG.set(f"{self.name}-{n}")
            ref = self.context.whereis(peer)
            assert ref is not None
            try:
                answer = await ref.ask(("q", n), timeout=0.02)
            except AskTimeoutError:
                answer = "timeout"
            self.kinds.add(_kind(asyncio.current_task()))
            self.log.append((round(self.context.time(), 9), self.name, "got", answer, LOG.get()))
        elif action < 0.4:
            await asyncio.sleep(self.rng.choice([0.0, 0.0005, 0.003]))
        self.context.tell(peer, (hops - 1, n))
        return None


def _walk(seed: int, agents: int, latency: tuple[float, float]) -> Callable[[], Awaitable[Any]]:
    async def main() -> Any:
        network = SimNetwork(seed=seed, latency_ms=latency)
        names = [f"a{i}" for i in range(agents)]
        log: list[Any] = []
        kinds: set[str] = set()
        async with ActorSystem(transport=network) as system:
            refs = []
            for i, name in enumerate(names):
                network.add_node(name)
                seed_i = seed * 100 + i
                refs.append(await system.spawn(Agent, name, names, seed_i, log, kinds, name=name))
            for i, ref in enumerate(refs):
                ref.tell((12, i))
            await asyncio.sleep(1.0)
        assert network.trace is not None
        return log, network.trace.to_jsonl(), network.stats(), sorted(kinds)

    return main


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    agents=st.integers(2, 6),
    latency=st.sampled_from([(1.0, 1.0), (0.0, 0.0), (1.0, 3.0), (0.5, 10.0)]),
)
def test_a_random_walk_runs_the_same_as_with_a_task_per_wake(
    seed: int, agents: int, latency: tuple[float, float]
) -> None:
    eager, tasks = both(_walk(seed, agents, latency))
    assert eager[:3] == tasks[:3]  # the records, the trace's bytes, the counters
    assert "host" in eager[3]  # handlers did run eagerly
    assert tasks[3] == ["task"]  # and, in debug mode, each in a task of its own


def test_the_eager_run_takes_every_path_and_stays_the_same() -> None:
    """Fixed latencies put many deliveries at one instant: batches of several wakes,
    replies among wakes (the drains' tasks then start in place), and drains that
    suspend (the host takes them over)."""
    eager, tasks = both(_walk(7, 5, (1.0, 1.0)))
    assert eager[:3] == tasks[:3]
    assert eager[3] == ["host", "task"]
    assert len(eager[0]) > 50


class Recorder(Actor):
    """Records the current task and a contextvar around an await; sets the variable."""

    def __init__(self, seen: list[Any]) -> None:
        self.seen = seen

    async def receive(self, message: Any) -> Any:
        name = self.context.name
        before = asyncio.current_task()
        self.seen.append((name, "before", LOG.get(), _kind(before)))
        LOG.set(f"set-by-{name}")
        if message == "wait":
            await asyncio.sleep(0.001)
        after = asyncio.current_task()
        self.seen.append((name, "after", LOG.get(), before is after))
        return None


class Sender(Actor):
    """Tells each name in a list the same message (one instant, one batch of wakes)."""

    async def receive(self, message: Any) -> Any:
        targets, inner = message
        for target in targets:
            self.context.tell(target, inner)
        return None


def _network(*names: str) -> SimNetwork:
    network = SimNetwork(seed=1, latency_ms=1.0)
    for name in names:
        network.add_node(name)
    return network


@contextlib.asynccontextmanager
async def _simulated(*nodes: str) -> AsyncIterator[tuple[ActorSystem, ActorRef]]:
    """A system on a 1 ms network of ``nodes`` and a :class:`Sender` node "s"."""
    async with ActorSystem(transport=_network("s", *nodes)) as system:
        yield system, await system.spawn(Sender, name="s")


def test_contextvars_and_the_current_task_are_a_tasks_across_the_first_await() -> None:
    async def main() -> Any:
        seen: list[Any] = []
        async with _simulated("a", "b") as (system, sender):
            await system.spawn(Recorder, seen, name="a")
            await system.spawn(Recorder, seen, name="b")
            sender.tell((["a", "b"], "wait"))
            await asyncio.sleep(0.1)
        return seen

    eager, tasks = both(main)
    assert [e[:3] for e in eager] == [e[:3] for e in tasks]
    assert [e[:3] for e in eager] == [
        ("a", "before", "unset"),  # a copy of the delivering callback's context
        ("b", "before", "unset"),  # not what a, woken in the same batch, set
        ("a", "after", "set-by-a"),  # its own, across the await
        ("b", "after", "set-by-b"),
    ]
    assert [e[3] for e in eager] == ["host", "host", True, True]  # one task, kept
    assert [e[3] for e in tasks] == ["task", "task", True, True]


class Timeboxed(Actor):
    """Enters an anyio cancel scope in its eager step and leaves it after suspending."""

    def __init__(self, results: list[str]) -> None:
        self.results = results

    async def receive(self, message: float) -> None:
        with anyio.move_on_after(0.01) as scope:
            await anyio.sleep(message)
        self.results.append("timed out" if scope.cancelled_caught else "finished")


def test_an_anyio_cancel_scope_across_the_first_await_of_an_eager_step() -> None:
    async def main() -> Any:
        results: list[str] = []
        async with _simulated("t") as (system, sender):
            await system.spawn(Timeboxed, results, name="t")
            for delay in (0.001, 1.0, 0.002):
                sender.tell((["t"], delay))
                await asyncio.sleep(0.1)
        return results

    eager, tasks = both(main)
    assert eager == tasks == ["finished", "timed out", "finished"]


class Crasher(Actor):
    async def receive(self, message: Any) -> Any:
        if message == "later":
            await asyncio.sleep(0)
        raise RuntimeError(f"boom {message}")


class Watcher(Actor):
    """Monitors what it is told to, and records every Down."""

    def __init__(self, downs: list[Any]) -> None:
        self.downs = downs

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Down):
            self.downs.append((message.actor.name, repr(message.reason)))
        else:
            self.context.monitor(message)
        return None


def test_a_crash_before_or_after_the_first_await_of_an_eager_step() -> None:
    async def main() -> Any:
        downs: list[Any] = []
        async with _simulated("now", "later") as (system, sender):
            watcher = await system.spawn(Watcher, downs)
            for name in ("now", "later"):
                watcher.tell(await system.spawn(Crasher, name=name))
            await asyncio.sleep(0.01)
            sender.tell((["now"], "x"))  # both arrive at one instant: one batch
            sender.tell((["later"], "later"))
            await asyncio.sleep(0.1)
        return downs

    eager, tasks = both(main)
    assert eager == tasks
    assert eager == [("now", "RuntimeError('boom x')"), ("later", "RuntimeError('boom later')")]


class Linked(Actor):
    """Crashes on "crash"; records anything else it handles."""

    def __init__(self, seen: list[Any]) -> None:
        self.seen = seen

    async def receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("linked crash")
        if isinstance(message, tuple):
            self.context.link(message[1])
            return None
        self.seen.append((self.context.name, message))
        return None


def test_an_actor_killed_while_its_eager_wake_is_pending_never_handles_the_message() -> None:
    """k and t are woken in one batch, k first; k crashes, and its link kills t before
    t's drain has run: as a task that never started, t handles nothing."""

    async def main() -> Any:
        seen: list[Any] = []
        downs: list[Any] = []
        async with _simulated("k", "t") as (system, sender):
            watcher = await system.spawn(Watcher, downs)
            k = await system.spawn(Linked, seen, name="k")
            t = await system.spawn(Linked, seen, name="t")
            k.tell(("link", t))
            watcher.tell(t)
            await asyncio.sleep(0.01)
            sender.tell((["k", "t"], "crash"))
            sender.tell((["t"], "never"))
            await asyncio.sleep(0.1)
            letters = [(d.recipient, d.reason) for d in system.dead_letters.recent]
        return seen, downs, letters

    eager, tasks = both(main)
    assert eager == tasks
    seen, downs, letters = eager
    assert seen == []
    assert downs == [("t", "RuntimeError('linked crash')")]
    assert ("t", "actor_stopped") in letters


class Ponger(Actor):
    """Told ``(peer, n)`` it tells ``peer`` n; told n > 0 it answers n - 1 to the sender."""

    async def receive(self, message: Any) -> Any:
        if isinstance(message, tuple):
            self.context.tell(*message)
            return None
        sender = self.context.sender
        assert sender is not None
        if message:
            sender.tell(message - 1)
        return None


def test_no_task_is_started_for_a_wake_on_the_network() -> None:
    async def main() -> int:
        loop = asyncio.get_running_loop()
        started = 0

        def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
            nonlocal started
            started += 1
            return asyncio.Task(coro, loop=loop, **kwargs)

        network = _network("a", "b")
        async with ActorSystem(transport=network) as system:
            a = await system.spawn(Ponger, name="a")
            await system.spawn(Ponger, name="b")
            loop.set_task_factory(factory)
            a.tell(("b", 200))  # a wakes in a task; then 201 messages cross the network
            await asyncio.sleep(1.0)
            loop.set_task_factory(None)
            assert network.delivered == 201
        return started

    eager, tasks = both(main)
    assert eager <= 1  # the first wake, from application code, is a task
    assert tasks >= 200


def test_the_host_task_is_gone_once_the_system_has_stopped() -> None:
    async def main() -> list[str]:
        async with _simulated("a") as (system, sender):
            await system.spawn(Recorder, [], name="a")
            sender.tell((["a"], "go"))
            await asyncio.sleep(0.1)
            hosts = [t for t in asyncio.all_tasks() if _kind(t) == "host"]
            assert len(hosts) == 1
        return [_kind(t) for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    assert run_virtual(main) == []


class Forwarder(Actor):
    """Tells a local (non-node) actor at once, then records that the tell returned."""

    def __init__(self, seen: list[Any]) -> None:
        self.seen = seen

    async def receive(self, message: Any) -> Any:
        local = self.context.whereis("local")
        assert local is not None
        local.tell(message)  # not a node: handed over at once, no network in between
        self.seen.append(("forwarder", "after-tell", _kind(asyncio.current_task())))
        return None


class Local(Actor):
    def __init__(self, seen: list[Any]) -> None:
        self.seen = seen

    async def receive(self, message: Any) -> Any:
        self.seen.append(("local", message, _kind(asyncio.current_task())))
        return None


def test_a_tell_from_an_eager_step_queues_and_never_runs_the_target_nested() -> None:
    async def main() -> Any:
        seen: list[Any] = []
        async with _simulated("f") as (system, sender):
            await system.spawn(Forwarder, seen, name="f")
            await system.spawn(Local, seen, name="local")
            sender.tell((["f"], "hello"))
            await asyncio.sleep(0.1)
        return seen

    eager, tasks = both(main)
    assert [e[:2] for e in eager] == [e[:2] for e in tasks]
    # the woken target runs in a task of its own, after the eager step returned
    assert eager == [("forwarder", "after-tell", "host"), ("local", "hello", "task")]


class Sleeper(Actor):
    def __init__(self, stopped: list[Any]) -> None:
        self.stopped = stopped

    async def receive(self, message: Any) -> Any:
        await asyncio.sleep(3600)

    async def on_stop(self, reason: Any) -> None:
        self.stopped.append(reason)  # pragma: no cover - killed: on_stop never runs


def test_a_kill_after_the_eager_step_suspended_reaches_the_adopted_handler() -> None:
    async def main() -> Any:
        stopped: list[Any] = []
        async with _simulated("z") as (system, sender):
            z = await system.spawn(Sleeper, stopped, name="z")
            sender.tell((["z"], "sleep"))
            await asyncio.sleep(0.1)  # delivered at 1 ms; its handler now sleeps
            task = z._cell._task
            assert task is not None
            kind = _kind(task)
            z._cell._kill("killed")
            await z.join()
            assert task.done()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        return stopped, kind, z.is_alive, others

    eager, tasks = both(main)
    assert eager == ([], "host", False, [])
    assert tasks == ([], "task", False, [])


class Batched:
    """A transport of its own: holds envelopes, delivers them all from one timer, eagerly."""

    def __init__(self) -> None:
        self.systems: tuple[ActorSystem, ...] = ()
        self.held: list[Envelope] = []
        self.wakes = EagerWakes()
        self.batches: list[bool] = []

    def attach(self, system: ActorSystem) -> None:
        self.systems = (system,)

    def send(self, envelope: Envelope) -> None:
        if not self.held:
            asyncio.get_running_loop().call_later(0.001, self._fire)
        self.held.append(envelope)

    def _fire(self) -> None:
        held, self.held = self.held, []
        batch = self.wakes.begin(asyncio.get_running_loop(), self.systems)
        self.batches.append(batch)
        try:
            for envelope in held:
                self.systems[0].deliver(envelope)
        finally:
            if batch:
                self.wakes.finish()

    async def close(self) -> None:
        self.wakes.release()


def test_any_transport_delivering_from_a_loop_callback_can_wake_eagerly() -> None:
    async def main() -> Any:
        seen: list[Any] = []
        transport = Batched()
        async with ActorSystem(transport=transport) as system:
            a = await system.spawn(Recorder, seen, name="a")
            b = await system.spawn(Recorder, seen, name="b")
            a.tell("go")
            b.tell("wait")
            await asyncio.sleep(0.1)
            transport.send(Envelope(TELL, system.address, a.address, "ready", None, "a"))
            # another timer for the same instant, after the transport's: still ready then
            asyncio.get_running_loop().call_later(0.001, lambda: None)
            await asyncio.sleep(0.1)
        return seen, transport.batches

    eager, tasks = both(main)
    assert [e[:3] for e in eager[0]] == [e[:3] for e in tasks[0]]
    assert [e[3] for e in eager[0] if e[1] == "before"] == ["host", "host", "task"]
    assert eager[1] == [True, False]  # the second timer found a callback ready: no batch
    assert tasks[1] == [False, False]  # debug mode: never


class SelfCancelling(Actor):
    """Cancels its own current task in its first step, then awaits (a future or a bare
    yield): the await is cancelled, as it would be in a task of its own."""

    def __init__(self, seen: list[Any]) -> None:
        self.seen = seen

    async def receive(self, message: Any) -> Any:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        try:
            await asyncio.sleep(0.001 if message == "future" else 0)
        except asyncio.CancelledError:
            self.seen.append((self.context.name, "cancelled"))
            raise
        self.seen.append((self.context.name, "not cancelled"))  # pragma: no cover


def test_a_handler_that_cancels_its_own_task_is_cancelled_at_its_await() -> None:
    """The one case the host task cannot take a drain over at once (its wait was
    cancelled from inside the drain): it takes it over a turn later, and the drain
    still ends cancelled at its await, killed, as it would in a task of its own. The
    actor woken next in the same batch is untouched by that cancellation."""

    async def main() -> Any:
        seen: list[Any] = []
        downs: list[Any] = []
        async with _simulated("f", "y", "after") as (system, sender):
            watcher = await system.spawn(Watcher, downs)
            for name in ("f", "y"):
                watcher.tell(await system.spawn(SelfCancelling, seen, name=name))
            await system.spawn(Recorder, seen, name="after")
            await asyncio.sleep(0.01)
            sender.tell((["f"], "future"))  # the three arrive at one instant: one batch
            sender.tell((["y"], "yield"))
            sender.tell((["after"], "go"))
            await asyncio.sleep(0.1)
        return sorted(seen, key=repr), sorted(downs)

    eager, tasks = both(main)
    assert [e[:3] for e in eager[0]] == [e[:3] for e in tasks[0]]
    assert eager[1] == tasks[1] == [("f", "'killed'"), ("y", "'killed'")]
    assert ("f", "cancelled") in eager[0]
    assert ("y", "cancelled") in eager[0]


class Odd(BaseException):
    """Neither an Exception nor a cancellation: no handler should raise it."""


class RaisesOdd(Actor):
    async def receive(self, message: Any) -> Any:
        if message == "odd":
            raise Odd("odd")
        raise asyncio.CancelledError  # its own: it ends as a cancelled task would


def test_a_drain_that_ends_cancelled_or_raising_in_its_eager_step_is_reported_as_a_task_would() -> (
    None
):
    async def main() -> Any:
        reported: list[Any] = []
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _, context: reported.append(context["exception"]))
        downs: list[Any] = []
        async with _simulated("odd", "cancel") as (system, sender):
            watcher = await system.spawn(Watcher, downs)
            watcher.tell(await system.spawn(RaisesOdd, name="cancel"))
            await system.spawn(RaisesOdd, name="odd")
            await asyncio.sleep(0.01)
            sender.tell((["cancel"], "cancel"))
            sender.tell((["odd"], "odd"))
            await asyncio.sleep(0.1)
        return [type(e).__name__ for e in reported], downs

    reported, downs = run_virtual(main)
    assert reported == ["Odd"]  # reported at once, as the loop's exception handler sees it
    assert downs == [("cancel", "'killed'")]  # a drain cancelled from inside: killed


def test_the_stand_ins_for_a_task_say_done_as_a_task_would_and_cannot_be_cancelled() -> None:
    assert not PENDING.done()
    assert FAILED.done()
    assert not PENDING.cancel()
    assert not FAILED.cancel()
    assert repr(PENDING) == "<eager wake pending>"


class Interrupting(Actor):
    async def receive(self, message: Any) -> Any:
        raise KeyboardInterrupt


class Interrupted(Batched):
    """Catches the interrupt its batch raises, and looks at what the batch left."""

    def __init__(self) -> None:
        super().__init__()
        self.left: list[Any] = []

    def _fire(self) -> None:
        try:
            super()._fire()
        except KeyboardInterrupt:
            system = self.systems[0]
            self.left = [
                (name, type(ref._cell._task).__name__)
                for name in ("i", "next")
                if (ref := system.whereis(name)) is not None
            ]


def test_an_interrupt_in_an_eager_step_leaves_the_rest_of_the_batch_their_tasks() -> None:
    async def main() -> Any:
        seen: list[Any] = []
        transport = Interrupted()
        async with ActorSystem(transport=transport) as system:
            i = await system.spawn(Interrupting, name="i")
            n = await system.spawn(Recorder, seen, name="next")
            transport.send(Envelope(TELL, system.address, i.address, "go", None, "i"))
            transport.send(Envelope(TELL, system.address, n.address, "go", None, "next"))
            await asyncio.sleep(0.1)
        return transport.left, [e[:2] for e in seen]

    left, seen = run_virtual(main)
    # the interrupted drain's actor is as a task's would be (done); the next one got its
    # task (it did not stay pending) and, the loop running on, handled its message
    assert left == [("i", "_Marker"), ("next", "Task")]
    assert seen == [("next", "before"), ("next", "after")]

"""The actor model itself: one message at a time, FIFO per sender, lifecycle hooks, context."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mabeam import (
    NORMAL,
    SHUTDOWN,
    Actor,
    ActorCrashedError,
    ActorRef,
    ActorStartError,
    ActorSystem,
    ChildSpec,
    ExitReason,
    Supervisor,
)

from ._support import (
    Boom,
    Crash,
    Echo,
    Events,
    Exits,
    Ping,
    Pong,
    Recorder,
    StopMe,
    now,
)

# -- one message at a time, FIFO per sender ----------------------------------------------


class Overlap(Actor):
    """Counts handlers running at once; each handler awaits a few times."""

    def __init__(self) -> None:
        self.active = 0
        self.peak = 0
        self.handled = 0

    async def receive(self, message: Any) -> Any:
        if message == "report":
            return (self.peak, self.handled)
        self.active += 1
        self.peak = max(self.peak, self.active)
        for _ in range(3):
            await asyncio.sleep(0)
        self.active -= 1
        self.handled += 1
        return None


async def test_handlers_never_overlap_under_concurrent_senders() -> None:
    """However many tasks send at once, an actor runs one handler at a time."""
    async with ActorSystem() as system:
        ref = await system.spawn(Overlap)

        async def sender(i: int) -> None:
            for n in range(30):
                if n % 6 == 0:
                    await ref.ask(("ask", i, n))
                else:
                    ref.tell(("tell", i, n))
                await asyncio.sleep(0)

        with anyio.fail_after(10):
            async with asyncio.TaskGroup() as group:
                for i in range(20):
                    group.create_task(sender(i))
            peak, handled = await ref.ask("report")
    assert (peak, handled) == (1, 20 * 30)


class Numbered(msgspec.Struct, frozen=True):
    stream: int
    seq: int


class Go(msgspec.Struct, frozen=True):
    target: Any
    count: int


class StreamSender(Actor):
    """On ``Go``, tells ``target`` a numbered stream, yielding to the loop now and then."""

    def __init__(self, stream: int) -> None:
        self.stream = stream

    async def receive(self, message: Any) -> Any:
        assert isinstance(message, Go)
        for seq in range(message.count):
            message.target.tell(Numbered(self.stream, seq))
            if seq % (self.stream + 2) == 0:
                await asyncio.sleep(0)
        return None


class StreamReceiver(Actor):
    """Records ``(stream, seq, sender ref)`` for every ``Numbered`` it gets."""

    def __init__(self, events: Events) -> None:
        self.events = events

    async def receive(self, message: Any) -> Any:
        assert isinstance(message, Numbered)
        self.events.append((message.stream, message.seq, self.context.sender))
        if message.seq % 3 == 0:
            await asyncio.sleep(0)
        return None


async def test_each_senders_stream_arrives_in_order() -> None:
    """Several sender actors' numbered streams interleave, but each arrives in send order."""
    events = Events()
    senders_count, per_sender = 5, 200
    async with ActorSystem() as system:
        receiver = await system.spawn(StreamReceiver, events)
        senders = [await system.spawn(StreamSender, i) for i in range(senders_count)]
        for sender in senders:
            sender.tell(Go(receiver, per_sender))
        with anyio.fail_after(10):
            await events.wait_for(senders_count * per_sender)
    assert len(events.items) == senders_count * per_sender
    for i, sender in enumerate(senders):
        stream = [(seq, ref) for s, seq, ref in events.items if s == i]
        assert [seq for seq, _ in stream] == list(range(per_sender))
        assert all(ref is sender for _, ref in stream)
    # The streams really did interleave (otherwise the test proves little).
    assert [s for s, _, _ in events.items[:per_sender]] != [0] * per_sender


class Next(msgspec.Struct, frozen=True):
    target: Any
    yields: int


class StepSender(Actor):
    """Each ``Next`` tells ``target`` this sender's next number, after ``yields`` loop turns."""

    def __init__(self, stream: int) -> None:
        self.stream = stream
        self.seq = 0

    async def receive(self, message: Any) -> Any:
        assert isinstance(message, Next)
        for _ in range(message.yields):
            await asyncio.sleep(0)
        message.target.tell(Numbered(self.stream, self.seq))
        self.seq += 1
        return None


@st.composite
def interleavings(draw: st.DrawFn) -> tuple[int, int, list[int], list[int]]:
    senders = draw(st.integers(1, 4))
    messages = draw(st.integers(1, 12))
    order = draw(st.permutations([s for s in range(senders) for _ in range(messages)]))
    yields = draw(st.lists(st.integers(0, 3), min_size=len(order), max_size=len(order)))
    return senders, messages, order, yields


@settings(max_examples=60, deadline=None)
@given(case=interleavings())
async def test_random_interleavings_keep_every_stream_in_order(
    case: tuple[int, int, list[int], list[int]],
) -> None:
    """For any interleaving of N senders x M messages, each stream is in order, none lost."""
    senders_count, per_sender, order, yields = case
    events = Events()
    async with ActorSystem() as system:
        receiver = await system.spawn(StreamReceiver, events)
        senders = [await system.spawn(StepSender, i) for i in range(senders_count)]
        for index, turns in zip(order, yields, strict=True):
            senders[index].tell(Next(receiver, turns))
            for _ in range(turns):
                await asyncio.sleep(0)
        with anyio.fail_after(10):
            await events.wait_for(senders_count * per_sender)
            # Everything sent has been handled: nothing more is on its way.
            for sender in senders:
                await sender.ask(Next(receiver, 0))
            await events.wait_for(senders_count * (per_sender + 1))
    assert len(events.items) == senders_count * (per_sender + 1)
    for i in range(senders_count):
        assert [seq for s, seq, _ in events.items if s == i] == list(range(per_sender + 1))


# -- lifecycle: on_start -----------------------------------------------------------------


class Starter(Actor):
    """Tells itself during on_start, which also awaits: the message waits for on_start."""

    def __init__(self, events: Events) -> None:
        self.events = events

    async def on_start(self) -> None:
        self.events.append("start:begin")
        self.context.self.tell("early")
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        self.events.append("start:end")

    async def receive(self, message: Any) -> Any:
        self.events.append(f"msg:{message}")
        return message


async def test_on_start_runs_inside_spawn_before_the_first_message() -> None:
    """on_start has completed when spawn returns, and no message is handled before it ends."""
    events = Events()
    async with ActorSystem() as system:
        ref = await system.spawn(Starter, events)
        assert events.items == ["start:begin", "start:end"]
        assert await ref.ask("late") == "late"
    assert events.items == ["start:begin", "start:end", "msg:early", "msg:late"]


class FailingStart(Actor):
    async def on_start(self) -> None:
        raise Boom("cannot start")

    async def receive(self, message: Any) -> Any:  # pragma: no cover - never runs
        raise AssertionError("a failed actor got a message")


async def test_on_start_failure_raises_actor_start_error_and_frees_everything() -> None:
    """on_start raising fails spawn with ActorStartError; nothing is left, the name is free."""
    async with ActorSystem() as system:
        with pytest.raises(ActorStartError) as info:
            await system.spawn(FailingStart, name="svc")
        error = info.value
        assert isinstance(error.__cause__, Boom)
        assert error.reason is error.__cause__
        assert error.actor == "svc"
        assert "svc" in str(error)
        assert system.whereis("svc") is None
        assert system.actor_count == 1  # only the root supervisor
        assert asyncio.all_tasks() == {asyncio.current_task()}
        ref = await system.spawn(Echo, name="svc")
        assert system.whereis("svc") is ref


class SlowStop(Recorder):
    """A Recorder whose on_stop takes one (virtual) second."""

    async def on_stop(self, reason: ExitReason) -> None:
        await asyncio.sleep(1)
        await super().on_stop(reason)


class SpawnThenFail(Actor):
    def __init__(self, events: Events) -> None:
        self.events = events

    async def on_start(self) -> None:
        await self.context.spawn(SlowStop, self.events, "c0")
        await self.context.spawn_link(SlowStop, self.events, "c1")
        raise Boom("after spawning")


@pytest.mark.virtual_time
async def test_on_start_failure_stops_the_children_it_spawned_in_reverse() -> None:
    """Children spawned by a failing on_start are shut down, last first, before spawn raises."""
    events = Events()
    async with ActorSystem() as system:
        with pytest.raises(ActorStartError):
            await system.spawn(SpawnThenFail, events)
        assert now() == 2.0
        assert [e for e in events.items if e[0] == "stop"] == [
            ("stop", "c1", SHUTDOWN),
            ("stop", "c0", SHUTDOWN),
        ]
        assert system.actor_count == 1


# -- lifecycle: on_stop ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        pytest.param("ref_stop", NORMAL, id="ref.stop-normal"),
        pytest.param("context_stop", NORMAL, id="context.stop-normal"),
        pytest.param("context_stop_reason", "bye", id="context.stop-own-reason"),
        pytest.param("crash", Boom, id="crash-exception"),
        pytest.param("system_close", SHUTDOWN, id="system-close-shutdown"),
    ],
)
async def test_on_stop_runs_once_with_the_exit_reason(how: str, expected: Any) -> None:
    """on_stop(reason) runs exactly once, with normal / the exception / shutdown as fits."""
    events = Events()
    async with ActorSystem() as system:
        ref = await system.spawn(Recorder, events, "a")
        with anyio.fail_after(5):
            if how == "ref_stop":
                await ref.stop()
            elif how == "context_stop":
                ref.tell(StopMe())
                await ref.join()
            elif how == "context_stop_reason":
                ref.tell(StopMe("bye"))
                await ref.join()
            elif how == "crash":
                ref.tell(Crash("on purpose"))
                await ref.join()
        if how != "system_close":
            assert not ref.is_alive
    stops = [e for e in events.items if e[0] == "stop"]
    assert len(stops) == 1
    reason = stops[0][2]
    if expected is Boom:
        assert isinstance(reason, Boom)
        assert str(reason) == "on purpose"
    else:
        assert reason == expected


async def test_stop_handles_the_messages_already_queued_first() -> None:
    """ref.stop() lets the actor finish what is in its mailbox, then on_stop, then returns."""
    events = Events()
    async with ActorSystem() as system:
        ref = await system.spawn(Recorder, events, "a")
        for n in range(3):
            ref.tell(Ping(n))
        with anyio.fail_after(5):
            await ref.stop()
        assert events.items == [
            ("start", "a"),
            ("msg", "a", Ping(0)),
            ("msg", "a", Ping(1)),
            ("msg", "a", Ping(2)),
            ("stop", "a", NORMAL),
        ]
        assert not ref.is_alive
        assert system.dead_letters.count == 0


async def test_context_stop_drops_pending_messages_to_dead_letters() -> None:
    """context.stop() exits after the current message; what was queued becomes dead letters."""
    events = Events()
    async with ActorSystem() as system:
        ref = await system.spawn(Recorder, events, "a")
        ref.tell(StopMe())
        ref.tell(Ping(1))
        ref.tell(Ping(2))
        with anyio.fail_after(5):
            await ref.join()
        assert ("msg", "a", Ping(1)) not in events.items
        letters = system.dead_letters.recent
        assert [letter.message for letter in letters] == [Ping(1), Ping(2)]
        assert {letter.reason for letter in letters} == {"actor_stopped"}
        assert {letter.recipient for letter in letters} == {ref.label}


async def test_handler_exception_crashes_the_actor() -> None:
    """An exception escaping receive kills the actor: later messages are dead letters."""
    async with ActorSystem() as system:
        ref = await system.spawn(Recorder, Events(), "a")
        ref.tell(Crash())
        with anyio.fail_after(5):
            await ref.join()
        assert not ref.is_alive
        ref.tell(Ping())
        assert system.dead_letters.count == 1
        assert system.dead_letters.recent[0].reason == "actor_not_running"


class NoReceive(Actor):
    pass


async def test_an_actor_without_receive_crashes_naming_the_message_type() -> None:
    """The default receive raises NotImplementedError, which an ask gets as the cause."""
    async with ActorSystem() as system:
        ref = await system.spawn(NoReceive)
        with anyio.fail_after(5), pytest.raises(ActorCrashedError) as info:
            await ref.ask(Ping())
        assert isinstance(info.value.__cause__, NotImplementedError)
        assert "NoReceive does not handle Ping" in str(info.value.__cause__)


class FailingStop(Actor):
    def __init__(self, events: Events) -> None:
        self.events = events

    async def on_start(self) -> None:
        await self.context.spawn(SlowStop, self.events, "c0")
        await self.context.spawn(SlowStop, self.events, "c1")

    async def on_stop(self, reason: ExitReason) -> None:
        raise Boom("on_stop failed")


@pytest.mark.virtual_time
async def test_a_failing_on_stop_still_shuts_children_down_in_order() -> None:
    """If on_stop raises, the actor still stops its children (last first) before it is gone."""
    events = Events()
    async with ActorSystem() as system:
        ref = await system.spawn(FailingStop, events)
        await ref.stop()
        assert now() == 2.0
        assert events.tags("stop") == ["c1", "c0"]
        assert system.actor_count == 1


# -- lifecycle: on_restart ---------------------------------------------------------------


class OnlyStart(Actor):
    def __init__(self, events: Events) -> None:
        self.events = events

    async def on_start(self) -> None:
        self.events.append(("start", self.context.id))

    async def receive(self, message: Any) -> Any:
        raise Boom("crash")


async def test_on_restart_gets_the_reason_on_a_supervisor_restart() -> None:
    """A restarted child runs on_restart(reason) on a fresh instance, not on_start."""
    events = Events()
    async with ActorSystem() as system:
        await system.spawn(Supervisor, [ChildSpec("w", Recorder, (events, "w"), name="w")])
        first = system.whereis("w")
        assert first is not None
        first.tell(Crash("first"))
        with anyio.fail_after(5):
            await events.wait_for(3)  # start, stop, restart
            second = system.whereis("w")
            assert second is not None
            assert await second.ask(Ping(7)) == Pong(7)
    kinds = [e[0] for e in events.items]
    assert kinds[:4] == ["start", "stop", "restart", "msg"]
    reason = events.items[2][2]
    assert isinstance(reason, Boom)
    assert str(reason) == "first"


async def test_on_restart_defaults_to_on_start() -> None:
    """A child that only defines on_start runs it again when restarted."""
    events = Events()
    async with ActorSystem() as system:
        await system.spawn(Supervisor, [ChildSpec("w", OnlyStart, (events,), name="w")])
        first = system.whereis("w")
        assert first is not None
        first.tell("crash")
        with anyio.fail_after(5):
            await events.wait_for(2)
    assert [kind for kind, _ in events.items] == ["start", "start"]
    assert events.items[0][1] != events.items[1][1]


# -- the context: self, sender, children -------------------------------------------------


class Who(msgspec.Struct, frozen=True):
    pass


class Forward(msgspec.Struct, frozen=True):
    target: Any


class Introspect(Actor):
    """Answers ``Who`` with (sender, self); on ``Forward`` asks the target ``Who``."""

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Forward):
            return await message.target.ask(Who())
        return (self.context.sender, self.context.self)


async def test_context_self_is_the_ref_and_sender_is_stamped_by_the_runtime() -> None:
    """context.self is the actor's ref; sender is the asking actor, or None from app code."""
    async with ActorSystem() as system:
        a = await system.spawn(Introspect)
        b = await system.spawn(Introspect)
        with anyio.fail_after(5):
            assert await b.ask(Who()) == (None, b)
            sender, me = await a.ask(Forward(b))
        assert sender is a
        assert me is b


class Parent(Actor):
    """Spawns ``n`` Recorder children (spawn or spawn_link); answers with its children."""

    def __init__(self, events: Events, n: int, linked: bool = False) -> None:
        self.events = events
        self.n = n
        self.linked = linked

    async def on_start(self) -> None:
        spawn = self.context.spawn_link if self.linked else self.context.spawn
        for i in range(self.n):
            await spawn(Recorder, self.events, f"c{i}")

    async def on_stop(self, reason: ExitReason) -> None:
        self.events.append(("stop", "parent", reason))

    async def receive(self, message: Any) -> Any:
        return self.context.children


@pytest.mark.parametrize(
    "linked", [pytest.param(False, id="spawn"), pytest.param(True, id="spawn_link")]
)
async def test_owned_children_stop_with_their_owner_in_reverse_spawn_order(linked: bool) -> None:
    """An actor's children are shut down with it, last spawned first, before stop() returns."""
    events = Events()
    async with ActorSystem() as system:
        parent = await system.spawn(Parent, events, 3, linked)
        children: list[ActorRef] = await parent.ask("children")
        assert [c.label for c in children] == [f"Recorder#{i}" for i in (3, 4, 5)]
        assert all(c.is_alive for c in children)
        with anyio.fail_after(5):
            await parent.stop()
        assert not any(c.is_alive for c in children)
        assert [e for e in events.items if e[0] == "stop"] == [
            ("stop", "parent", NORMAL),
            ("stop", "c2", SHUTDOWN),
            ("stop", "c1", SHUTDOWN),
            ("stop", "c0", SHUTDOWN),
        ]


async def test_children_list_drops_children_that_exited() -> None:
    """context.children lists running children in spawn order, without the ones that exited."""
    events = Events()
    async with ActorSystem() as system:
        parent = await system.spawn(Parent, events, 3)
        children: list[ActorRef] = await parent.ask("children")
        with anyio.fail_after(5):
            await children[1].stop()
            assert await parent.ask("children") == [children[0], children[2]]


class SpawnOnRequest(Actor):
    """Spawns a Recorder child when sent an ``Events``; crashes on ``Crash``."""

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Crash):
            raise Boom("owner crashed")
        child: ActorRef = await self.context.spawn(Recorder, message, "child")
        return child


async def test_a_crashed_owner_shuts_its_children_down() -> None:
    """When an actor crashes, the children it owns are shut down (reason shutdown)."""
    events = Events()
    async with ActorSystem() as system:
        exits = Exits(system)
        owner = await system.spawn(SpawnOnRequest)
        with anyio.fail_after(5):
            child = await owner.ask(events)
            owner.tell(Crash())
            await owner.join()
        assert not child.is_alive
        assert events.items[-1] == ("stop", "child", SHUTDOWN)
        assert isinstance(exits.reason(owner.label), Boom)
        assert exits.reason(child.label) == SHUTDOWN


async def test_actor_ref_has_no_public_constructor() -> None:
    """ActorRef() raises TypeError: only the runtime makes refs."""
    with pytest.raises(TypeError, match=r"system\.spawn"):
        ActorRef()


async def test_ref_identity_label_and_address() -> None:
    """A ref names its actor: label is the name or Class#id, address is (system, id)."""
    async with ActorSystem("node-a") as system:
        anonymous = await system.spawn(Echo)
        named = await system.spawn(Echo, name="echo")
        assert anonymous.label == f"Echo#{anonymous.id}"
        assert anonymous.name is None
        assert named.label == named.name == "echo"
        assert named.address == ("node-a", named.id)
        assert anonymous.id != named.id
        assert repr(named) == "<ActorRef echo>"


async def test_join_returns_once_the_actor_exited() -> None:
    """join() waits for the exit and returns at once for an actor already gone."""
    async with ActorSystem() as system:
        ref = await system.spawn(Recorder, Events(), "a")
        joined = asyncio.create_task(ref.join())
        await asyncio.sleep(0)
        assert not joined.done()
        ref.tell(Crash())
        with anyio.fail_after(5):
            await joined
            await ref.join()

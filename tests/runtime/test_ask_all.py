"""ask_all: one message asked of many actors at once (OTP's gen_server:multi_call).

Answers come back in the order of the targets; each failed ask is the exception ask
would have raised, in its place; one timer bounds all of them; bad input is refused
before anything is sent; a cancelled caller leaves nothing pending.
"""

from __future__ import annotations

import asyncio
import gc
import math
from typing import Any

import anyio
import msgspec
import pytest

from mabeam import (
    Actor,
    ActorCrashedError,
    ActorDeadError,
    ActorError,
    ActorSystem,
    AskTimeoutError,
    ConfigError,
    Mailbox,
    MailboxFullError,
)
from mabeam.runtime import _multi
from mabeam.sim import SimNetwork

from ._support import (
    Blocker,
    Boom,
    Crash,
    Echo,
    Events,
    Forever,
    Ping,
    Pong,
    Puppet,
    Recorder,
    now,
    run_in,
)


class Nap(msgspec.Struct, frozen=True):
    seconds: float


class Napper(Actor):
    """Answers ``Nap(s)`` with ``("woke", name)`` after ``s`` seconds; echoes the rest."""

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Nap):
            await asyncio.sleep(message.seconds)
            return ("woke", self.context.name)
        return message


class Whoami(Actor):
    """Answers with the name of the actor that sent the message (None: application code)."""

    async def receive(self, message: Any) -> Any:
        sender = self.context.sender
        return None if sender is None else sender.label


class Fanner(Actor):
    """Asks ``message[1]`` of the names in ``message[0]`` with its own context.ask_all."""

    async def receive(self, message: Any) -> Any:
        targets, inner, timeout = message
        return await self.context.ask_all(targets, inner, timeout=timeout)


async def test_answers_come_in_the_order_of_the_targets_refs_and_names_alike() -> None:
    events = Events()
    async with ActorSystem() as system:
        a = await system.spawn(Recorder, events, "a", name="a")
        await system.spawn(Recorder, events, "b", name="b")
        c = await system.spawn(Recorder, events, "c")
        with anyio.fail_after(5):
            answers = await system.ask_all([c, "b", a], Ping(7))
    assert answers == [Pong(7), Pong(7), Pong(7)]
    # Sent in the order of the targets, before any was answered.
    assert events.tags("msg") == ["c", "b", "a"]


async def test_no_targets_is_no_answers() -> None:
    async with ActorSystem() as system:
        assert await system.ask_all([], "anything") == []


@pytest.mark.virtual_time
async def test_each_failure_is_in_its_place_and_the_others_are_answered() -> None:
    events = Events()
    async with ActorSystem() as system:
        echo = await system.spawn(Echo)
        crasher = await system.spawn(Recorder, events, "crasher")
        gone = await system.spawn(Echo)
        await gone.stop()
        silent = await system.spawn(Forever, name="silent")
        started = now()
        answers = await system.ask_all(
            [echo, crasher, gone, "nobody", silent], Crash(), timeout=2.0
        )
        assert now() - started == 2.0  # the one timer: the silent actor's ask ran out
        assert not crasher.is_alive
        assert echo.is_alive
        assert silent.is_alive
    echoed, crashed, dead, unknown, late = answers
    assert echoed == Crash()
    assert isinstance(crashed, ActorCrashedError)
    assert isinstance(crashed.__cause__, Boom)
    assert isinstance(dead, ActorDeadError)
    assert dead.actor == gone.label
    assert isinstance(unknown, ActorDeadError)
    assert unknown.actor == "nobody"
    assert isinstance(late, AskTimeoutError)
    assert late.actor == "silent"


@pytest.mark.virtual_time
async def test_one_timeout_counts_for_all_the_asks_from_the_call() -> None:
    async with ActorSystem() as system:
        early = await system.spawn(Napper, name="early")
        late = await system.spawn(Napper, name="late")
        started = now()
        answers = await system.ask_all([early, late], Nap(0.3), timeout=0.5)
        assert answers == [("woke", "early"), ("woke", "late")]
        assert now() - started == 0.3
        quick = await system.ask_all([early], Nap(0.4), timeout=0.5)
        assert quick == [("woke", "early")]
        answers = await system.ask_all([early, late, early], Nap(0.7), timeout=0.5)
        assert now() - started == 0.3 + 0.4 + 0.5
    assert all(isinstance(a, AskTimeoutError) for a in answers)
    assert [a.actor for a in answers] == ["early", "late", "early"]
    assert answers[0].message_type == "Nap"
    assert answers[0].timeout == 0.5


@pytest.mark.virtual_time
@pytest.mark.parametrize("timeout", [None, math.inf])
async def test_no_timeout_waits_as_long_as_it_takes(timeout: float | None) -> None:
    async with ActorSystem() as system:
        sleeper = await system.spawn(Napper, name="sleeper")
        started = now()
        assert await system.ask_all([sleeper], Nap(3600.0), timeout=timeout) == [
            ("woke", "sleeper")
        ]
        assert now() - started == 3600.0


@pytest.mark.parametrize(
    ("timeout", "field"),
    [(-1.0, "timeout"), (math.nan, "timeout")],
)
async def test_a_bad_timeout_is_refused_before_anything_is_sent(timeout: float, field: str) -> None:
    events = Events()
    async with ActorSystem() as system:
        ref = await system.spawn(Recorder, events, "r")
        with pytest.raises(ConfigError, match=field):
            await system.ask_all([ref], Ping(), timeout=timeout)
        assert await ref.ask(Ping(1)) == Pong(1)
    assert events.tags("msg") == ["r"]  # only the ask after


async def test_a_target_that_is_neither_ref_nor_name_is_refused_by_position() -> None:
    events = Events()
    async with ActorSystem() as system:
        ref = await system.spawn(Recorder, events, "r")
        with pytest.raises(TypeError, match=r"targets\[1\].*ActorRef.*int"):
            await system.ask_all([ref, 42], Ping())  # type: ignore[list-item]
        await ref.ask(Ping(1))
    assert len(events.tags("msg")) == 1  # the first target got nothing either


async def test_an_actor_among_its_own_targets_is_refused_before_anything_is_sent() -> None:
    events = Events()
    async with ActorSystem() as system:
        other = await system.spawn(Recorder, events, "other", name="other")
        fanner = await system.spawn(Fanner, name="fanner")
        with pytest.raises(ActorError, match="asked itself"):
            await fanner.ask((["other", "fanner"], Ping(), 1.0))
        await other.ask(Ping(1))
    assert events.tags("msg") == ["other"]  # only the ask after


async def test_inside_an_actor_the_actor_is_the_asker() -> None:
    async with ActorSystem() as system:
        await system.spawn(Whoami, name="w1")
        await system.spawn(Whoami, name="w2")
        fanner = await system.spawn(Fanner, name="fanner")
        with anyio.fail_after(5):
            assert await fanner.ask((["w1", "w2"], "who", 1.0)) == ["fanner", "fanner"]
            assert await system.ask_all(["w1"], "who") == [None]


async def test_the_asks_queue_behind_earlier_messages_from_the_same_sender() -> None:
    events = Events()
    async with ActorSystem() as system:
        ref = await system.spawn(Recorder, events, "r")
        ref.tell(1)
        ref.tell(2)
        assert await system.ask_all([ref, ref], 3) == [3, 3]
    assert [e[2] for e in events.items if e[0] == "msg"] == [1, 2, 3, 3]


async def test_a_full_mailbox_fails_that_ask_only() -> None:
    gate = asyncio.Event()
    async with ActorSystem() as system:
        full = await system.spawn(Blocker, gate, mailbox=Mailbox(capacity=1, overflow="fail"))
        dropper = await system.spawn(Blocker, gate, mailbox=Mailbox(capacity=1, overflow="drop"))
        echo = await system.spawn(Echo)
        for ref in (full, dropper):
            ref.tell("busy")  # taken at once: the handler waits on the gate
            await asyncio.sleep(0)
            ref.tell("queued")  # fills the one place
        pending = asyncio.ensure_future(system.ask_all([full, echo, dropper], "x", timeout=5.0))
        await asyncio.sleep(0)
        gate.set()
        with anyio.fail_after(5):
            refused, echoed, dropped = await pending
    assert isinstance(refused, MailboxFullError)
    assert echoed == "x"
    assert isinstance(dropped, MailboxFullError)


async def test_a_backpressure_mailbox_is_waited_for_then_asked() -> None:
    gate = asyncio.Event()
    async with ActorSystem() as system:
        slow = await system.spawn(
            Blocker, gate, mailbox=Mailbox(capacity=1, overflow="backpressure")
        )
        slow.tell("busy")
        await asyncio.sleep(0)
        slow.tell("queued")
        pending = asyncio.ensure_future(system.ask_all([slow], "x", timeout=None))
        await asyncio.sleep(0)
        assert not pending.done()
        gate.set()
        with anyio.fail_after(5):
            assert await pending == ["x"]


async def test_no_task_is_made_per_target() -> None:
    gate = asyncio.Event()
    async with ActorSystem() as system:
        refs = [await system.spawn(Blocker, gate) for _ in range(50)]
        before = len(asyncio.all_tasks())
        pending = asyncio.ensure_future(system.ask_all(refs, "x", timeout=None))
        for _ in range(3):
            await asyncio.sleep(0)
        # Each woken actor runs its own drain task, plus the one awaiting ask_all;
        # gather over ask would add one task per target on top.
        assert len(asyncio.all_tasks()) - before == len(refs) + 1
        gate.set()
        with anyio.fail_after(5):
            assert await pending == ["x"] * 50


@pytest.mark.virtual_time
async def test_a_cancelled_caller_leaves_nothing_pending_and_late_answers_are_dropped() -> None:
    network = SimNetwork(seed=3, latency_ms=10)
    async with ActorSystem(transport=network) as system:
        n1 = await system.spawn(Napper, name="n1")
        n2 = await system.spawn(Napper, name="n2")
        with anyio.move_on_after(0.5) as scope:
            await system.ask_all([n1, n2], Nap(1.0), timeout=None)
        assert scope.cancelled_caught
        assert system._pending == {}  # both asks forgotten at once
        await asyncio.sleep(1.0)  # the naps end; their answers arrive, unwanted
        assert system._pending == {}
        assert system.dead_letters.count == 0
        assert await system.ask_all([n1, n2], "still there") == ["still there"] * 2


@pytest.mark.virtual_time
async def test_through_the_simulated_network_with_loss_and_partitions() -> None:
    network = SimNetwork(seed=7, latency_ms=(5, 15))
    for node in ("asker", "near", "far", "lost"):
        network.add_node(node)
    async with ActorSystem(transport=network) as system:
        for name in ("near", "far", "lost"):
            await system.spawn(Whoami, name=name)
        asker = await system.spawn(Fanner, name="asker")
        network.partition([["asker", "near", "far"], ["lost"]])
        started = now()
        answers = await asker.ask((["near", "far", "lost"], "who", 1.0), timeout=None)
        assert now() - started == pytest.approx(1.0, abs=1e-9)  # the lost one's timeout
        assert system._pending == {}
    assert answers[:2] == ["asker", "asker"]
    assert isinstance(answers[2], AskTimeoutError)
    assert answers[2].actor == "lost"


async def test_run_in_an_actor_with_refs_from_its_own_context() -> None:
    events = Events()
    async with ActorSystem() as system:
        refs = [await system.spawn(Recorder, events, f"r{i}") for i in range(3)]

        async def fan(actor: Any) -> list[Any]:
            answers: list[Any] = await actor.context.ask_all(refs, Ping(2), timeout=1.0)
            return answers

        puppet = await system.spawn(Puppet)
        with anyio.fail_after(5):
            assert await run_in(puppet, fan) == [Pong(2)] * 3


async def test_an_actor_that_dies_while_its_full_mailbox_is_awaited_is_a_dead_answer() -> None:
    gate = asyncio.Event()
    async with ActorSystem() as system:
        slow = await system.spawn(
            Blocker, gate, mailbox=Mailbox(capacity=1, overflow="backpressure")
        )
        echo = await system.spawn(Echo)
        slow.tell("busy")
        await asyncio.sleep(0)
        slow.tell("queued")
        pending = asyncio.ensure_future(system.ask_all([slow, echo], "x", timeout=None))
        await asyncio.sleep(0)
        slow._cell._kill("killed")
        with anyio.fail_after(5):
            dead, echoed = await pending
    assert isinstance(dead, ActorDeadError)
    assert echoed == "x"


@pytest.mark.virtual_time
async def test_an_observer_hears_of_every_ask_and_how_it_ended() -> None:
    heard: list[tuple[str, str | None, Any]] = []

    def observer(actor: str, sender: Any, message: Any) -> Any:
        asker = None if sender is None else sender._label

        def end(outcome: Any) -> None:
            heard.append((actor, asker, outcome))

        return end

    _multi.set_observer(observer)
    try:
        async with ActorSystem() as system:
            echo = await system.spawn(Echo, name="echo")
            silent = await system.spawn(Forever, name="silent")
            with anyio.move_on_after(1.0):
                await system.ask_all([echo, "ghost", silent], "hi", timeout=None)
    finally:
        _multi.set_observer(None)
    outcomes = {actor: outcome for actor, _, outcome in heard}
    assert outcomes["echo"] == "hi"
    assert isinstance(outcomes["ghost"], ActorDeadError)
    assert isinstance(outcomes["silent"], asyncio.CancelledError)  # its caller gave up
    assert {asker for _, asker, _ in heard} == {None}


@pytest.mark.virtual_time
async def test_a_cancelled_caller_leaves_no_unretrieved_error_behind() -> None:
    """One ask failed at once (a full ``drop`` mailbox) before the caller gave up: its
    error is not reported later as an exception nobody retrieved (asyncio's ERROR log
    when the future is collected)."""
    reports: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _, context: reports.append(context))
    gate = asyncio.Event()
    try:
        async with ActorSystem() as system:
            full = await system.spawn(Blocker, gate, mailbox=Mailbox(capacity=1, overflow="drop"))
            full.tell("busy")
            await asyncio.sleep(0)
            full.tell("queued")
            silent = await system.spawn(Forever)
            with anyio.move_on_after(1.0):
                await system.ask_all([full, silent], "x", timeout=None)
            gc.collect()
            gate.set()
    finally:
        loop.set_exception_handler(None)
    assert [r for r in reports if "never retrieved" in str(r.get("message"))] == []


async def test_refs_of_another_system_are_asked_through_their_own_system() -> None:
    """As ref.ask does: a ref goes through the transport (or not) of the system it came
    from, whichever system's ask_all is called."""
    network = SimNetwork(seed=1, latency_ms=5)
    async with (
        ActorSystem("plain") as plain,
        ActorSystem("netted", transport=network) as netted,
    ):
        here = await plain.spawn(Echo)
        there = await netted.spawn(Echo, name="there")
        with anyio.fail_after(5):
            assert await netted.ask_all([here, there, "there"], "hi") == ["hi"] * 3
            assert await plain.ask_all([there, here], "ho") == ["ho"] * 2
        assert netted._pending == {}
        assert plain._pending == {}

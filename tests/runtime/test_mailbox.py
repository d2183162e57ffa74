"""Mailboxes: unbounded by default; bounded with backpressure, drop or fail; bad configs."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import pytest

from mabeam import (
    Actor,
    ActorDeadError,
    ActorSystem,
    ConfigError,
    DeadLetter,
    Down,
    Exit,
    Mailbox,
    MailboxFullError,
)

from ._support import Blocker, Boom, Crash, Events, Puppet, Run, link_to, monitor, now


class Counter(Actor):
    """Counts messages; the first one waits for ``gate``; answers "count" with the count."""

    def __init__(self, gate: asyncio.Event) -> None:
        self.gate = gate
        self.count = 0

    async def receive(self, message: Any) -> Any:
        if message == "count":
            return self.count
        if self.count == 0:
            await self.gate.wait()
        self.count += 1
        return None


async def test_mailbox_is_unbounded_by_default() -> None:
    """A hundred thousand tells to a busy actor all queue and are all handled."""
    gate = asyncio.Event()
    total = 100_000
    async with ActorSystem() as system:
        ref = await system.spawn(Counter, gate)
        for n in range(total):
            ref.tell(n)
        gate.set()
        with anyio.fail_after(20):
            assert await ref.ask("count", timeout=None) == total
        assert system.dead_letters.count == 0


class SlowSink(Actor):
    """Capacity-2 backpressure mailbox; each message takes one second."""

    mailbox = Mailbox(capacity=2, overflow="backpressure")

    def __init__(self, events: Events) -> None:
        self.events = events

    async def receive(self, message: Any) -> Any:
        await asyncio.sleep(1)
        self.events.append((message, now()))
        return message


@pytest.mark.virtual_time
async def test_backpressure_send_waits_for_room_and_delivers_everything_in_order() -> None:
    """await send() on a full backpressure mailbox waits for room; nothing is lost or reordered."""
    events = Events()
    async with ActorSystem() as system:
        ref = await system.spawn(SlowSink, events)
        returned_at = []
        for n in range(8):
            await ref.send(n)
            returned_at.append(now())
        # Two fit at once, one more as the first is taken; then one per handled message.
        assert returned_at == [0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
        await events.wait_for(8)
    assert events.items == [(n, float(n + 1)) for n in range(8)]
    assert system.dead_letters.count == 0


@pytest.mark.virtual_time
async def test_tell_on_a_full_backpressure_mailbox_raises() -> None:
    """tell() cannot wait, so on a full backpressure mailbox it raises MailboxFullError."""
    events = Events()
    async with ActorSystem() as system:
        ref = await system.spawn(SlowSink, events, name="sink")
        for n in range(3):  # one being handled, two queued
            await ref.send(n)
        with pytest.raises(MailboxFullError) as info:
            ref.tell("one too many")
        assert (info.value.actor, info.value.capacity) == ("sink", 2)
        assert info.value.message_type == "str"
        assert system.dead_letters.count == 0


@pytest.mark.virtual_time
async def test_backpressure_keeps_each_concurrent_senders_stream_whole_and_in_order() -> None:
    """Many senders blocked on one full mailbox all get through, each stream in order."""
    events = Events()
    async with ActorSystem() as system:
        ref = await system.spawn(SlowSink, events)

        async def stream(i: int) -> None:
            for seq in range(10):
                await ref.send((i, seq))

        async with asyncio.TaskGroup() as group:
            for i in range(4):
                group.create_task(stream(i))
        await events.wait_for(40)
    received = [message for message, _ in events.items]
    assert len(received) == 40
    for i in range(4):
        assert [seq for s, seq in received if s == i] == list(range(10))


@pytest.mark.virtual_time
async def test_backpressure_ask_waits_for_room() -> None:
    """An ask to a full backpressure mailbox waits for room, then gets its answer."""
    events = Events()
    async with ActorSystem() as system:
        ref = await system.spawn(SlowSink, events)
        for n in range(3):
            await ref.send(n)
        assert await ref.ask("asked", timeout=None) == "asked"
        assert now() == 4.0
        assert [m for m, _ in events.items] == [0, 1, 2, "asked"]


@pytest.mark.virtual_time
async def test_send_waiting_for_room_fails_when_the_actor_dies() -> None:
    """A sender blocked on a full mailbox gets ActorDeadError when the actor exits."""
    gate = asyncio.Event()
    async with ActorSystem() as system:
        ref = await system.spawn(Blocker, gate, mailbox=Mailbox(1, "backpressure"))
        await ref.send("handled")
        await asyncio.sleep(0)
        await ref.send("queued")
        blocked = asyncio.create_task(ref.send("blocked"))
        await asyncio.sleep(1)
        assert not blocked.done()
        stopping = asyncio.create_task(system.shutdown())
        with pytest.raises(ActorDeadError):
            await blocked
        gate.set()
        await stopping


@pytest.mark.virtual_time
async def test_drop_turns_the_extra_message_into_a_dead_letter() -> None:
    """With overflow "drop", a message to a full mailbox is a dead letter (mailbox_full)."""
    gate = asyncio.Event()
    events = Events()
    async with ActorSystem() as system:
        ref = await system.spawn(Blocker, gate, events, name="d", mailbox=Mailbox(1, "drop"))
        ref.tell("first")
        await events.wait_for(1)  # "first" is being handled: the mailbox is empty
        ref.tell("second")  # fills the mailbox
        ref.tell("third")  # dropped
        assert system.dead_letters.recent == [
            DeadLetter(recipient="d", sender=None, message="third", reason="mailbox_full")
        ]
        with pytest.raises(MailboxFullError):
            await ref.ask("fourth", timeout=30)
        assert now() == 0.0
        assert system.dead_letters.count == 2
        gate.set()
        await events.wait_for(4)
    assert events.tags("end") == ["first", "second"]


@pytest.mark.virtual_time
async def test_fail_raises_in_the_sender_and_loses_nothing_else() -> None:
    """With overflow "fail", tell to a full mailbox raises MailboxFullError in the sender."""
    gate = asyncio.Event()
    events = Events()
    async with ActorSystem() as system:
        ref = await system.spawn(Blocker, gate, events, name="f", mailbox=Mailbox(2, "fail"))
        ref.tell(1)
        await events.wait_for(1)
        ref.tell(2)
        ref.tell(3)
        with pytest.raises(MailboxFullError) as info:
            ref.tell(4)
        assert (info.value.actor, info.value.capacity, info.value.message_type) == ("f", 2, "int")
        assert "full" in str(info.value)
        with pytest.raises(MailboxFullError):
            await ref.ask(5)
        assert system.dead_letters.count == 0
        gate.set()
        await events.wait_for(6)
        ref.tell(6)  # room again
        await events.wait_for(8)
    assert events.tags("end") == [1, 2, 3, 6]


class Trapper(Puppet):
    """A trap-exit Puppet with a one-slot mailbox that fails when full."""

    mailbox = Mailbox(1, "fail")


@pytest.mark.virtual_time
async def test_exit_and_down_signals_get_past_a_full_mailbox() -> None:
    """Exit and Down are signals: a full bounded mailbox still takes them, nothing raises."""
    gate = asyncio.Event()
    events = Events()
    async with ActorSystem() as system:
        trapper = await system.spawn(Trapper, events, trap_exit=True)
        doomed = await system.spawn(Puppet)
        await link_to(trapper, doomed)
        monitor_id = await monitor(trapper, doomed)

        async def hold(actor: Puppet) -> None:
            await gate.wait()

        trapper.tell(Run(hold))
        await asyncio.sleep(0)
        trapper.tell("fills the mailbox")
        with pytest.raises(MailboxFullError):
            trapper.tell("refused")
        doomed.tell(Crash())
        await doomed.join()
        gate.set()
        await events.wait_for(3)
    message, exit_, down = events.items
    assert message == "fills the mailbox"
    assert isinstance(exit_, Exit)
    assert exit_.actor is doomed
    assert isinstance(exit_.reason, Boom)
    assert isinstance(down, Down)
    assert (down.actor, down.reason, down.monitor) == (doomed, exit_.reason, monitor_id)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        pytest.param({"capacity": 0}, "mailbox.capacity", id="capacity-zero"),
        pytest.param({"capacity": -5}, "mailbox.capacity", id="capacity-negative"),
        pytest.param({"capacity": 1.5}, "mailbox.capacity", id="capacity-float"),
        pytest.param({"capacity": True}, "mailbox.capacity", id="capacity-bool"),
        pytest.param({"capacity": "10"}, "mailbox.capacity", id="capacity-str"),
        pytest.param({"capacity": 4, "overflow": "block"}, "mailbox.overflow", id="overflow"),
        pytest.param({"overflow": "drop-oldest"}, "mailbox.overflow", id="overflow-unbounded"),
    ],
)
def test_invalid_mailbox_config_names_the_field(kwargs: dict[str, Any], field: str) -> None:
    """A bad capacity or overflow raises ConfigError naming the field."""
    with pytest.raises(ConfigError) as info:
        Mailbox(**kwargs)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")
    assert isinstance(info.value, ValueError)


def test_invalid_overflow_lists_the_allowed_policies() -> None:
    """The overflow error names the allowed policies."""
    with pytest.raises(ConfigError) as info:
        Mailbox(3, "block")  # type: ignore[arg-type]
    assert info.value.allowed == "backpressure, drop, fail"
    assert "backpressure, drop, fail" in str(info.value)


def test_default_mailbox_is_unbounded_backpressure() -> None:
    """Mailbox() is unbounded, and the Actor default."""
    assert Mailbox() == Mailbox(capacity=None, overflow="backpressure")
    assert Actor.mailbox == Mailbox()

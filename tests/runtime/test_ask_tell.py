"""tell / send / ask: replies, timeouts, dead actors, crashes during an ask, dead letters."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import msgspec
import pytest
from structlog.testing import capture_logs

from mabeam import (
    Actor,
    ActorCrashedError,
    ActorDeadError,
    ActorError,
    ActorSystem,
    AskTimeoutError,
    DeadLetter,
    MabeamError,
)
from mabeam.runtime import DEFAULT_ASK_TIMEOUT

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
    link_to,
    now,
    run_in,
)


class SlowRequest(msgspec.Struct, frozen=True):
    seconds: float


class Sleeper(Actor):
    """Answers ``SlowRequest(s)`` after ``s`` seconds."""

    async def receive(self, message: Any) -> Any:
        await asyncio.sleep(message.seconds)
        return "done"


async def test_ask_returns_what_receive_returns() -> None:
    """ask() resolves to the handler's return value."""
    async with ActorSystem() as system:
        ref = await system.spawn(Recorder, Events(), "a")
        with anyio.fail_after(5):
            assert await ref.ask(Ping(3)) == Pong(3)
            assert await ref.ask("plain") == "plain"


@pytest.mark.virtual_time
async def test_ask_timeout_names_actor_and_message_type_at_exactly_the_timeout() -> None:
    """An unanswered ask raises AskTimeoutError at exactly its timeout, naming actor and type."""
    async with ActorSystem() as system:
        ref = await system.spawn(Sleeper, name="sleepy")
        with pytest.raises(AskTimeoutError) as info:
            await ref.ask(SlowRequest(10), timeout=2)
        assert now() == 2.0
        error = info.value
        assert isinstance(error, TimeoutError)
        assert isinstance(error, ActorError)
        assert (error.actor, error.message_type, error.timeout) == ("sleepy", "SlowRequest", 2)
        assert "'sleepy'" in str(error)
        assert "SlowRequest" in str(error)
        # The actor is fine and answers once it is done with the slow one.
        assert await ref.ask(SlowRequest(0), timeout=None) == "done"
        assert now() == 10.0


@pytest.mark.virtual_time
async def test_ask_default_timeout_is_five_seconds() -> None:
    """Without a timeout argument an ask gives up after DEFAULT_ASK_TIMEOUT (5 s, OTP's)."""
    assert DEFAULT_ASK_TIMEOUT == 5.0
    async with ActorSystem() as system:
        ref = await system.spawn(Forever)
        with pytest.raises(AskTimeoutError):
            await ref.ask("anything")
        assert now() == 5.0


@pytest.mark.virtual_time
async def test_ask_with_timeout_none_waits_as_long_as_it_takes() -> None:
    """timeout=None waits for the reply however long it takes."""
    async with ActorSystem() as system:
        ref = await system.spawn(Sleeper)
        assert await ref.ask(SlowRequest(3600), timeout=None) == "done"
        assert now() == 3600.0


@pytest.mark.virtual_time
async def test_ask_to_a_dead_actor_fails_at_once() -> None:
    """An ask to an actor that is not running raises ActorDeadError without waiting."""
    async with ActorSystem() as system:
        ref = await system.spawn(Echo, name="gone")
        await ref.stop()
        with pytest.raises(ActorDeadError) as info:
            await ref.ask(Ping(), timeout=30)
        assert now() == 0.0
        assert info.value.actor == "gone"
        assert info.value.operation == "ask"


@pytest.mark.virtual_time
async def test_ask_waiting_in_the_mailbox_fails_when_the_actor_dies() -> None:
    """An ask still queued when the actor crashes fails with ActorDeadError, not a timeout."""
    gate = asyncio.Event()

    class CrashAfterGate(Actor):
        async def receive(self, message: Any) -> Any:
            if message == "hold":
                await gate.wait()
                raise Boom("while an ask waited")
            return message

    async with ActorSystem() as system:
        ref = await system.spawn(CrashAfterGate)
        ref.tell("hold")
        pending = asyncio.create_task(ref.ask("queued", timeout=30))
        await asyncio.sleep(1)
        assert not pending.done()
        gate.set()
        with pytest.raises(ActorDeadError):
            await pending
        assert now() == 1.0


@pytest.mark.virtual_time
async def test_ask_being_handled_fails_when_the_actor_is_killed() -> None:
    """An ask whose handler is cut short by a kill (a link's exit) fails at once, not at timeout."""
    async with ActorSystem() as system:
        busy = await system.spawn(Forever)
        peer = await system.spawn(Puppet)
        await link_to(peer, busy)
        pending = asyncio.create_task(busy.ask("work", timeout=30))
        await asyncio.sleep(1)
        peer.tell(Crash())
        with pytest.raises(ActorDeadError):
            await pending
        assert now() == 1.0
        await busy.join()


@pytest.mark.virtual_time
async def test_pending_asks_fail_when_the_system_closes() -> None:
    """Asks still waiting when the system shuts down fail with ActorDeadError."""
    gate = asyncio.Event()
    async with ActorSystem() as system:
        ref = await system.spawn(Blocker, gate)
        ref.tell("hold")
        pending = asyncio.create_task(ref.ask("queued", timeout=None))
        await asyncio.sleep(0)
    with pytest.raises(ActorDeadError):
        await pending


async def test_crash_during_ask_raises_actor_crashed_error_with_the_cause() -> None:
    """A handler that raises answers the ask with ActorCrashedError (cause = original); it dies."""
    async with ActorSystem() as system:
        ref = await system.spawn(Recorder, Events(), "a")
        with anyio.fail_after(5):
            with pytest.raises(ActorCrashedError) as info:
                await ref.ask(Crash("bad input"))
            error = info.value
            assert isinstance(error.__cause__, Boom)
            assert error.reason is error.__cause__
            assert str(error.__cause__) == "bad input"
            assert error.message_type == "Crash"
            assert error.actor == ref.label
            await ref.join()
        assert not ref.is_alive
        with pytest.raises(ActorDeadError):
            await ref.ask(Ping())


class SelfAsker(Actor):
    async def receive(self, message: Any) -> Any:
        try:
            await self.context.self.ask("me?")
        except ActorError as exc:
            return type(exc).__name__, exc.actor
        return None  # pragma: no cover - the ask above must raise


async def test_asking_itself_raises_actor_error() -> None:
    """An actor that asks itself gets ActorError at once instead of a deadlock."""
    async with ActorSystem() as system:
        ref = await system.spawn(SelfAsker, name="narcissus")
        with anyio.fail_after(5):
            assert await ref.ask("go") == ("ActorError", "narcissus")


async def test_tell_to_a_dead_actor_is_a_dead_letter() -> None:
    """A tell to a dead actor is counted, kept in recent, and logged as dead_letter."""
    async with ActorSystem() as system:
        target = await system.spawn(Echo, name="target")
        await target.stop()
        with capture_logs() as logs:
            target.tell(Ping(1))
        assert system.dead_letters.count == 1
        assert system.dead_letters.recent == [
            DeadLetter(recipient="target", sender=None, message=Ping(1), reason="actor_not_running")
        ]
        assert system.dead_letters.by_reason == {"actor_not_running": 1}
        assert [e for e in logs if e["event"] == "dead_letter"] == [
            {
                "event": "dead_letter",
                "log_level": "info",
                "recipient": "target",
                "sender": None,
                "message_type": "Ping",
                "reason": "actor_not_running",
            }
        ]


async def test_dead_letter_records_the_sending_actor() -> None:
    """A dead letter from an actor names that actor as sender."""
    async with ActorSystem() as system:
        target = await system.spawn(Echo, name="target")
        await target.stop()
        sender = await system.spawn(Puppet, name="sender")

        async def tell_dead(actor: Puppet) -> None:
            target.tell(Ping(2))

        with anyio.fail_after(5):
            await run_in(sender, tell_dead)
        assert system.dead_letters.recent == [
            DeadLetter(
                recipient="target", sender="sender", message=Ping(2), reason="actor_not_running"
            )
        ]


async def test_dead_letter_history_keeps_only_the_latest() -> None:
    """recent holds at most dead_letter_history letters, oldest first; count keeps counting."""
    async with ActorSystem(dead_letter_history=3) as system:
        target = await system.spawn(Echo)
        await target.stop()
        for n in range(5):
            target.tell(Ping(n))
        assert system.dead_letters.count == 5
        assert [d.message for d in system.dead_letters.recent] == [Ping(2), Ping(3), Ping(4)]


async def test_send_to_a_dead_actor_raises() -> None:
    """await send() to an actor that is not running raises ActorDeadError."""
    async with ActorSystem() as system:
        ref = await system.spawn(Echo)
        await ref.stop()
        with pytest.raises(ActorDeadError) as info:
            await ref.send(Ping())
        assert info.value.operation == "send"


async def test_stop_of_a_dead_actor_raises() -> None:
    """ref.stop() on an actor that already exited raises ActorDeadError."""
    async with ActorSystem() as system:
        ref = await system.spawn(Echo)
        await ref.stop()
        with pytest.raises(ActorDeadError):
            await ref.stop()


def test_every_error_is_a_mabeam_error() -> None:
    """The errors asks raise share the MabeamError root."""
    for error in (ActorDeadError, AskTimeoutError, ActorCrashedError, ActorError):
        assert issubclass(error, MabeamError)

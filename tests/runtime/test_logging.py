"""Structured log events: stable snake_case names with fields, checked with capture_logs."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

import anyio
import pytest
from structlog.testing import capture_logs

from mabeam import (
    Actor,
    ActorStartError,
    ActorSystem,
    ChildSpec,
    ExitReason,
    Supervisor,
)
from mabeam.runtime.supervision import count_children

from ._support import Boom, Crash, Echo, Events, Ping, Puppet, Recorder, StopMe, run_in


def events_named(logs: list[MutableMapping[str, Any]], name: str) -> list[MutableMapping[str, Any]]:
    """The captured entries of one event, in order."""
    return [entry for entry in logs if entry["event"] == name]


async def test_actor_spawned_names_actor_id_and_parent() -> None:
    """Every spawn logs actor_spawned with the actor, its id and its parent."""
    async with ActorSystem() as system:
        with capture_logs() as logs:
            ref = await system.spawn(Echo, name="echo")
    assert events_named(logs, "actor_spawned") == [
        {
            "event": "actor_spawned",
            "log_level": "debug",
            "actor": "echo",
            "actor_id": ref.id,
            "parent": "root",
        }
    ]


@pytest.mark.parametrize(
    ("message", "level", "reason"),
    [
        pytest.param(StopMe(), "debug", "normal", id="normal"),
        pytest.param(StopMe("shutdown"), "debug", "shutdown", id="shutdown"),
        pytest.param(StopMe("gave_up"), "info", "gave_up", id="other-reason"),
    ],
)
async def test_actor_exited_carries_the_reason(message: Any, level: str, reason: str) -> None:
    """An exit that is not a crash logs actor_exited with its reason."""
    async with ActorSystem() as system:
        ref = await system.spawn(Recorder, Events(), name="a")
        with capture_logs() as logs:
            ref.tell(message)
            with anyio.fail_after(5):
                await ref.join()
    assert events_named(logs, "actor_exited") == [
        {
            "event": "actor_exited",
            "log_level": level,
            "actor": "a",
            "actor_id": ref.id,
            "reason": reason,
        }
    ]


async def test_actor_crashed_carries_the_exception() -> None:
    """A crash logs actor_crashed at error level with the reason and the exception."""
    async with ActorSystem() as system:
        ref = await system.spawn(Recorder, Events(), name="a")
        with capture_logs() as logs:
            ref.tell(Crash("kaput"))
            with anyio.fail_after(5):
                await ref.join()
    (entry,) = events_named(logs, "actor_crashed")
    assert entry["log_level"] == "error"
    assert (entry["actor"], entry["actor_id"]) == ("a", ref.id)
    assert entry["reason"] == "Boom('kaput')"
    assert isinstance(entry["exc_info"], Boom)
    assert events_named(logs, "actor_exited") == []


async def test_child_restarted_names_supervisor_child_and_count() -> None:
    """A restart logs child_exited then child_restarted with supervisor, child, reason, count."""
    events = Events()
    async with ActorSystem() as system:
        sup = await system.spawn(
            Supervisor, [ChildSpec("w", Recorder, (events, "w"), name="w")], name="sup"
        )
        with capture_logs() as logs:
            for _ in range(2):
                child = system.whereis("w")
                assert child is not None
                child.tell(Crash("again"))
                with anyio.fail_after(5):
                    await child.join()
                    await count_children(sup)
    assert events_named(logs, "child_exited")[0] == {
        "event": "child_exited",
        "log_level": "info",
        "supervisor": "sup",
        "child": "w",
        "reason": "Boom('again')",
    }
    restarted = events_named(logs, "child_restarted")
    assert [entry["restarts"] for entry in restarted] == [1, 2]
    assert restarted[0] == {
        "event": "child_restarted",
        "log_level": "info",
        "supervisor": "sup",
        "child": "w",
        "reason": "Boom('again')",
        "restarts": 1,
    }


async def test_supervisor_escalated_is_an_error_with_the_cause() -> None:
    """Giving up logs supervisor_escalated with supervisor, child, reason and the limits."""
    async with ActorSystem() as system:
        sup = await system.spawn(
            Supervisor,
            [ChildSpec("w", Recorder, (Events(), "w"), name="w")],
            intensity=0,
            period=2.5,
            name="sup",
        )
        child = system.whereis("w")
        assert child is not None
        with capture_logs() as logs:
            child.tell(Crash("last straw"))
            with anyio.fail_after(5):
                await sup.join()
    assert events_named(logs, "supervisor_escalated") == [
        {
            "event": "supervisor_escalated",
            "log_level": "error",
            "supervisor": "sup",
            "child": "w",
            "reason": "Boom('last straw')",
            "cause": "reached_max_restart_intensity",
            "intensity": 0,
            "period": 2.5,
        }
    ]
    # The supervisor itself then exits with reason shutdown, as OTP's does.
    assert {
        "event": "actor_exited",
        "log_level": "debug",
        "actor": "sup",
        "actor_id": sup.id,
        "reason": "shutdown",
    } in logs


async def test_dead_letter_event_for_a_dead_actor() -> None:
    """A message to a dead actor logs dead_letter with recipient, sender, type and reason."""
    async with ActorSystem() as system:
        target = await system.spawn(Echo, name="target")
        await target.stop()
        sender = await system.spawn(Puppet, name="sender")

        async def tell(actor: Puppet) -> None:
            target.tell(Ping())

        with capture_logs() as logs, anyio.fail_after(5):
            await run_in(sender, tell)
    assert events_named(logs, "dead_letter") == [
        {
            "event": "dead_letter",
            "log_level": "info",
            "recipient": "target",
            "sender": "sender",
            "message_type": "Ping",
            "reason": "actor_not_running",
        }
    ]


class FailingStart(Actor):
    async def on_start(self) -> None:
        raise Boom("no")


async def test_actor_start_failed_is_logged() -> None:
    """A failing on_start logs actor_start_failed with the reason."""
    async with ActorSystem() as system:
        with capture_logs() as logs, pytest.raises(ActorStartError):
            await system.spawn(FailingStart, name="f")
    (entry,) = events_named(logs, "actor_start_failed")
    assert (entry["actor"], entry["reason"], entry["log_level"]) == ("f", "Boom('no')", "warning")


class FailingStop(Actor):
    async def on_stop(self, reason: ExitReason) -> None:
        raise Boom("on_stop broke")


async def test_actor_on_stop_failed_is_logged_and_the_actor_still_exits() -> None:
    """An exception in on_stop is logged as actor_on_stop_failed; the exit completes."""
    async with ActorSystem() as system:
        ref = await system.spawn(FailingStop, name="fs")
        with capture_logs() as logs, anyio.fail_after(5):
            await ref.stop()
        assert not ref.is_alive
    (entry,) = events_named(logs, "actor_on_stop_failed")
    assert entry["actor"] == "fs"
    assert isinstance(entry["exc_info"], Boom)
    assert events_named(logs, "actor_exited")[0]["reason"] == "normal"


class Chatty(Actor):
    async def receive(self, message: Any) -> Any:
        self.context.log.info("decided", value=message)
        return None


async def test_context_log_is_bound_to_the_actor() -> None:
    """context.log carries the actor's name and id on every event."""
    async with ActorSystem() as system:
        ref = await system.spawn(Chatty, name="chatty")
        with capture_logs() as logs, anyio.fail_after(5):
            await ref.ask(42)
    assert events_named(logs, "decided") == [
        {
            "event": "decided",
            "log_level": "info",
            "actor": "chatty",
            "actor_id": ref.id,
            "value": 42,
        }
    ]


@pytest.mark.virtual_time
async def test_shutdown_timeout_is_logged() -> None:
    """A child killed past its shutdown timeout logs actor_shutdown_timeout, then exits killed."""

    class Hang(Actor):
        async def on_stop(self, reason: ExitReason) -> None:
            await asyncio.Event().wait()

    async with ActorSystem() as system:
        ref = await system.spawn(Hang, name="hang")
        with capture_logs() as logs:
            await system.shutdown()
    assert events_named(logs, "actor_shutdown_timeout") == [
        {"event": "actor_shutdown_timeout", "log_level": "warning", "actor": "hang", "timeout": 5.0}
    ]
    assert {
        "event": "actor_exited",
        "log_level": "info",
        "actor": "hang",
        "actor_id": ref.id,
        "reason": "killed",
    } in logs

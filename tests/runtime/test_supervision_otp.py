"""Supervisors as OTP's: the points of supervisor_SUITE the first suite did not cover.

- a failing restart is retried by a message to itself (OTP's ``try_again_restart``), so
  between attempts the supervisor answers ``which_children`` (the child shows as
  ``restarting``), ``terminate_child`` ends the retries and a shutdown completes after
  the current attempt (``hanging_restart_loop``), intensity still counted per attempt;
- ``one_for_all`` / ``rest_for_one`` when another child fails to start during the group
  restart (``one_for_all_other_child_fails_restart``,
  ``rest_for_one_other_child_fails_restart``);
- a child that fails to start is named by its spec id (``{failed_to_start_child, Id, R}``);
- ``Shutdown(payload)`` is OTP's ``{shutdown, Term}``: orderly for transient children and
  for links;
- handling a child's exit costs O(1) (pinned by counting executed lines, not by timing);
- ``ChildSpec.shutdown`` rejects every value that is not seconds >= 0 or None.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from typing import Any

import msgspec
import pytest
from structlog.testing import capture_logs

import mabeam
from mabeam import (
    SHUTDOWN,
    ActorDeadError,
    ActorRef,
    ActorStartError,
    ActorSystem,
    ChildSpec,
    ConfigError,
    DynamicSupervisor,
    Exit,
    ExitReason,
    Supervisor,
)
from mabeam.runtime import _signals
from mabeam.runtime.supervision import (
    ChildInfo,
    ChildStartError,
    count_children,
    start_child,
    which_children,
)

from ._support import (
    Boom,
    Crash,
    Events,
    Exits,
    Puppet,
    Recorder,
    link_to,
    run_in,
)


def ref_of(system: ActorSystem, name: str) -> ActorRef:
    ref = system.whereis(name)
    assert ref is not None, f"{name} is not registered"
    return ref


async def crash(system: ActorSystem, name: str) -> ActorRef:
    """Crash the actor registered as ``name`` and wait until it has exited."""
    ref = ref_of(system, name)
    ref.tell(Crash(f"{name} crashed"))
    await ref.join()
    return ref


async def settle(supervisor: ActorRef) -> None:
    """Wait until the supervisor has handled everything sent to it so far (or has exited)."""
    with contextlib.suppress(ActorDeadError):
        await count_children(supervisor)


def lifecycle(events: Events) -> list[tuple[str, str]]:
    """start / restart / stop entries as (kind, tag), in order."""
    return [(e[0], e[1]) for e in events.items if e[0] in ("start", "restart", "stop")]


class Plan:
    """How many times each tag's on_restart fails, and how long each attempt takes."""

    def __init__(self, failures: dict[str, int], delay: float = 0.0) -> None:
        self.failures = dict(failures)
        self.delay = delay
        self.tries: dict[str, int] = {}


class FlakyRestart(Recorder):
    """on_restart takes ``plan.delay`` seconds, then fails while the plan says so."""

    def __init__(self, events: Events, tag: str, plan: Plan) -> None:
        super().__init__(events, tag)
        self.plan = plan

    async def on_restart(self, reason: ExitReason) -> None:
        plan = self.plan
        plan.tries[self.tag] = plan.tries.get(self.tag, 0) + 1
        if plan.delay:
            await asyncio.sleep(plan.delay)
        if plan.failures.get(self.tag, 0) > 0:
            plan.failures[self.tag] -= 1
            self.events.append(("restart_failed", self.tag))
            raise Boom(f"{self.tag} cannot restart")
        await super().on_restart(reason)


def flaky(tag: str, events: Events, plan: Plan, **options: Any) -> ChildSpec:
    return ChildSpec(tag, FlakyRestart, (events, tag, plan), name=tag, **options)


def worker(tag: str, events: Events, **options: Any) -> ChildSpec:
    return ChildSpec(tag, Recorder, (events, tag), name=tag, **options)


# -- 3. a child that fails to start is named by its spec id ----------------------------


class FailingStart(Recorder):
    async def on_start(self) -> None:
        raise Boom(f"{self.tag} cannot start")


async def test_start_child_failure_names_the_child_spec_id() -> None:
    """start_child raises ChildStartError (an ActorStartError) carrying the spec id."""
    events = Events()
    async with ActorSystem() as system:
        for sup_class in (Supervisor, DynamicSupervisor):
            sup = await system.spawn(sup_class)
            with pytest.raises(ActorStartError) as info:
                await start_child(sup, ChildSpec("db", FailingStart, (events, "db")))
            error = info.value
            assert isinstance(error, ChildStartError)
            assert error.child_id == "db"
            assert "'db'" in str(error)
            assert error.actor.startswith("FailingStart#")  # the generated name, as before
            assert isinstance(error.reason, Boom)
            assert isinstance(error.__cause__, Boom)
            assert await which_children(sup) == []


async def test_supervisor_start_failure_names_the_child_spec_id() -> None:
    """A supervisor whose child fails to start fails naming that child's id."""
    events = Events()
    specs = [worker("a", events), ChildSpec("db", FailingStart, (events, "db"))]
    async with ActorSystem() as system:
        with pytest.raises(ActorStartError) as info:
            await system.spawn(Supervisor, specs, name="sup")
        assert info.value.actor == "sup"
        assert "failed to start child 'db'" in str(info.value)
        cause = info.value.reason
        assert isinstance(cause, ChildStartError)
        assert cause.child_id == "db"


@pytest.mark.virtual_time
async def test_failed_restart_is_logged_with_the_child_id() -> None:
    """child_restart_failed names the spec id and the reason."""
    events = Events()
    plan = Plan({"w": 1})
    async with ActorSystem() as system:
        sup = await system.spawn(Supervisor, [flaky("w", events, plan)])
        with capture_logs() as logs:
            await crash(system, "w")
            await asyncio.sleep(1)
            await settle(sup)
    (failed,) = [e for e in logs if e["event"] == "child_restart_failed"]
    assert failed["child"] == "w"
    assert "cannot restart" in failed["reason"]


# -- 4. Shutdown(payload): OTP's {shutdown, Term} --------------------------------------


class StopWith(msgspec.Struct, frozen=True):
    reason: Any


class Stopper(Recorder):
    async def receive(self, message: Any) -> Any:
        if isinstance(message, StopWith):
            self.context.stop(message.reason)
            return None
        return await super().receive(message)


def test_shutdown_with_a_payload_is_orderly() -> None:
    """Shutdown(payload) is exported, compares by value and counts as orderly."""
    assert mabeam.Shutdown is mabeam.runtime.Shutdown is _signals.Shutdown
    reason = mabeam.Shutdown("maintenance")
    assert reason == mabeam.Shutdown("maintenance")
    assert reason.payload == "maintenance"
    assert _signals.is_orderly(reason)
    assert _signals.is_orderly(mabeam.Shutdown())
    assert reason != SHUTDOWN
    assert "maintenance" in _signals.describe_reason(reason)


@pytest.mark.virtual_time
@pytest.mark.parametrize(
    ("restart", "restarted"),
    [("permanent", True), ("transient", False), ("temporary", False)],
)
async def test_shutdown_payload_exit_and_restart_types(restart: str, restarted: bool) -> None:
    """A transient child that stops with Shutdown(payload) is not restarted (as shutdown)."""
    events = Events()
    reason = mabeam.Shutdown({"why": "maintenance"})
    async with ActorSystem() as system:
        sup = await system.spawn(
            Supervisor, [ChildSpec("w", Stopper, (events, "w"), name="w", restart=restart)]
        )
        child = ref_of(system, "w")
        with capture_logs() as logs:
            child.tell(StopWith(reason))
            await child.join()
            await settle(sup)
        running = [c.ref for c in await which_children(sup) if c.ref is not None]
        assert bool(running) is restarted
    assert ("stop", "w", reason) in events.items
    if restarted:
        assert ("restart", "w", reason) in events.items
    exited = [e for e in logs if e["event"] in ("actor_exited", "actor_crashed")]
    assert [(e["event"], e["log_level"]) for e in exited] == [("actor_exited", "debug")]


@pytest.mark.virtual_time
async def test_shutdown_payload_travels_links_as_shutdown() -> None:
    """A link passes Shutdown(payload) on: a trapping actor gets it as an Exit, a transient
    supervised child killed by it is not restarted, and it is no crash."""
    events = Events()
    reason = mabeam.Shutdown("maintenance")
    async with ActorSystem() as system:
        exits = Exits(system)
        sup = await system.spawn(
            Supervisor,
            [ChildSpec("p", Puppet, name="p", restart="transient")],
        )
        source = await system.spawn(Stopper, events, "source")
        trapper = await system.spawn(Puppet, trap_exit=True)
        linked = ref_of(system, "p")
        await link_to(linked, source)
        await link_to(trapper, source)
        source.tell(StopWith(reason))
        await source.join()
        await linked.join()
        await settle(sup)
        assert exits.reason("p") == reason
        assert await which_children(sup) == [
            ChildInfo(id="p", ref=None, restart="transient", kind="worker")
        ]
        await settle(trapper)
        trapped = [e for e in (await _puppet_events(trapper)).items if isinstance(e, Exit)]
        assert [(e.actor, e.reason) for e in trapped] == [(source, reason)]


async def _puppet_events(puppet: ActorRef) -> Events:
    async def get(actor: Puppet) -> Events:
        return actor.events

    result: Events = await run_in(puppet, get)
    return result


# -- 6. ChildSpec.shutdown is checked ---------------------------------------------------


@pytest.mark.parametrize(
    ("shutdown", "error"),
    [
        pytest.param("5", TypeError, id="str"),
        pytest.param("brutal_kill", TypeError, id="atom-str"),
        pytest.param(True, TypeError, id="bool"),
        pytest.param([5], TypeError, id="list"),
        pytest.param(math.nan, ValueError, id="nan"),
        pytest.param(-1, ValueError, id="negative"),
        pytest.param(-0.5, ValueError, id="negative-float"),
        pytest.param(math.inf, ValueError, id="inf"),
        pytest.param(10**400, ValueError, id="too-big-for-a-float"),
    ],
)
def test_child_spec_shutdown_rejects_what_is_not_a_timeout(shutdown: Any, error: type) -> None:
    """A wrong type is a TypeError, a bad number a ValueError; both are ConfigErrors that
    name child_spec.shutdown and what is allowed."""
    with pytest.raises(error) as info:
        ChildSpec("x", Recorder, shutdown=shutdown)
    assert isinstance(info.value, ConfigError)
    assert info.value.field == "child_spec.shutdown"
    text = str(info.value)
    assert text.startswith("child_spec.shutdown: ")
    for allowed in ("seconds >= 0", "0 = brutal kill", "None = infinity"):
        assert allowed in text


@pytest.mark.parametrize(
    ("shutdown", "timeout"),
    [(0, 0), (0.25, 0.25), (5, 5), (None, None), ("default", 5.0)],
)
def test_child_spec_shutdown_accepts_seconds_none_and_default(shutdown: Any, timeout: Any) -> None:
    assert ChildSpec("x", Recorder, shutdown=shutdown).shutdown_timeout == timeout

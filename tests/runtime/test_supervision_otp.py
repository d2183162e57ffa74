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
import random
import sys
from collections.abc import Iterator
from types import FrameType
from typing import Any

import anyio
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
    SupervisorError,
)
from mabeam.runtime import _signals, supervision
from mabeam.runtime.supervision import (
    ChildCounts,
    ChildInfo,
    ChildStartError,
    count_children,
    delete_child,
    restart_child,
    start_child,
    terminate_child,
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
    now,
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


# -- 1. a failing restart loop does not hold the supervisor ----------------------------


@pytest.mark.virtual_time
async def test_which_children_answers_between_restart_attempts() -> None:
    """A child whose restarts keep failing is listed as restarting (ref None), not awaited."""
    events = Events()
    plan = Plan({"w": 5})
    async with ActorSystem() as system:
        sup = await system.spawn(
            Supervisor, [worker("a", events), flaky("w", events, plan)], intensity=100
        )
        await crash(system, "w")
        children = await which_children(sup)
        assert children == [
            ChildInfo(id="a", ref=ref_of(system, "a"), restart="permanent", kind="worker"),
            ChildInfo(id="w", ref=None, restart="permanent", kind="worker", restarting=True),
        ]
        assert await count_children(sup) == ChildCounts(specs=2, active=1, supervisors=0, workers=2)
        assert plan.tries["w"] < 6  # the retries did not all run inside the exit message
        await asyncio.sleep(1)  # the retries run, one message each, at virtual t=0
        await settle(sup)
        assert plan.tries["w"] == 6
        (a, w) = await which_children(sup)
        assert w.ref is ref_of(system, "w")
        assert not w.restarting
        assert a.ref is ref_of(system, "a")


@pytest.mark.virtual_time
async def test_terminate_child_ends_a_restart_loop() -> None:
    """terminate_child on a restarting child stops the retries; its spec is kept."""
    events = Events()
    plan = Plan({"w": 1000}, delay=2.0)
    async with ActorSystem() as system:
        sup = await system.spawn(Supervisor, [flaky("w", events, plan)])
        await crash(system, "w")  # t=0; each attempt takes 2 s and fails
        await asyncio.sleep(3)
        children = await which_children(sup)  # answered when attempt 2 ends (t=4)
        assert now() == 4.0
        assert children == [
            ChildInfo(id="w", ref=None, restart="permanent", kind="worker", restarting=True)
        ]
        await terminate_child(sup, "w")
        tries = plan.tries["w"]
        await asyncio.sleep(20)
        assert plan.tries["w"] == tries  # no attempt after terminate_child
        assert await which_children(sup) == [
            ChildInfo(id="w", ref=None, restart="permanent", kind="worker")
        ]
        assert system.whereis("w") is None
        assert sup.is_alive
        restarted = await restart_child(sup, "w")  # a fresh start (on_start) succeeds
        assert restarted is ref_of(system, "w")


@pytest.mark.virtual_time
async def test_restart_and_delete_child_refuse_a_restarting_child() -> None:
    """As OTP's {error, restarting}: a restarting child can be terminated, not restarted."""
    events = Events()
    plan = Plan({"w": 1000}, delay=1.0)
    async with ActorSystem() as system:
        sup = await system.spawn(Supervisor, [flaky("w", events, plan)], intensity=10_000)
        await crash(system, "w")
        for call in (restart_child, delete_child):
            with pytest.raises(SupervisorError, match="restarting"):
                await call(sup, "w")
        await terminate_child(sup, "w")
        await delete_child(sup, "w")
        assert await which_children(sup) == []


@pytest.mark.virtual_time
async def test_shutdown_requested_while_restarting_completes_after_the_current_attempt() -> None:
    """System shutdown during a restart loop (default intensity) ends after that attempt."""
    events = Events()
    plan = Plan({"w": 1000}, delay=2.0)  # one failure per 2 s: never 4 within 5 s
    system = ActorSystem()
    async with system:
        await system.spawn(Supervisor, [flaky("w", events, plan)], name="sup")
        await crash(system, "w")
        await asyncio.sleep(3)  # in the middle of attempt 2 (t = 2..4)
        with anyio.fail_after(60):
            await system.shutdown()
        assert now() == 4.0
        assert plan.tries["w"] == 2
        assert system.actor_count == 0


@pytest.mark.virtual_time
async def test_supervisor_stop_while_restarting_stops_the_other_children() -> None:
    """Stopping a supervisor between attempts stops its running children, in reverse."""
    events = Events()
    plan = Plan({"w": 1000}, delay=1.0)
    async with ActorSystem() as system:
        sup = await system.spawn(
            Supervisor, [worker("a", events), flaky("w", events, plan), worker("b", events)]
        )
        await crash(system, "w")
        await asyncio.sleep(1.5)
        with anyio.fail_after(60):
            await sup.stop()
        assert now() == 2.0
        assert lifecycle(events)[-2:] == [("stop", "b"), ("stop", "a")]


@pytest.mark.virtual_time
async def test_each_failed_attempt_counts_and_escalates_without_holding_the_supervisor() -> None:
    """Restart intensity is counted per attempt; between attempts requests are answered."""
    events = Events()
    plan = Plan({"w": 1000}, delay=1.0)
    async with ActorSystem() as system:
        sup = await system.spawn(
            Supervisor, [flaky("w", events, plan)], intensity=2, period=5.0, name="sup"
        )
        with capture_logs() as logs:
            await crash(system, "w")  # restart 1 at t=0
            await asyncio.sleep(0.5)
            children = await which_children(sup)  # answered after attempt 1 (t=1)
            assert children[0].restarting
            with anyio.fail_after(60):
                await sup.join()  # restart 2 at t=1 fails at t=2; the 3rd in 5 s escalates
        assert now() == 2.0
        assert plan.tries["w"] == 2
    kinds = [e["event"] for e in logs if e["event"].startswith(("child_", "supervisor_"))]
    assert kinds == [
        "child_exited",
        "child_restart_failed",
        "child_restart_failed",
        "supervisor_escalated",
    ]


@pytest.mark.virtual_time
async def test_dynamic_supervisor_retries_a_failed_restart_by_message() -> None:
    """A DynamicSupervisor child that fails to restart shows as restarting, then runs."""
    events = Events()
    plan = Plan({"w": 2}, delay=1.0)
    async with ActorSystem() as system:
        sup = await system.spawn(DynamicSupervisor, intensity=10)
        first = await start_child(sup, ChildSpec("w", FlakyRestart, (events, "w", plan)))
        first.tell(Crash())
        await first.join()
        await asyncio.sleep(0.5)
        (child,) = await which_children(sup)
        assert (child.ref, child.restarting) == (None, True)
        await asyncio.sleep(5)
        (child,) = await which_children(sup)
        assert child.ref is not None
        assert child.ref.is_alive
        assert not child.restarting


# -- 2. another child fails to start during a group restart ----------------------------


@pytest.mark.virtual_time
async def test_one_for_all_other_child_fails_restart() -> None:
    """one_for_all: child 2 fails to restart, so restarted child 1 is stopped, then all retry."""
    events = Events()
    plan = Plan({"2": 2}, delay=1.0)
    specs = [worker("1", events), flaky("2", events, plan), worker("3", events)]
    async with ActorSystem() as system:
        sup = await system.spawn(Supervisor, specs, strategy="one_for_all", intensity=10)
        await crash(system, "1")
        await asyncio.sleep(1.5)  # attempt 2 is under way
        children = await which_children(sup)  # answered when it fails (t=2)
        assert [(c.id, c.ref is not None, c.restarting) for c in children] == [
            ("1", True, False),
            ("2", False, True),
            ("3", False, False),
        ]
        await asyncio.sleep(10)
        children = await which_children(sup)
        assert all(c.ref is not None and c.ref.is_alive for c in children)
    assert lifecycle(events)[3:] == [
        ("stop", "1"),  # crashed
        ("stop", "3"),
        ("stop", "2"),
        ("restart", "1"),  # attempt 1: 2 fails
        ("stop", "1"),
        ("restart", "1"),  # attempt 2: 2 fails
        ("stop", "1"),
        ("restart", "1"),  # attempt 3
        ("restart", "2"),
        ("restart", "3"),
        ("stop", "3"),  # the system closes
        ("stop", "2"),
        ("stop", "1"),
    ]
    assert events.tags("restart_failed") == ["2", "2"]


@pytest.mark.virtual_time
async def test_rest_for_one_other_child_fails_restart() -> None:
    """rest_for_one: b fails to restart after a crashed; a is kept, b and c are retried."""
    events = Events()
    plan = Plan({"b": 2}, delay=1.0)
    specs = [worker("a", events), flaky("b", events, plan), worker("c", events)]
    async with ActorSystem() as system:
        sup = await system.spawn(Supervisor, specs, strategy="rest_for_one", intensity=10)
        await crash(system, "a")
        await asyncio.sleep(1.5)
        children = await which_children(sup)
        new_a = ref_of(system, "a")
        assert [(c.id, c.ref, c.restarting) for c in children] == [
            ("a", new_a, False),
            ("b", None, True),
            ("c", None, False),
        ]
        await asyncio.sleep(10)
        assert ref_of(system, "a") is new_a  # never restarted again
        children = await which_children(sup)
        assert all(c.ref is not None and c.ref.is_alive for c in children)
    assert lifecycle(events)[3:9] == [
        ("stop", "a"),
        ("stop", "c"),
        ("stop", "b"),
        ("restart", "a"),
        ("restart", "b"),
        ("restart", "c"),
    ]
    assert events.tags("restart_failed") == ["b", "b"]


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


# -- 5. a child's exit is O(1) ---------------------------------------------------------


class Quitter(mabeam.Actor):
    """Stops itself on any message."""

    async def receive(self, message: Any) -> Any:
        self.context.stop()


@contextlib.contextmanager
def lines_executed_in(module: Any) -> Iterator[list[int]]:
    """Count the bytecodes of ``module`` executed in the block (C calls count as one)."""
    filename = module.__file__
    counter = [0]

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "opcode":
            counter[0] += 1
        return local

    def global_(frame: FrameType, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename == filename:
            frame.f_trace_opcodes = True
            frame.f_trace_lines = False
            return local
        return None

    previous = sys.gettrace()
    sys.settrace(global_)
    try:
        yield counter
    finally:
        sys.settrace(previous)


async def _exit_work(children: int) -> int:
    """Bytecodes of supervision.py run while ``children`` dynamic children stop themselves,
    in a shuffled (seeded) order: a list scan would cost half the list per exit."""
    async with ActorSystem() as system:
        sup = await system.spawn(DynamicSupervisor)
        spec = ChildSpec("q", Quitter, restart="temporary")
        refs = [await start_child(sup, spec) for _ in range(children)]
        random.Random(children).shuffle(refs)
        with lines_executed_in(supervision) as counter:
            for ref in refs:
                ref.tell("stop")
            for ref in refs:
                await ref.join()
            assert await count_children(sup) == ChildCounts(0, 0, 0, 0)
        return counter[0]


async def test_child_exit_handling_is_constant_work_per_exit() -> None:
    """10x the children exiting runs ~10x the supervisor's code (not 100x: no list scan)."""
    small, large = 200, 2000
    small_work = await _exit_work(small)
    large_work = await _exit_work(large)
    per_exit_small = small_work / small
    per_exit_large = large_work / large
    assert per_exit_large <= per_exit_small * 1.2, (per_exit_small, per_exit_large)


async def test_which_children_keeps_start_order_across_exits_and_restarts() -> None:
    """The children table keeps start order when children exit, restart and are removed."""
    events = Events()
    async with ActorSystem() as system:
        sup = await system.spawn(Supervisor, [worker(t, events) for t in "abcde"])
        await crash(system, "b")
        await terminate_child(sup, "d")
        await delete_child(sup, "d")
        await start_child(sup, worker("f", events))
        await crash(system, "a")
        await settle(sup)
        assert [c.id for c in await which_children(sup)] == ["a", "b", "c", "e", "f"]


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

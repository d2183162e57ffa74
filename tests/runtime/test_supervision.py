"""Supervisors, after OTP's supervisor_SUITE: strategies, restart types, intensity, shutdown.

The scenarios follow ``lib/stdlib/test/supervisor_SUITE.erl`` where they apply to an
in-process runtime: sup_start_* (ordered start, failing start), one_for_one /
one_for_all / rest_for_one (what is stopped and restarted, in which order),
permanent / transient / temporary children with normal / shutdown / abnormal exits,
restart intensity (including the sliding period), escalation to the parent supervisor,
child shutdown timeouts and brutal_kill, simple_one_for_one (DynamicSupervisor) and the
supervisor API: which_children, count_children, terminate_child, restart_child,
delete_child. Everything timed runs on virtual time.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import anyio
import pytest
from structlog.testing import capture_logs

from mabeam import (
    KILLED,
    SHUTDOWN,
    ActorDeadError,
    ActorRef,
    ActorStartError,
    ActorSystem,
    ChildSpec,
    ConfigError,
    Down,
    DynamicSupervisor,
    ExitReason,
    Supervisor,
    SupervisorError,
)
from mabeam.runtime.supervision import (
    ChildCounts,
    ChildInfo,
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
    Forever,
    Puppet,
    Recorder,
    StopMe,
    downs,
    monitor,
    now,
    run_in,
)

pytestmark = pytest.mark.virtual_time


def worker(tag: str, events: Events, **options: Any) -> ChildSpec:
    """A Recorder child registered under its tag."""
    return ChildSpec(tag, Recorder, (events, tag), name=tag, **options)


def ref_of(system: ActorSystem, name: str) -> ActorRef:
    ref = system.whereis(name)
    assert ref is not None, f"{name} is not registered"
    return ref


async def crash(system: ActorSystem, name: str, supervisor: ActorRef | None = None) -> ActorRef:
    """Crash the actor registered as ``name``; wait until it exited and its supervisor acted."""
    ref = ref_of(system, name)
    ref.tell(Crash(f"{name} crashed"))
    await ref.join()
    if supervisor is not None:
        await settle(supervisor)
    return ref


async def settle(supervisor: ActorRef) -> None:
    """Wait until the supervisor has handled everything sent to it so far (or has exited)."""
    with contextlib.suppress(ActorDeadError):
        await count_children(supervisor)


def lifecycle(events: Events) -> list[tuple[str, str]]:
    """start / restart / stop entries as (kind, tag), in order."""
    return [(e[0], e[1]) for e in events.items if e[0] in ("start", "restart", "stop")]


# -- starting and stopping in order ------------------------------------------------------


async def test_children_start_in_order_and_stop_in_reverse() -> None:
    """A supervisor starts its children in spec order and stops them in reverse (sup_start)."""
    events = Events()
    async with ActorSystem() as system:
        sup = await system.spawn(Supervisor, [worker(t, events) for t in "abc"])
        assert lifecycle(events) == [("start", "a"), ("start", "b"), ("start", "c")]
        await sup.stop()
        assert lifecycle(events)[3:] == [("stop", "c"), ("stop", "b"), ("stop", "a")]
        assert [e[2] for e in events.items if e[0] == "stop"] == [SHUTDOWN] * 3
        assert system.actor_count == 1


class FailingStart(Recorder):
    async def on_start(self) -> None:
        await super().on_start()
        raise Boom(f"{self.tag} cannot start")


async def test_child_start_failure_fails_the_supervisor_and_stops_started_children() -> None:
    """If a child fails to start, the started ones stop in reverse and the supervisor fails."""
    events = Events()
    specs = [
        worker("a", events),
        worker("b", events),
        ChildSpec("c", FailingStart, (events, "c"), name="c"),
        worker("d", events),
    ]
    async with ActorSystem() as system:
        with pytest.raises(ActorStartError) as info:
            await system.spawn(Supervisor, specs, name="sup")
        assert info.value.actor == "sup"
        child_error = info.value.__cause__
        assert isinstance(child_error, ActorStartError)
        assert child_error.actor == "c"
        assert isinstance(child_error.__cause__, Boom)
        assert lifecycle(events) == [
            ("start", "a"),
            ("start", "b"),
            ("start", "c"),
            ("stop", "b"),
            ("stop", "a"),
        ]
        assert system.registered() == []
        assert system.actor_count == 1


class NestedLeaf(Recorder):
    pass


async def test_nested_supervisors_start_depth_first_and_stop_in_reverse() -> None:
    """A supervision tree starts in order, depth first, and stops in exactly the reverse order."""
    events = Events()
    inner = ChildSpec(
        "inner", Supervisor, ([worker("b", events), worker("c", events)],), name="inner"
    )
    tree = [worker("a", events), inner, worker("d", events)]
    async with ActorSystem() as system:
        await start_child(system.root, ChildSpec("outer", Supervisor, (tree,)))
        assert events.tags("start") == ["a", "b", "c", "d"]
    assert events.tags("stop") == ["d", "c", "b", "a"]


# -- strategies --------------------------------------------------------------------------


async def test_one_for_one_restarts_only_the_crashed_child() -> None:
    """one_for_one: only the child that crashed is restarted; its siblings keep their refs."""
    events = Events()
    async with ActorSystem() as system:
        sup = await system.spawn(Supervisor, [worker(t, events) for t in "abc"])
        before = {t: ref_of(system, t) for t in "abc"}
        await crash(system, "b", sup)
        after = {c.id: c.ref for c in await which_children(sup)}
        assert after["a"] is before["a"]
        assert after["c"] is before["c"]
        assert after["b"] is not None
        assert after["b"] is not before["b"]
        assert after["b"] is ref_of(system, "b")
        assert lifecycle(events)[3:] == [("stop", "b"), ("restart", "b")]


async def test_one_for_all_stops_all_in_reverse_then_restarts_all_in_order() -> None:
    """one_for_all: child 2 crashes, then 3 and 1 are stopped, then 1, 2, 3 start again."""
    events = Events()
    async with ActorSystem() as system:
        sup = await system.spawn(
            Supervisor, [worker(t, events) for t in "123"], strategy="one_for_all"
        )
        before = {t: ref_of(system, t) for t in "123"}
        await crash(system, "2")
        children = await which_children(sup)
        assert [c.id for c in children] == ["1", "2", "3"]
        assert all(c.ref is not None and c.ref is not before[c.id] for c in children)
    assert lifecycle(events)[3:9] == [
        ("stop", "2"),
        ("stop", "3"),
        ("stop", "1"),
        ("restart", "1"),
        ("restart", "2"),
        ("restart", "3"),
    ]
    restarts = {e[1]: e[2] for e in events.items if e[0] == "restart"}
    assert isinstance(restarts["2"], Boom)
    assert restarts["1"] == restarts["3"] == SHUTDOWN


async def test_rest_for_one_restarts_the_crashed_child_and_those_started_after_it() -> None:
    """rest_for_one: the later children stop in reverse; it and they restart in order."""
    events = Events()
    async with ActorSystem() as system:
        sup = await system.spawn(
            Supervisor, [worker(t, events) for t in "abcd"], strategy="rest_for_one"
        )
        a = ref_of(system, "a")
        await crash(system, "b", sup)
        assert ref_of(system, "a") is a
    assert lifecycle(events)[4:11] == [
        ("stop", "b"),
        ("stop", "d"),
        ("stop", "c"),
        ("restart", "b"),
        ("restart", "c"),
        ("restart", "d"),
        # then the system closes
        ("stop", "d"),
    ]


async def test_one_for_all_does_not_restart_temporary_siblings() -> None:
    """one_for_all drops temporary siblings instead of restarting them."""
    events = Events()
    specs = [worker("a", events), worker("t", events, restart="temporary"), worker("c", events)]
    async with ActorSystem() as system:
        sup = await system.spawn(Supervisor, specs, strategy="one_for_all")
        await crash(system, "c")
        assert [c.id for c in await which_children(sup)] == ["a", "c"]
        assert system.whereis("t") is None


# -- restart types -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("restart", "exit_how", "restarted"),
    [
        pytest.param("permanent", "normal", True, id="permanent-normal"),
        pytest.param("permanent", "shutdown", True, id="permanent-shutdown"),
        pytest.param("permanent", "abnormal", True, id="permanent-abnormal"),
        pytest.param("transient", "normal", False, id="transient-normal"),
        pytest.param("transient", "shutdown", False, id="transient-shutdown"),
        pytest.param("transient", "abnormal", True, id="transient-abnormal"),
        pytest.param("temporary", "normal", False, id="temporary-normal"),
        pytest.param("temporary", "shutdown", False, id="temporary-shutdown"),
        pytest.param("temporary", "abnormal", False, id="temporary-abnormal"),
    ],
)
async def test_restart_type_decides_whether_an_exit_is_restarted(
    restart: str, exit_how: str, restarted: bool
) -> None:
    """permanent always restarts, transient only after an abnormal exit, temporary never."""
    events = Events()
    async with ActorSystem() as system:
        sup = await system.spawn(Supervisor, [worker("w", events, restart=restart)])
        child = ref_of(system, "w")
        message = {"normal": StopMe(), "shutdown": StopMe("shutdown"), "abnormal": Crash()}
        child.tell(message[exit_how])
        await child.join()
        children = await which_children(sup)
        counts = await count_children(sup)
    if restarted:
        assert len(children) == 1
        assert children[0].ref is not None
        assert children[0].ref is not child
        assert counts.active == 1
        assert events.tags("restart") == ["w"]
    elif restart == "temporary":
        assert children == []  # a temporary child's spec is forgotten
        assert counts == ChildCounts(specs=0, active=0, supervisors=0, workers=0)
    else:
        assert children == [ChildInfo(id="w", ref=None, restart="transient", kind="worker")]
        assert counts == ChildCounts(specs=1, active=0, supervisors=0, workers=1)
    if not restarted:
        assert events.tags("restart") == []


# -- restart intensity -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("intensity", "period", "gaps", "escalates"),
    [
        pytest.param(3, 5.0, [1, 1, 1], True, id="4th-crash-in-5s-escalates"),
        pytest.param(3, 5.0, [1, 1], False, id="3-crashes-in-5s-do-not"),
        pytest.param(1, 5.0, [6, 6, 6, 6, 6, 6], False, id="spaced-beyond-period-never"),
        pytest.param(2, 5.0, [3, 3, 3, 3], False, id="sliding-window-2-in-5s"),
        pytest.param(2, 5.0, [3, 1], True, id="sliding-window-3-in-5s"),
        pytest.param(0, 5.0, [], True, id="intensity-0-first-crash"),
        pytest.param(1, 5.0, [5], True, id="exactly-period-old-still-counts-as-otp"),
        pytest.param(1, 5.0, [5.5], False, id="just-past-period-does-not"),
    ],
)
async def test_restart_intensity(
    intensity: int, period: float, gaps: list[float], escalates: bool
) -> None:
    """More than `intensity` restarts within `period` seconds makes the supervisor give up."""
    events = Events()
    async with ActorSystem() as system:
        sup = await system.spawn(
            Supervisor, [worker("w", events)], intensity=intensity, period=period, name="sup"
        )
        watcher = await system.spawn(Puppet)
        await monitor(watcher, sup)
        await crash(system, "w", sup)
        for gap in gaps:
            await asyncio.sleep(gap)
            await crash(system, "w", sup)
        crashes = len(gaps) + 1
        if escalates:
            with anyio.fail_after(60):  # virtual seconds: a missed escalation fails fast
                await sup.join()
            assert system.whereis("w") is None
            with anyio.fail_after(1):
                watcher_events = await _events_of(watcher)
                await watcher_events.wait_for(1)
            assert [d.reason for d in downs(watcher_events)] == [SHUTDOWN]
            assert len(events.tags("restart")) == crashes - 1
        else:
            assert sup.is_alive
            assert await ref_of(system, "w").ask("alive") == "alive"
            assert len(events.tags("restart")) == crashes


async def _events_of(puppet: ActorRef) -> Events:
    async def get(actor: Puppet) -> Events:
        return actor.events

    result: Events = await run_in(puppet, get)
    return result


async def test_escalation_is_logged_and_children_stop_first() -> None:
    """On giving up the supervisor logs supervisor_escalated and stops its children in reverse."""
    events = Events()
    async with ActorSystem() as system:
        sup = await system.spawn(
            Supervisor, [worker(t, events) for t in "abc"], intensity=0, name="sup"
        )
        with capture_logs() as logs:
            await crash(system, "b")
            await sup.join()
        assert lifecycle(events)[3:] == [("stop", "b"), ("stop", "c"), ("stop", "a")]
    escalated = [e for e in logs if e["event"] == "supervisor_escalated"]
    assert len(escalated) == 1
    assert escalated[0]["supervisor"] == "sup"
    assert escalated[0]["child"] == "b"
    assert escalated[0]["cause"] == "reached_max_restart_intensity"
    assert (escalated[0]["intensity"], escalated[0]["period"]) == (0, 5.0)


async def test_escalation_reaches_the_parent_which_restarts_the_subtree() -> None:
    """A child supervisor that gives up exits shutdown; its parent restarts it and its children."""
    events = Events()
    inner = ChildSpec(
        "inner",
        Supervisor,
        ([worker("w", events)],),
        {"intensity": 1, "period": 5.0},
        name="inner",
    )
    async with ActorSystem() as system:
        outer = await system.spawn(Supervisor, [inner], name="outer")
        first_inner = ref_of(system, "inner")
        first_w = ref_of(system, "w")
        with capture_logs() as logs:
            await crash(system, "w", first_inner)
            await crash(system, "w", first_inner)  # the second within 5 s: inner gives up
            await first_inner.join()
            children = await which_children(outer)
        new_inner = ref_of(system, "inner")
        new_w = ref_of(system, "w")
        assert new_inner is not first_inner
        assert children == [
            ChildInfo(id="inner", ref=new_inner, restart="permanent", kind="supervisor")
        ]
        assert new_w is not first_w
        assert new_w.is_alive
        assert await new_w.ask("hello") == "hello"
        assert await count_children(new_inner) == ChildCounts(1, 1, 0, 1)
    by_event = [(e["event"], e.get("supervisor"), e.get("child")) for e in logs]
    assert ("supervisor_escalated", "inner", "w") in by_event
    assert ("child_restarted", "outer", "inner") in by_event
    assert by_event.index(("supervisor_escalated", "inner", "w")) < by_event.index(
        ("child_restarted", "outer", "inner")
    )


class FailingRestart(Recorder):
    async def on_restart(self, reason: ExitReason) -> None:
        raise Boom("cannot restart")


async def test_failing_restarts_count_towards_intensity() -> None:
    """A restart whose on_restart raises is retried, and each try counts toward intensity."""
    events = Events()
    async with ActorSystem() as system:
        sup = await system.spawn(
            Supervisor, [ChildSpec("w", FailingRestart, (events, "w"), name="w")], intensity=3
        )
        with capture_logs() as logs:
            await crash(system, "w")
            await sup.join()
    kinds = [e["event"] for e in logs if e["event"].startswith(("child_", "supervisor_"))]
    assert kinds == [
        "child_exited",
        "child_restart_failed",
        "child_restart_failed",
        "child_restart_failed",
        "supervisor_escalated",
    ]


# -- shutdown timeouts -------------------------------------------------------------------


class HangingStop(Recorder):
    """on_stop never returns."""

    async def on_stop(self, reason: ExitReason) -> None:
        await super().on_stop(reason)
        await asyncio.Event().wait()


class SlowStop(Recorder):
    async def on_stop(self, reason: ExitReason) -> None:
        await asyncio.sleep(100)
        await super().on_stop(reason)


@pytest.mark.parametrize(
    ("actor", "shutdown", "expected_time", "expected_reason"),
    [
        pytest.param(HangingStop, 2.0, 2.0, KILLED, id="hanging-on_stop-killed-after-2s"),
        pytest.param(HangingStop, "default", 5.0, KILLED, id="worker-default-5s"),
        pytest.param(SlowStop, 200.0, 100.0, SHUTDOWN, id="slow-but-in-time"),
        pytest.param(SlowStop, None, 100.0, SHUTDOWN, id="infinity-waits"),
        pytest.param(HangingStop, 0, 0.0, KILLED, id="brutal-kill-idle"),
        pytest.param(Recorder, 0, 0.0, KILLED, id="brutal-kill-plain"),
    ],
)
async def test_child_shutdown_timeout(
    actor: type[Recorder], shutdown: Any, expected_time: float, expected_reason: str
) -> None:
    """terminate_child waits `shutdown` seconds for an orderly exit, then kills (reason killed)."""
    events = Events()
    async with ActorSystem() as system:
        exits = Exits(system)
        sup = await system.spawn(
            Supervisor, [ChildSpec("w", actor, (events, "w"), name="w", shutdown=shutdown)]
        )
        with capture_logs() as logs:
            await terminate_child(sup, "w")
        assert now() == expected_time
        assert exits.reason("w") == expected_reason
        assert system.whereis("w") is None
        counts = await count_children(sup)
        assert counts.active == 0  # terminated on purpose: not restarted
    timeouts = [e for e in logs if e["event"] == "actor_shutdown_timeout"]
    if expected_reason == KILLED and shutdown != 0:
        assert timeouts == [
            {
                "event": "actor_shutdown_timeout",
                "log_level": "warning",
                "actor": "w",
                "timeout": expected_time,
            }
        ]
    else:
        assert timeouts == []
    if shutdown == 0:
        assert events.tags("stop") == []  # brutal kill: on_stop never runs


async def test_brutal_kill_of_a_busy_child() -> None:
    """shutdown=0 cancels a child in the middle of a handler, at once (reason killed)."""
    async with ActorSystem() as system:
        exits = Exits(system)
        sup = await system.spawn(Supervisor, [ChildSpec("w", Forever, name="w", shutdown=0)])
        ref_of(system, "w").tell("work forever")
        await asyncio.sleep(1)
        await terminate_child(sup, "w")
        assert now() == 1.0
        assert exits.reason("w") == KILLED


async def test_a_busy_child_is_killed_after_its_shutdown_timeout() -> None:
    """A child stuck in a handler is cancelled when its shutdown timeout runs out."""
    async with ActorSystem() as system:
        exits = Exits(system)
        sup = await system.spawn(Supervisor, [ChildSpec("w", Forever, name="w", shutdown=3)])
        ref_of(system, "w").tell("work forever")
        await terminate_child(sup, "w")
        assert now() == 3.0
        assert exits.reason("w") == KILLED


def test_child_spec_shutdown_defaults() -> None:
    """A worker waits 5 s by default, a supervisor child forever (OTP's infinity)."""
    assert ChildSpec("w", Recorder).shutdown_timeout == 5.0
    assert ChildSpec("w", Recorder).kind == "worker"
    assert ChildSpec("s", Supervisor).shutdown_timeout is None
    assert ChildSpec("s", DynamicSupervisor).kind == "supervisor"
    assert ChildSpec("w", Recorder, shutdown=0).shutdown_timeout == 0


# -- the supervisor API ------------------------------------------------------------------


async def test_which_children_and_count_children_report_the_tree() -> None:
    """which_children lists id, ref, restart type and kind in order; count_children sums them."""
    events = Events()
    specs = [
        worker("a", events),
        ChildSpec("sub", DynamicSupervisor, name="sub"),
        worker("b", events, restart="transient"),
    ]
    async with ActorSystem() as system:
        sup = await system.spawn(Supervisor, specs)
        assert await which_children(sup) == [
            ChildInfo(id="a", ref=ref_of(system, "a"), restart="permanent", kind="worker"),
            ChildInfo(id="sub", ref=ref_of(system, "sub"), restart="permanent", kind="supervisor"),
            ChildInfo(id="b", ref=ref_of(system, "b"), restart="transient", kind="worker"),
        ]
        assert await count_children(sup) == ChildCounts(specs=3, active=3, supervisors=1, workers=2)


async def test_terminate_restart_and_delete_child() -> None:
    """terminate_child keeps the spec, restart_child starts it again, delete_child forgets it."""
    events = Events()
    async with ActorSystem() as system:
        sup = await system.spawn(Supervisor, [worker("a", events), worker("b", events)])
        old_b = ref_of(system, "b")
        await terminate_child(sup, "b")
        assert not old_b.is_alive
        assert [(c.id, c.ref) for c in await which_children(sup)] == [
            ("a", ref_of(system, "a")),
            ("b", None),
        ]
        with pytest.raises(SupervisorError, match="running"):
            await delete_child(sup, "a")
        new_b = await restart_child(sup, "b")
        assert new_b is ref_of(system, "b")
        assert new_b is not old_b
        assert events.tags("start") == ["a", "b", "b"]
        with pytest.raises(SupervisorError, match="running"):
            await restart_child(sup, "b")
        await terminate_child(sup, new_b)  # by ref
        await delete_child(sup, "b")
        assert [c.id for c in await which_children(sup)] == ["a"]
        for call in (restart_child, delete_child, terminate_child):
            with pytest.raises(SupervisorError, match="no child 'b'"):
                await call(sup, "b")
        assert sup.is_alive


async def test_start_child_adds_a_supervised_child() -> None:
    """start_child starts, supervises and lists a new child; a duplicate id is refused."""
    events = Events()
    async with ActorSystem() as system:
        sup = await system.spawn(Supervisor, [worker("a", events)])
        b = await start_child(sup, worker("b", events))
        assert [c.id for c in await which_children(sup)] == ["a", "b"]
        with pytest.raises(SupervisorError, match="already exists"):
            await start_child(sup, worker("b", events))
        await crash(system, "b", sup)
        assert ref_of(system, "b") is not b
        with pytest.raises(ActorStartError):
            await start_child(sup, ChildSpec("c", FailingStart, (events, "c")))
        with pytest.raises(ConfigError):
            await start_child(sup, "not a spec")  # type: ignore[arg-type]
        assert [c.id for c in await which_children(sup)] == ["a", "b"]


async def test_terminating_a_temporary_child_forgets_it() -> None:
    """terminate_child of a temporary child also deletes its spec (OTP)."""
    events = Events()
    async with ActorSystem() as system:
        sup = await system.spawn(Supervisor, [worker("t", events, restart="temporary")])
        await terminate_child(sup, "t")
        assert await which_children(sup) == []


async def test_a_permanent_child_stopped_by_ref_is_restarted() -> None:
    """ref.stop() on a permanent child is a normal exit, which OTP restarts."""
    events = Events()
    async with ActorSystem() as system:
        await system.spawn(Supervisor, [worker("w", events)])
        first = ref_of(system, "w")
        await first.stop()
        await asyncio.sleep(0)
        second = ref_of(system, "w")
        assert second is not first
        assert second.is_alive


async def test_dynamic_supervisor_starts_terminates_and_caps_children() -> None:
    """A DynamicSupervisor runs many children of one spec, forgets terminated ones, caps them."""
    events = Events()
    spec = ChildSpec("worker", Recorder, (events, "w"))
    async with ActorSystem() as system:
        sup = await system.spawn(DynamicSupervisor, max_children=3)
        assert await which_children(sup) == []
        refs = [await start_child(sup, spec) for _ in range(3)]
        assert len({r.id for r in refs}) == 3
        assert all(r.is_alive for r in refs)
        with pytest.raises(SupervisorError, match="max_children"):
            await start_child(sup, spec)
        await terminate_child(sup, refs[1])
        assert not refs[1].is_alive
        assert await count_children(sup) == ChildCounts(specs=2, active=2, supervisors=0, workers=2)
        assert [c.ref for c in await which_children(sup)] == [refs[0], refs[2]]
        with pytest.raises(SupervisorError):
            await restart_child(sup, "worker")  # not for a dynamic supervisor
        await start_child(sup, spec)
        assert (await count_children(sup)).active == 3


async def test_dynamic_supervisor_restarts_permanent_and_forgets_temporary_children() -> None:
    """A crashed permanent dynamic child is restarted in place; a temporary one is forgotten."""
    events = Events()
    async with ActorSystem() as system:
        sup = await system.spawn(DynamicSupervisor)
        keep = await start_child(sup, ChildSpec("keep", Recorder, (events, "keep")))
        temp = await start_child(
            sup, ChildSpec("temp", Recorder, (events, "temp"), restart="temporary")
        )
        for ref in (keep, temp):
            ref.tell(Crash())
            await ref.join()
        children = await which_children(sup)
        assert [c.id for c in children] == ["keep"]
        assert children[0].ref is not None
        assert children[0].ref is not keep
        assert children[0].ref.is_alive


async def test_unexpected_messages_to_a_supervisor_are_logged_and_ignored() -> None:
    """A supervisor answers a message it does not know with None and a warning."""
    async with ActorSystem() as system:
        sup = await system.spawn(Supervisor, name="sup")
        with capture_logs() as logs:
            assert await sup.ask("what?") is None
        assert sup.is_alive
    assert {
        "event": "supervisor_unexpected_message",
        "log_level": "warning",
        "supervisor": "sup",
        "message_type": "str",
    } in logs


async def test_root_supervisor_supervises_start_child_children() -> None:
    """Children started under system.root are restarted like any supervised child."""
    events = Events()
    async with ActorSystem() as system:
        await start_child(system.root, worker("w", events))
        first = await crash(system, "w", system.root)
        assert ref_of(system, "w") is not first
        assert [c.id for c in await which_children(system.root)] == ["w"]
        assert system.root_supervisor.intensity == 3


async def test_a_supervisor_that_watches_its_children_sees_exit_reasons() -> None:
    """Monitoring a supervised child reports its real exit reason before the restart."""
    events = Events()
    async with ActorSystem() as system:
        await system.spawn(Supervisor, [worker("w", events)])
        watcher = await system.spawn(Puppet)
        child = ref_of(system, "w")
        monitor_id = await monitor(watcher, child)
        await crash(system, "w")
        watched = await _events_of(watcher)
        with anyio.fail_after(1):
            await watched.wait_for(1)
        (down,) = downs(watched)
        assert isinstance(down, Down)
        assert down.monitor == monitor_id
        assert isinstance(down.reason, Boom)


# -- configuration errors ----------------------------------------------------------------


_SPEC = {"id": "x", "actor": Recorder}


@pytest.mark.parametrize(
    ("factory", "kwargs", "field"),
    [
        pytest.param(ChildSpec, {**_SPEC, "id": ""}, "child_spec.id", id="empty-id"),
        pytest.param(ChildSpec, {**_SPEC, "id": 7}, "child_spec.id", id="id-not-str"),
        pytest.param(ChildSpec, {**_SPEC, "actor": object}, "child_spec.actor", id="not-actor"),
        pytest.param(
            ChildSpec, {**_SPEC, "restart": "sometimes"}, "child_spec.restart", id="restart"
        ),
        pytest.param(ChildSpec, {**_SPEC, "shutdown": -1}, "child_spec.shutdown", id="shut<0"),
        pytest.param(
            ChildSpec, {**_SPEC, "shutdown": "brutal_kill"}, "child_spec.shutdown", id="shut-str"
        ),
        pytest.param(Supervisor, {"strategy": "one_for_some"}, "strategy", id="strategy"),
        pytest.param(Supervisor, {"intensity": -1}, "intensity", id="intensity<0"),
        pytest.param(Supervisor, {"intensity": 1.5}, "intensity", id="intensity-float"),
        pytest.param(Supervisor, {"period": 0}, "period", id="period-zero"),
        pytest.param(Supervisor, {"period": "5"}, "period", id="period-str"),
        pytest.param(
            Supervisor,
            {"children": [ChildSpec("x", Recorder), ChildSpec("x", Recorder)]},
            "children",
            id="duplicate-ids",
        ),
        pytest.param(Supervisor, {"children": ["x"]}, "children", id="not-a-spec"),
        pytest.param(DynamicSupervisor, {"max_children": -1}, "max_children", id="max<0"),
        pytest.param(DynamicSupervisor, {"max_children": "3"}, "max_children", id="max-str"),
    ],
)
def test_invalid_supervision_config_names_the_field(
    factory: Any, kwargs: dict[str, Any], field: str
) -> None:
    """A bad child spec or supervisor option raises ConfigError naming the field."""
    with pytest.raises(ConfigError) as info:
        factory(**kwargs)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


def test_restart_type_error_lists_the_allowed_values() -> None:
    """The restart-type error names permanent, transient and temporary."""
    with pytest.raises(ConfigError, match="allowed: permanent, transient, temporary"):
        ChildSpec("x", Recorder, restart="always")  # type: ignore[arg-type]

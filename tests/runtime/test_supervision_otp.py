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

import pytest

from mabeam import (
    ActorDeadError,
    ActorRef,
    ActorSystem,
    ChildSpec,
    ConfigError,
    ExitReason,
)
from mabeam.runtime.supervision import (
    count_children,
)

from ._support import (
    Boom,
    Crash,
    Events,
    Recorder,
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

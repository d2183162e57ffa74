"""An ActorSystem cleans up fully when its caller is cancelled, by anyio or by asyncio;
a process never hangs at exit with a system left open; trio is refused at entry."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from mabeam import Actor, ActorSystem, ExitReason, UnsupportedEventLoopError
from mabeam.runtime._cleanup import finish

CANCELS = ["move_on_after", "fail_after", "task_group", "asyncio_timeout", "task_cancel"]
"""Every way a caller's work gets cancelled: anyio's three, asyncio's two."""

SURFACES: dict[str, type[BaseException] | None] = {
    "move_on_after": None,
    "fail_after": TimeoutError,
    "task_group": None,
    "asyncio_timeout": TimeoutError,
    "task_cancel": asyncio.CancelledError,
}
"""What the caller sees once the cancelled block is left."""


async def cancel_midway(
    kind: str, body: Callable[[anyio.Event], Awaitable[None]]
) -> type[BaseException] | None:
    """Run ``body`` and cancel it by ``kind`` once it set its event (or after 1 s);
    return the type of what surfaced to the caller (None: nothing)."""
    started = anyio.Event()
    try:
        if kind == "move_on_after":
            with anyio.move_on_after(1):
                await body(started)
        elif kind == "fail_after":
            with anyio.fail_after(1):
                await body(started)
        elif kind == "task_group":
            async with anyio.create_task_group() as group:
                group.start_soon(body, started)
                await started.wait()
                group.cancel_scope.cancel()
        elif kind == "asyncio_timeout":
            async with asyncio.timeout(1):
                await body(started)
        else:
            task = asyncio.ensure_future(body(started))
            await started.wait()
            task.cancel()
            await task
    except BaseException as exc:  # what surfaced is the point of the test
        return type(exc)
    return None


class Slow(Actor):
    """Works 100 s per message; its on_stop takes 0.5 s and records the reason."""

    def __init__(self, stops: list[tuple[str, ExitReason]]) -> None:
        self.stops = stops

    async def receive(self, message: Any) -> Any:
        await anyio.sleep(100)
        return message

    async def on_stop(self, reason: ExitReason) -> None:
        await anyio.sleep(0.5)
        self.stops.append((self.context.name or "?", reason))


@pytest.mark.virtual_time
@pytest.mark.parametrize("kind", CANCELS)
async def test_a_cancelled_system_is_closed_with_every_actor_stopped(kind: str) -> None:
    """Cancelled mid-ask, with one actor mid-message and one idle whose on_stop awaits:
    on leaving the block the system is closed, no actor runs, no name is registered, the
    idle actor's on_stop ran to its end, and the cancel surfaced as its library says."""
    stops: list[tuple[str, ExitReason]] = []
    exits: dict[str, ExitReason] = {}
    system = ActorSystem()

    async def body(started: anyio.Event) -> None:
        async with system:
            system.add_exit_observer(lambda cell, reason: exits.__setitem__(cell._label, reason))
            idle = await system.spawn(Slow, stops, name="idle")
            busy = await system.spawn(Slow, stops, name="busy")
            busy.tell("work")
            started.set()
            await idle.ask("work", timeout=None)

    surfaced = await cancel_midway(kind, body)
    assert surfaced is SURFACES[kind]
    assert system.closed
    assert system.actor_count == 0
    assert system.registered() == []
    # Both were mid-message: past the 5 s shutdown timeout they are killed (no on_stop).
    assert exits == {"busy": "killed", "idle": "killed", "root": "shutdown"}


class Resting(Slow):
    async def receive(self, message: Any) -> Any:
        return message


@pytest.mark.virtual_time
@pytest.mark.parametrize("kind", CANCELS)
async def test_on_stop_runs_to_its_end_under_cancellation(kind: str) -> None:
    """Idle actors whose on_stop awaits finish it although the caller is cancelled."""
    stops: list[tuple[str, ExitReason]] = []
    system = ActorSystem()

    async def body(started: anyio.Event) -> None:
        async with system:
            await system.spawn(Resting, stops, name="a")
            await system.spawn(Resting, stops, name="b")
            started.set()
            await anyio.sleep(100)

    assert await cancel_midway(kind, body) is SURFACES[kind]
    assert stops == [("b", "shutdown"), ("a", "shutdown")]
    assert system.closed
    assert system.actor_count == 0


@pytest.mark.virtual_time
async def test_shutdown_called_in_a_cancelled_scope_still_completes() -> None:
    """``await system.shutdown()`` inside an already cancelled anyio scope closes the system
    and runs every on_stop to its end."""
    stops: list[tuple[str, ExitReason]] = []
    async with ActorSystem() as system:
        await system.spawn(Resting, stops, name="a")
        with anyio.CancelScope() as scope:
            scope.cancel()
            await system.shutdown()
        assert system.closed
        assert system.actor_count == 0
        assert stops == [("a", "shutdown")]


async def test_finish_returns_the_result_and_raises_the_cleanups_error() -> None:
    async def ok() -> int:
        await asyncio.sleep(0)
        return 7

    async def bad() -> None:
        await asyncio.sleep(0)
        raise KeyError("cleanup failed")

    assert await finish(ok()) == 7
    with pytest.raises(KeyError, match="cleanup failed"):
        await finish(bad())


async def test_finish_lets_a_cleanup_cancelled_from_inside_raise() -> None:
    async def cancels_itself() -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await finish(cancels_itself())


@pytest.mark.virtual_time
async def test_finish_holds_a_repeated_asyncio_cancel_until_the_cleanup_ends() -> None:
    """Two task.cancel() calls during the cleanup: it still ends, then the task is cancelled."""
    done: list[str] = []

    async def cleanup() -> None:
        await asyncio.sleep(1)
        done.append("cleaned")

    task = asyncio.ensure_future(finish(cleanup()))
    await asyncio.sleep(0.1)
    task.cancel()
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert done == ["cleaned"]


def test_trio_is_refused_at_entry_with_one_sentence() -> None:
    """Under anyio's trio backend, entering a system says mabeam runs on asyncio."""

    async def main() -> None:
        async with ActorSystem():
            pass  # pragma: no cover - never entered

    with pytest.raises(UnsupportedEventLoopError, match=r"^mabeam runs on asyncio: .*not trio$"):
        anyio.run(main, backend="trio")


# ---------------------------------------------------------------- no hang at exit

_EXIT_SCRIPT = textwrap.dedent(
    """
    import asyncio, contextlib, sys
    from mabeam import Actor, ActorSystem, ChildSpec, Supervisor

    how, holder, slow_stop = sys.argv[1], sys.argv[2], sys.argv[3] == "slow_stop"

    class Busy(Actor):
        async def receive(self, message):
            print("mid-message", flush=True)
            await asyncio.sleep(3600)

        async def on_stop(self, reason):
            if slow_stop:
                await asyncio.sleep(3600)

    @contextlib.asynccontextmanager
    async def lifespan():
        async with ActorSystem() as system:
            yield system

    async def main():
        if holder == "generator":  # a server's lifespan, never resumed
            system = await lifespan().__aenter__()
        else:  # entered, never exited
            system = ActorSystem()
            await system.__aenter__()
        if how == "supervised":
            await system.spawn(
                Supervisor, [ChildSpec(id="b", actor=Busy, name="b", shutdown=0.2)]
            )
        else:
            await system.spawn(Busy, name="b")
        system.whereis("b").tell("go")
        await asyncio.sleep(0.01)

    asyncio.run(main())
    print("exited", flush=True)
    """
)


@pytest.mark.parametrize("slow_stop", ["quick_stop", "slow_stop"])
@pytest.mark.parametrize("holder", ["generator", "never_exited"])
@pytest.mark.parametrize("how", ["top_level", "supervised"])
def test_the_process_exits_with_a_system_left_open(
    tmp_path: Path, how: str, holder: str, slow_stop: str
) -> None:
    """asyncio.run ends with the system still open and an actor mid-message: the process
    exits (within the shutdown timeouts), with no traceback and no task left pending."""
    script = tmp_path / "left_open.py"
    script.write_text(_EXIT_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), how, holder, slow_stop],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["mid-message", "exited"]
    assert "Traceback" not in done.stderr
    assert "was destroyed but it is pending" not in done.stderr

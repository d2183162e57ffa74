"""The runtime suite: tell throughput, ping-pong, ask round trip, spawn rate, idle memory,
shutdown.

Every measurement runs three contenders side by side, in the same process and run:

- ``bare``: the same work done with plain asyncio (queues, futures, parked tasks), i.e.
  what an actor runtime on asyncio cannot beat;
- ``mabeam``;
- ``pykka`` (thread-based actors), when installed (``pip install -e '.[bench]'``).

Timed figures are the best of :data:`~benchmarks._common.REPEATS` interleaved rounds;
memory is measured once, in its own pass with tracemalloc (which slows allocation, so
the timed passes run without it).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import PurePath
from types import ModuleType
from typing import Any

import structlog

from mabeam.runtime import Actor, ActorRef, ActorSystem

from ._common import (
    REPEATS,
    Figures,
    Json,
    best_of_rounds,
    check,
    configure_logging,
    latency,
    progress,
    ratio,
    scaled,
    throughput,
    timer,
    verdict,
)

TELLS = 1_000_000
ASKS = 100_000
SPAWNS = 100_000
PYKKA_SPAWNS = 10_000
"""Pykka actors are threads: 10k of them, not 100k (an OS thread each, 8 MiB stack reserved)."""

KIB = 1024

REFERENCE: Json = {
    "note": "figures quoted in the issue for a 2-core CPython 3.11 machine, for context",
    "bare_tell_per_second": 2_000_000,
    "bare_ask_us": 7.0,
    "bare_spawn_per_second": 38_000,
    "bare_idle_bytes_per_actor": 4_400,
    "pykka_tell_per_second": 450_000,
    "pykka_ask_us": 22.0,
    "erlang_idle_process_bytes": 2_600,
}


# ---------------------------------------------------------------------------- actors


class _Counter(Actor):
    """Counts what it receives; answers an ask with the count (the ask included)."""

    def __init__(self) -> None:
        self.count = 0

    async def receive(self, message: Any) -> Any:
        self.count += 1
        return self.count


class _Echo(Actor):
    async def receive(self, message: Any) -> Any:
        return message


class _Idle(Actor):
    async def receive(self, message: Any) -> Any:
        return None


# ---------------------------------------------------------------------------- tell


async def _bare_tell(n: int) -> Figures:
    """One consumer task drains an asyncio.Queue; the producer puts ``n``, then waits."""
    queue: asyncio.Queue[int] = asyncio.Queue()

    async def consume() -> int:
        get = queue.get
        count = 0
        for _ in range(n):
            await get()
            count += 1
        return count

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0)  # the consumer parks on get() before the clock starts
    put = queue.put_nowait
    start = timer()
    for i in range(n):
        put(i)
    count = await consumer
    elapsed = timer() - start
    if count != n:
        raise RuntimeError(f"bare consumer got {count}, expected {n}")
    return {"seconds": elapsed}


async def _mabeam_tell(n: int) -> Figures:
    """``n`` tells to a counting actor, then an ask (queued behind them) waits for the drain."""
    async with ActorSystem() as system:
        ref = await system.spawn(_Counter)
        tell = ref.tell
        start = timer()
        for i in range(n):
            tell(i)
        handled = await ref.ask(None, timeout=None)
        elapsed = timer() - start
    if handled != n + 1:
        raise RuntimeError(f"mabeam counter handled {handled}, expected {n + 1}")
    return {"seconds": elapsed}


# ---------------------------------------------------------------------------- ask


async def _bare_ask(n: int) -> Figures:
    """A server task answers ``(message, future)`` pairs; the client awaits a fresh future."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[int, asyncio.Future[int]]] = asyncio.Queue()

    async def serve() -> None:
        get = queue.get
        while True:
            message, reply = await get()
            reply.set_result(message)

    server = asyncio.create_task(serve())
    await asyncio.sleep(0)
    put = queue.put_nowait
    create_future = loop.create_future
    start = timer()
    for i in range(n):
        reply: asyncio.Future[int] = create_future()
        put((i, reply))
        await reply
    elapsed = timer() - start
    server.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await server
    return {"seconds": elapsed}


async def _mabeam_ask(n: int, *, default_timeout: bool) -> Figures:
    """``n`` sequential asks: with the default 5 s timeout (a timer per ask), or none."""
    async with ActorSystem() as system:
        ref = await system.spawn(_Echo)
        ask = ref.ask
        start = timer()
        if default_timeout:
            for i in range(n):
                await ask(i)
        else:
            for i in range(n):
                await ask(i, timeout=None)
        elapsed = timer() - start
    return {"seconds": elapsed}


# ---------------------------------------------------------------------------- spawn


async def _bare_ping_pong(n: int) -> Figures:
    """Two tasks bounce a counter through two asyncio.Queues until it reaches ``n``."""
    a: asyncio.Queue[int] = asyncio.Queue()
    b: asyncio.Queue[int] = asyncio.Queue()

    async def player(inbox: asyncio.Queue[int], outbox: asyncio.Queue[int]) -> None:
        while True:
            count = await inbox.get()
            outbox.put_nowait(count + 1)
            if count + 1 >= n:
                return

    start = timer()
    tasks = [asyncio.create_task(player(a, b)), asyncio.create_task(player(b, a))]
    a.put_nowait(0)
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    seconds = timer() - start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"seconds": seconds}


class _Player(Actor):
    """Tells its peer the counter plus one (each reply a tell) until it reaches ``limit``."""

    def __init__(self, limit: int, done: asyncio.Future[None]) -> None:
        self.limit = limit
        self.done = done
        self.peer: ActorRef | None = None

    async def receive(self, message: Any) -> None:
        if isinstance(message, ActorRef):
            self.peer = message
        elif message + 1 >= self.limit:
            self.done.set_result(None)
        else:
            assert self.peer is not None
            self.peer.tell(message + 1)


async def _mabeam_ping_pong(n: int) -> Figures:
    """Two actors bounce a counter by tells (each wakes the other, idle, every time)."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    async with ActorSystem() as system:
        a = await system.spawn(_Player, n, done)
        b = await system.spawn(_Player, n, done)
        a.tell(b)
        b.tell(a)
        start = timer()
        a.tell(0)
        await done
        seconds = timer() - start
    return {"seconds": seconds}


def _ping_pong(n: int) -> Json:
    best = best_of_rounds(
        {
            "bare": _in_loop(lambda: _bare_ping_pong(n)),
            "mabeam": _in_loop(lambda: _mabeam_ping_pong(n)),
        },
        label="ping_pong",
    )
    figures = {name: throughput(n, f["seconds"]) for name, f in best.items()}
    over = ratio(figures["mabeam"]["per_second"], figures["bare"]["per_second"])
    return {
        "what": f"{n:,} messages bounced between two actors, each reply a tell",
        "bare": figures["bare"],
        "mabeam": figures["mabeam"],
        "ratios": {"meaning": "throughput (messages/s) over throughput", "mabeam_over_bare": over},
        **verdict([check("mabeam/bare (two asyncio queues) throughput", over, ">=", 0.8)]),
    }


async def _parked(queue: asyncio.Queue[Any]) -> None:
    await queue.get()


async def _bare_actors(n: int) -> list[asyncio.Task[None]]:
    """``n`` bare "actors": a Queue and a task parked on its get() each."""
    tasks = [asyncio.create_task(_parked(asyncio.Queue())) for _ in range(n)]
    await asyncio.sleep(0)  # every task runs up to its park
    return tasks


async def _bare_spawn(n: int) -> Figures:
    start = timer()
    tasks = await _bare_actors(n)
    spawned = timer() - start
    start = timer()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    stopped = timer() - start
    return {"spawn": spawned, "shutdown": stopped}


async def _mabeam_spawn(n: int) -> Figures:
    """``n`` sequential ``await system.spawn(Idle)``, then the shutdown of the whole system."""
    async with ActorSystem() as system:
        spawn = system.spawn
        start = timer()
        refs = [await spawn(_Idle) for _ in range(n)]
        spawned = timer() - start
        if system.actor_count != n + 1 or len(refs) != n:
            raise RuntimeError(f"mabeam has {system.actor_count - 1} actors, expected {n}")
        start = timer()
        await system.shutdown()
        stopped = timer() - start
        if system.actor_count != 0:
            raise RuntimeError(f"{system.actor_count} mabeam actors left after shutdown")
    return {"spawn": spawned, "shutdown": stopped}


# ---------------------------------------------------------------------------- memory


_NOT_OURS = (
    tracemalloc.Filter(False, tracemalloc.__file__),
    tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
    tracemalloc.Filter(False, "<frozen importlib._bootstrap_external>"),
)


def _site(filename: str, lineno: int) -> str:
    parts = PurePath(filename).parts
    return f"{'/'.join(parts[-2:])}:{lineno}"


async def _traced(n: int, make: Callable[[], Awaitable[list[Any]]]) -> Json:
    """Bytes per object that ``make`` creates and holds, by tracemalloc, plus top sites.

    The returned list is held while measuring, as an application holds its refs: it
    costs 8 bytes per actor, included in the figure for every contender alike.
    """
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        held = await make()
        gc.collect()
        used = tracemalloc.get_traced_memory()[0] - base
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    stats = after.filter_traces(_NOT_OURS).compare_to(before.filter_traces(_NOT_OURS), "lineno")
    top = [
        {
            "site": _site(stat.traceback[0].filename, stat.traceback[0].lineno),
            "bytes_per_actor": round(stat.size_diff / n, 1),
        }
        for stat in stats[:8]
        if stat.size_diff > 0
    ]
    if len(held) != n:
        raise RuntimeError(f"made {len(held)} actors, expected {n}")
    return {
        "count": n,
        "bytes": used,
        "bytes_per_actor": round(used / n, 1),
        "top_sites": top,
    }


async def _bare_memory(n: int) -> Json:
    tasks: list[asyncio.Task[None]] = []

    async def make() -> list[Any]:
        tasks.extend(await _bare_actors(n))
        return tasks

    figures = await _traced(n, make)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return figures


async def _mabeam_memory(n: int) -> Json:
    async with ActorSystem() as system:

        async def make() -> list[Any]:
            spawn = system.spawn
            return [await spawn(_Idle) for _ in range(n)]

        return await _traced(n, make)


# ---------------------------------------------------------------------------- pykka


def _load_pykka() -> tuple[ModuleType | None, str | None]:
    """The Pykka contenders module, or None and why."""
    try:
        from . import _pykka
    except ImportError as exc:
        return None, f"pykka is not installed ({exc}); install the bench extra: .[bench]"
    return _pykka, None


# ---------------------------------------------------------------------------- the suite


def _in_loop(make: Callable[[], Awaitable[Figures]]) -> Callable[[], Figures]:
    """A sample that runs one coroutine in a fresh event loop."""

    def sample() -> Figures:
        async def main() -> Figures:
            return await make()

        return asyncio.run(main())

    return sample


def _tell(n: int, pykka: ModuleType | None) -> Json:
    samples = {
        "bare": _in_loop(lambda: _bare_tell(n)),
        "mabeam": _in_loop(lambda: _mabeam_tell(n)),
    }
    if pykka is not None:
        samples["pykka"] = lambda: pykka.tell(n)
    best = best_of_rounds(samples, label="tell")
    figures = {name: throughput(n, f["seconds"]) for name, f in best.items()}
    rate = {name: f["per_second"] for name, f in figures.items()}
    ratios = {
        "mabeam_over_bare": ratio(rate["mabeam"], rate["bare"]),
        "mabeam_over_pykka": ratio(rate["mabeam"], rate.get("pykka")),
        "pykka_over_bare": ratio(rate.get("pykka"), rate["bare"]),
    }
    return {
        "what": f"{n:,} tells to one actor, then wait until it has handled them all",
        "bare": figures["bare"],
        "mabeam": figures["mabeam"],
        "pykka": figures.get("pykka"),
        "ratios": {"meaning": "throughput (messages/s) over throughput", **ratios},
        **verdict(
            [
                check("mabeam/bare throughput", ratios["mabeam_over_bare"], ">=", 0.5),
                check("mabeam/pykka throughput", ratios["mabeam_over_pykka"], ">=", 2.0),
            ]
        ),
    }


def _ask(n: int, pykka: ModuleType | None) -> Json:
    samples = {
        "bare": _in_loop(lambda: _bare_ask(n)),
        "mabeam": _in_loop(lambda: _mabeam_ask(n, default_timeout=True)),
        "mabeam_timeout_none": _in_loop(lambda: _mabeam_ask(n, default_timeout=False)),
    }
    if pykka is not None:
        samples["pykka"] = lambda: pykka.ask(n)
    best = best_of_rounds(samples, label="ask")
    figures = {name: latency(n, f["seconds"]) for name, f in best.items()}
    cost = {name: f["us_per_op"] for name, f in figures.items()}
    ratios = {
        "mabeam_over_bare": ratio(cost["mabeam"], cost["bare"]),
        "mabeam_timeout_none_over_bare": ratio(cost["mabeam_timeout_none"], cost["bare"]),
        "mabeam_over_pykka": ratio(cost["mabeam"], cost.get("pykka")),
        "pykka_over_bare": ratio(cost.get("pykka"), cost["bare"]),
    }
    return {
        "what": f"{n:,} sequential ask round trips to one actor",
        "bare": figures["bare"],
        "mabeam": figures["mabeam"],
        "mabeam_timeout_none": figures["mabeam_timeout_none"],
        "pykka": figures.get("pykka"),
        "notes": [
            "mabeam: ref.ask(i) with its default 5 s timeout (a timer armed and cancelled "
            "per ask); mabeam_timeout_none: ref.ask(i, timeout=None), for information",
        ],
        "ratios": {"meaning": "time per round trip over time per round trip", **ratios},
        **verdict([check("mabeam/bare round trip", ratios["mabeam_over_bare"], "<=", 2.0)]),
    }


def _spawn_and_shutdown(n: int, n_pykka: int, pykka: ModuleType | None) -> tuple[Json, Json]:
    samples = {
        "bare": _in_loop(lambda: _bare_spawn(n)),
        "mabeam": _in_loop(lambda: _mabeam_spawn(n)),
    }
    if pykka is not None:
        samples["pykka"] = lambda: pykka.spawn(n_pykka)
    best = best_of_rounds(samples, label="spawn")
    counts = {"bare": n, "mabeam": n, "pykka": n_pykka}
    spawned = {name: throughput(counts[name], f["spawn"]) for name, f in best.items()}
    stopped = {name: throughput(counts[name], f["shutdown"]) for name, f in best.items()}
    rate = {name: f["per_second"] for name, f in spawned.items()}
    pykka_note = (
        f"pykka actors are OS threads: it spawns {n_pykka:,}, not {n:,} "
        "(then ActorRegistry.stop_all())"
    )
    spawn = {
        "what": f"{n:,} idle actors spawned one after another",
        "bare": spawned["bare"],
        "mabeam": spawned["mabeam"],
        "pykka": spawned.get("pykka"),
        "notes": [
            "bare: an asyncio.Queue plus a task parked on its get() per actor, "
            "timed until every task has parked",
            "mabeam: await system.spawn(Idle), timed without tracemalloc",
            pykka_note,
        ],
        "ratios": {
            "meaning": "spawns/s over spawns/s",
            "mabeam_over_bare": ratio(rate["mabeam"], rate["bare"]),
            "mabeam_over_pykka": ratio(rate["mabeam"], rate.get("pykka")),
        },
        **verdict([check("mabeam spawns/s", rate["mabeam"], ">=", 40_000)]),
    }
    shutdown = {
        "what": f"shutdown of the {n:,} idle actors of the spawn measurement",
        "bare": stopped["bare"],
        "mabeam": stopped["mabeam"],
        "pykka": stopped.get("pykka"),
        "notes": [
            "bare: cancel every parked task and gather them",
            "mabeam: await system.shutdown() of the whole system",
            pykka_note,
        ],
        "ratios": {
            "meaning": "time over time",
            "mabeam_over_bare": ratio(stopped["mabeam"]["seconds"], stopped["bare"]["seconds"]),
        },
        "target": None,
        "met": None,
        "checks": [],
    }
    return spawn, shutdown


def _unconfigured(make: Callable[[], Figures]) -> Callable[[], Figures]:
    """Run ``make`` as a user who configured no logging at all would, then restore ours."""

    def sample() -> Figures:
        structlog.reset_defaults()
        try:
            return make()
        finally:
            configure_logging()

    return sample


def _spawn_logging(n: int) -> Json:
    """Spawn rate with no logging configured against an application that filters at WARNING.

    Unconfigured, mabeam routes its events to stdlib logging, whose level check drops the
    debug events before anything is formatted; configured, structlog's filtering logger
    does. Within 10% of each other: an event nobody reads costs nothing either way.
    """
    samples = {
        "configured": _in_loop(lambda: _mabeam_spawn(n)),
        "unconfigured": _unconfigured(_in_loop(lambda: _mabeam_spawn(n))),
    }
    best = best_of_rounds(samples, label="spawn logging")
    rate = {name: throughput(n, f["spawn"]) for name, f in best.items()}
    over = ratio(rate["unconfigured"]["per_second"], rate["configured"]["per_second"])
    return {
        "what": f"{n:,} idle actors spawned one after another, logging unconfigured vs configured",
        "configured": rate["configured"],
        "unconfigured": rate["unconfigured"],
        "notes": [
            "configured: structlog.make_filtering_bound_logger(WARNING), as the suites run",
            "unconfigured: structlog.reset_defaults() and no stdlib logging set-up",
        ],
        "ratios": {"meaning": "spawns/s over spawns/s", "unconfigured_over_configured": over},
        **verdict([check("unconfigured/configured spawn rate", over, ">=", 0.9)]),
    }


def _memory(n: int) -> Json:
    progress(f"memory: bare, {n:,} actors under tracemalloc")
    bare = asyncio.run(_bare_memory(n))
    progress(f"memory: mabeam, {n:,} actors under tracemalloc")
    mabeam = asyncio.run(_mabeam_memory(n))
    per_actor = mabeam["bytes_per_actor"]
    return {
        "what": f"memory per idle actor, {n:,} of them, by tracemalloc (after gc.collect())",
        "bare": bare,
        "mabeam": mabeam,
        "pykka": None,
        "notes": [
            "pykka is not measured: its cost is mostly a thread stack, outside tracemalloc",
            "each figure includes 8 bytes per actor for the list that holds the refs/tasks",
        ],
        "ratios": {
            "meaning": "bytes over bytes",
            "mabeam_over_bare": ratio(per_actor, bare["bytes_per_actor"]),
            "mabeam_over_erlang_process": ratio(per_actor, REFERENCE["erlang_idle_process_bytes"]),
        },
        **verdict([check("mabeam bytes per idle actor", per_actor, "<=", 2 * KIB)]),
    }


def run(quick: bool) -> Json:
    """Run the runtime suite; ``quick`` divides every count by 100 (a smoke test).

    The caller configures structlog first (``benchmarks._common.configure_logging``).
    """
    tells, asks = scaled(TELLS, quick), scaled(ASKS, quick)
    spawns, pykka_spawns = scaled(SPAWNS, quick), scaled(PYKKA_SPAWNS, quick)
    pykka, missing = _load_pykka()
    if missing is not None:
        progress(f"pykka left out: {missing}")
    tell = _tell(tells, pykka)
    ping_pong = _ping_pong(asks)
    ask = _ask(asks, pykka)
    spawn, shutdown = _spawn_and_shutdown(spawns, pykka_spawns, pykka)
    memory = _memory(spawns)
    spawn_logging = _spawn_logging(spawns)
    measurements = {
        "tell": tell,
        "ping_pong": ping_pong,
        "ask": ask,
        "spawn": spawn,
        "spawn_logging": spawn_logging,
        "idle_memory": memory,
        "shutdown": shutdown,
    }
    return {
        "counts": {"tell": tells, "ask": asks, "spawn": spawns, "pykka_spawn": pykka_spawns},
        "repeats": REPEATS,
        "timing": f"best (minimum time) of {REPEATS} interleaved rounds",
        "pykka": None if pykka is None else {"version": pykka.VERSION},
        "pykka_missing": missing,
        "reference": REFERENCE,
        "measurements": measurements,
        "all_targets_met": all(m["met"] for m in measurements.values() if m["met"] is not None),
    }

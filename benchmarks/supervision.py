"""The supervision suite: what a child's exit costs its supervisor, at 10k and 100k children.

Each sample starts ``N`` temporary children under one :class:`DynamicSupervisor` (set-up,
timed apart), then tells every child to stop itself (``context.stop()``, reason
``normal``) in a shuffled, seeded order and times until the supervisor has handled all
``N`` exits: every child joined and ``count_children`` (queued behind the ``Exit``
messages) reports none left. So the figure is the children's own exits plus the
supervisor's exit handling (find the child, forget it); a supervisor that scans a list
per exit makes it quadratic. Target: 10x the children costs at most 12x the time.

The timed phase runs with the cyclic garbage collector paused (after a full collection),
as ``timeit`` does: a full collection walks every live object, so with 100k idle actors
alive it adds a cost that grows with the heap, not with the supervisor's work. The same
figures with the collector on are reported beside them (``gc_on``), for context.
"""

from __future__ import annotations

import asyncio
import gc
import random
from typing import Any

from mabeam.runtime import Actor, ActorSystem, DynamicSupervisor
from mabeam.runtime.supervision import ChildSpec, count_children, start_child

from ._common import Figures, Json, best_of_rounds, check, latency, progress, ratio, timer, verdict

SMALL = 10_000
LARGE = 100_000
QUICK_SMALL = 1_000
QUICK_LARGE = 10_000
TARGET = 12.0


class _Quitter(Actor):
    """Stops itself on any message."""

    async def receive(self, message: Any) -> Any:
        self.context.stop()


def _exits(children: int, *, collector: bool = False) -> Figures:
    figures: Figures = {}

    async def main() -> None:
        async with ActorSystem() as system:
            sup = await system.spawn(DynamicSupervisor)
            spec = ChildSpec("quitter", _Quitter, restart="temporary")
            started = timer()
            refs = [await start_child(sup, spec) for _ in range(children)]
            figures["start_seconds"] = timer() - started
            random.Random(children).shuffle(refs)
            gc.collect()
            if not collector:
                gc.disable()
            try:
                started = timer()
                for ref in refs:
                    ref.tell("stop")
                for ref in refs:
                    await ref.join()
                counts = await count_children(sup)
                figures["exit_seconds"] = timer() - started
            finally:
                gc.enable()
            assert counts.specs == 0, counts

    asyncio.run(main())
    return figures


def run(quick: bool) -> Json:
    small, large = (QUICK_SMALL, QUICK_LARGE) if quick else (SMALL, LARGE)
    progress(f"supervision: {small} and {large} children exiting under a DynamicSupervisor")
    best = best_of_rounds(
        {
            "small": lambda: _exits(small),
            "large": lambda: _exits(large),
            "small_gc_on": lambda: _exits(small, collector=True),
            "large_gc_on": lambda: _exits(large, collector=True),
        },
        label="supervision",
    )
    small_s, large_s = best["small"]["exit_seconds"], best["large"]["exit_seconds"]
    growth = ratio(large_s, small_s)
    small_gc, large_gc = best["small_gc_on"]["exit_seconds"], best["large_gc_on"]["exit_seconds"]
    progress(
        f"supervision: {small} exits {small_s:.4f} s, {large} exits {large_s:.4f} s, ratio {growth}"
    )
    return {
        "counts": {"small": small, "large": large},
        "measurements": {
            "child_exits": {
                "what": (
                    "N temporary children of one DynamicSupervisor each stop themselves "
                    "(shuffled order); timed until the supervisor has handled every exit"
                ),
                "small": latency(small, small_s),
                "large": latency(large, large_s),
                "ratio": growth,
                "gc_on": {
                    "small": latency(small, small_gc),
                    "large": latency(large, large_gc),
                    "ratio": ratio(large_gc, small_gc),
                },
                "start_children_seconds": {
                    "small": round(best["small"]["start_seconds"], 6),
                    "large": round(best["large"]["start_seconds"], 6),
                },
                "notes": [
                    "the children's own exits and the supervisor's Exit handling; starting "
                    "the children is timed apart",
                    "small / large: cyclic GC paused in the timed phase (as timeit); gc_on: "
                    "the same with it running, whose full collections grow with the heap",
                ],
                **verdict([check(f"time({large}) / time({small})", growth, "<=", TARGET)]),
            }
        },
    }

"""One run of a sweep, where it executes (a worker process, a Dask worker or in process).

Everything that crosses to a worker and back is plain data: the raw scenario document
(a dict of builtins), the settings, seeds and run numbers in; a dict of builtins per run
out (the report as the exact JSON text ``mabeam run --json`` prints). ProcessPoolExecutor
and Dask serialize those with pickle internally, so nothing of mabeam's is ever
unpickled: only dicts, lists, strings and numbers. This module imports nothing heavy
(no polars, no Dask), so workers start fast.
"""

from __future__ import annotations

import gc
import threading
import time
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import msgspec

from ..scenario import (
    RunMonitor,
    RunStopped,
    Scenario,
    parse_scenario,
    protocol_kinds,
    run_scenario,
)
from ._spec import apply_overrides

__all__ = ["build_scenario", "heap_frozen", "run_chunk", "run_one"]

Row = dict[str, Any]
Chunk = list[tuple[int, dict[str, Any], int]]
"""(run index, settings, seed) per run."""


def build_scenario(
    document: Mapping[str, Any], params: Mapping[str, Any], seed: int | None, path: str
) -> Scenario:
    """The checked scenario: ``params`` applied to a copy of ``document``, then the seed set
    as ``load_scenario(path, seed=...)`` sets it. Errors name ``path`` and the field."""
    raw: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(document))
    apply_overrides(raw, params, "setting")
    scenario = parse_scenario(msgspec.json.encode(raw), path=path, fmt="json")
    if seed is not None:
        scenario = msgspec.structs.replace(scenario, seed=seed)
    return scenario


def run_one(
    document: Mapping[str, Any],
    path: str,
    index: int,
    params: dict[str, Any],
    seed: int,
    time_limit: float | None,
) -> Row:
    """Run one combination with one seed exactly as ``mabeam run --seed`` would.

    ``status``: ``ok`` (exit 0), ``not_ok`` (exit 1: the protocol ended without
    agreement), ``invalid`` (exit 2), ``error`` (the run raised) or ``timeout``.
    """
    start = time.perf_counter()
    row: Row = {"run": index, "seed": seed, "report": None, "error_code": None, "error": None}
    try:
        scenario = build_scenario(document, params, seed, path)
    except ValueError as exc:  # ConfigError / ScenarioError: what `mabeam run` exits 2 for
        row.update(status="invalid", exit_code=2, error_code="invalid", error=str(exc))
        return _done(row, start)
    protocol_kinds()  # imports the protocols on a worker's first run, outside the time limit
    monitor = RunMonitor()  # the same stop as ``mabeam run --time-limit``
    try:
        with monitor.time_limit(time_limit):
            report, _ = run_scenario(scenario, path=path, monitor=monitor)
    except RunStopped as stopped:
        if stopped.reason != "time_limit":
            raise  # Ctrl-C: the sweep keeps the rows it has
        problem = f"no result within the time limit of {time_limit:g} s"
        row.update(status="timeout", exit_code=None, error_code="timeout", error=problem)
        return _done(row, start)
    except Exception as exc:
        last = traceback.extract_tb(exc.__traceback__)[-1:]
        at = f" (at {last[0].filename}:{last[0].lineno})" if last else ""
        problem = f"{type(exc).__name__}: {exc}{at}"
        row.update(status="error", exit_code=None, error_code="exception", error=problem)
        return _done(row, start)
    row["report"] = msgspec.json.encode(report).decode()
    row.update(status="ok" if report.ok else "not_ok", exit_code=0 if report.ok else 1)
    if report.error is not None:
        row.update(error_code=report.error.code, error=report.error.message)
    return _done(row, start)


def _done(row: Row, start: float) -> Row:
    row["elapsed_ms"] = round((time.perf_counter() - start) * 1000.0, 3)
    return row


def run_chunk(
    document: Mapping[str, Any],
    path: str,
    chunk: Chunk,
    time_limit: float | None,
    *,
    freeze_heap: bool = True,
) -> list[Row]:
    """Run several runs one after another (fewer round trips to the executor).

    In a worker (``freeze_heap``), the objects the process already holds are kept out of
    the garbage collector's way while the chunk runs (see :func:`heap_frozen`)."""
    if not freeze_heap:
        return [run_one(document, path, i, dict(p), s, time_limit) for i, p, s in chunk]
    with heap_frozen():
        return [run_one(document, path, i, dict(p), s, time_limit) for i, p, s in chunk]


_frozen_lock = threading.Lock()
_frozen_chunks = 0
_froze = False


@contextmanager
def heap_frozen() -> Iterator[None]:
    """``gc.freeze()`` while any chunk runs in this process, ``gc.unfreeze()`` after the
    last one ends.

    A run makes short-lived objects, but each full collection would also walk every
    object the host process holds (a Dask worker holds tens of thousands more than a bare
    worker process, and a user's worker may hold far more). Frozen, they are skipped; a
    cycle among them that becomes garbage meanwhile is collected after the chunk. Chunks
    on several threads of one worker share one freeze. A process that froze objects
    itself (``gc.get_freeze_count() > 0``, e.g. a pre-fork server) is left as it is:
    unfreezing would undo its freeze.
    """
    global _frozen_chunks, _froze
    with _frozen_lock:
        if _frozen_chunks == 0:
            _froze = gc.get_freeze_count() == 0
            if _froze:
                gc.freeze()
        _frozen_chunks += 1
    try:
        yield
    finally:
        with _frozen_lock:
            _frozen_chunks -= 1
            if _frozen_chunks == 0 and _froze:
                gc.unfreeze()
                _froze = False


def init_worker() -> None:
    """ProcessPoolExecutor initializer: Ctrl-C in the terminal reaches the whole process
    group; the parent handles it, so the workers ignore it."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)

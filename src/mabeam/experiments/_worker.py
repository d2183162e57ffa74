"""One run of a sweep, where it executes (a worker process, a Dask worker or in process).

Everything that crosses to a worker and back is plain data: the raw scenario document
(a dict of builtins), the settings, seeds and run numbers in; a dict of builtins per run
out (the report as the exact JSON text ``mabeam run --json`` prints). ProcessPoolExecutor
and Dask serialize those with pickle internally, so nothing of mabeam's is ever
unpickled: only dicts, lists, strings and numbers. This module imports nothing heavy
(no polars, no Dask), so workers start fast.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from typing import Any

import msgspec

from ..scenario import Scenario, parse_scenario, protocol_kinds, run_scenario
from ._spec import apply_overrides

__all__ = ["build_scenario", "run_chunk", "run_one"]

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


class _Deadline:
    """Stops the run on the calling thread when ``seconds`` pass, unless disarmed first.

    A watcher thread finds the event loop the run's thread is running (the ``self`` of
    its ``run_forever`` frame, through ``sys._current_frames()``) and asks it to stop
    with ``call_soon_threadsafe(loop.stop)``: nothing is raised into the run. The loop
    stops between two callbacks, ``run_until_complete`` raises "Event loop stopped
    before Future completed", and the loop's runner cancels the run's tasks, so its
    actors clean up as under any cancellation. This works in a worker process's main
    thread and in a Dask worker's thread alike. A run that never returns to its loop
    (stuck in one long computation) cannot be stopped this way and ends when it does.
    """

    def __init__(self, seconds: float) -> None:
        self._thread = threading.get_ident()
        self._lock = threading.Lock()
        self._armed = True
        self.fired = False
        self._gate = threading.Lock()  # held until disarmed: the watcher waits on it
        self._gate.acquire()
        self._watch = threading.Thread(target=self._run, args=(seconds,), daemon=True)
        self._watch.start()

    def _run(self, seconds: float) -> None:
        wait = seconds
        while not self._gate.acquire(timeout=wait):
            with self._lock:
                if not self._armed:
                    return
                loop = _running_loop(self._thread)
                if loop is not None:
                    self.fired = True
                    loop.call_soon_threadsafe(loop.stop)
                    return
            wait = 0.01  # not inside its loop this instant (starting up): look again

    def disarm(self) -> None:
        """No stop from now on."""
        with self._lock:
            if self._armed:
                self._armed = False
                self._gate.release()


def _running_loop(thread: int) -> asyncio.AbstractEventLoop | None:
    """The event loop whose ``run_forever`` is on ``thread``'s stack, if any."""
    frame = sys._current_frames().get(thread)
    while frame is not None:
        if frame.f_code.co_name == "run_forever":
            loop = frame.f_locals.get("self")
            if isinstance(loop, asyncio.AbstractEventLoop) and not loop.is_closed():
                return loop
        frame = frame.f_back
    return None


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
    deadline = _Deadline(time_limit) if time_limit is not None else None
    try:
        try:
            report, _ = run_scenario(scenario, path=path)
        finally:
            if deadline is not None:
                deadline.disarm()
    except Exception as exc:
        if deadline is not None and deadline.fired:
            problem = f"no result within the time limit of {time_limit:g} s"
            row.update(status="timeout", exit_code=None, error_code="timeout", error=problem)
            return _done(row, start)
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
    document: Mapping[str, Any], path: str, chunk: Chunk, time_limit: float | None
) -> list[Row]:
    """Run several runs one after another (fewer round trips to the executor)."""
    return [run_one(document, path, i, dict(p), s, time_limit) for i, p, s in chunk]


def init_worker() -> None:
    """ProcessPoolExecutor initializer: Ctrl-C in the terminal reaches the whole process
    group; the parent handles it, so the workers ignore it."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)

"""Where the runs execute: in this process, on local worker processes, or on Dask.

Each executor takes the runs in chunks and yields each chunk's rows as it completes.
Closing the generator (the sweep is interrupted, or done) cancels what has not started.
A chunk the executor itself loses (a worker process died, a Dask worker left) comes back
as rows with status ``error`` and error code ``executor_error``, which a resume runs again.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import sys
import types
from collections.abc import Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Literal, TypeAlias

from .._errors import ConfigError
from .._log import get_logger
from ._worker import Chunk, Row, init_worker, run_chunk

__all__ = ["DASK_SWEEP_CONFIG", "EXECUTORS", "ExecutorName", "LocalPool", "chunked", "execute"]

_log = get_logger("mabeam.experiments")

ExecutorName: TypeAlias = Literal["local", "dask", "serial"]
EXECUTORS: tuple[str, ...] = ("local", "dask", "serial")

DASK_SWEEP_CONFIG: Mapping[str, object] = types.MappingProxyType(
    {
        # The statistical profiler samples every thread's stack every 10 ms.
        "distributed.worker.profile.enabled": False,
        # The event-loop health check ("unresponsive for N s" warnings) runs every 20 ms.
        "distributed.admin.tick.interval": "500ms",
        # The memory monitor (pause, spill, terminate) polls the process every 100 ms.
        "distributed.worker.memory.monitor-interval": "1s",
    }
)
"""Dask settings for a cluster kept for sweeps of short runs (see docs/experiments.md):
its housekeeping, less often. Set them where the cluster starts, e.g.
``with dask.config.set(DASK_SWEEP_CONFIG): LocalCluster(...)``."""


def chunked(runs: Chunk, workers: int, chunk_size: int | None = None) -> list[Chunk]:
    """Split runs into chunks: about 8 per worker, at most 32 runs each (progress stays live
    and Ctrl-C loses little, while each round trip to a worker carries several runs)."""
    if chunk_size is None:
        chunk_size = max(1, min(32, math.ceil(len(runs) / (workers * 8))))
    return [runs[i : i + chunk_size] for i in range(0, len(runs), chunk_size)]


def _lost(chunk: Chunk, exc: BaseException) -> list[Row]:
    problem = f"the executor lost this run: {type(exc).__name__}: {exc}"
    return [
        {
            "run": index,
            "seed": seed,
            "status": "error",
            "exit_code": None,
            "error_code": "executor_error",
            "error": problem,
            "report": None,
            "elapsed_ms": None,
        }
        for index, _, seed in chunk
    ]


def execute(
    executor: str | LocalPool,
    document: dict[str, Any],
    path: str,
    runs: Chunk,
    *,
    time_limit: float | None,
    workers: int | None = None,
    scheduler: Any = None,
    chunk_size: int | None = None,
) -> Iterator[list[Row]]:
    """Yield the rows of ``runs``, a chunk at a time, in completion order."""
    if executor == "serial":
        return _serial(document, path, runs, time_limit, chunk_size or 1)
    if isinstance(executor, LocalPool):
        return _local(document, path, runs, time_limit, executor, False, chunk_size)
    if executor == "local":
        if scheduler is not None:
            raise ConfigError("scheduler", "only used with executor 'dask'")
        pool = LocalPool(workers)
        return _local(document, path, runs, time_limit, pool, True, chunk_size)
    if executor == "dask":
        if scheduler is None:
            raise ConfigError("scheduler", "required with executor 'dask' (host:port)")
        return _dask(document, path, runs, time_limit, scheduler, chunk_size)
    raise ConfigError("executor", f"invalid value {executor!r}", allowed=", ".join(EXECUTORS))


def _serial(
    document: dict[str, Any], path: str, runs: Chunk, time_limit: float | None, size: int
) -> Iterator[list[Row]]:
    for chunk in chunked(runs, 1, size):
        # In the caller's process: its collector is left alone.
        yield run_chunk(document, path, chunk, time_limit, freeze_heap=False)


def _context() -> multiprocessing.context.BaseContext:
    """forkserver where there is one (workers fork from a server that imported mabeam and
    the protocols once, without this process's threads), else spawn."""
    if sys.platform != "win32" and "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["mabeam.experiments._preload"])
        return context
    return multiprocessing.get_context("spawn")


class LocalPool:
    """Worker processes kept across sweeps: ``with LocalPool(4) as pool: run_sweep(s,
    executor=pool)``. A sweep given ``executor="local"`` starts and stops its own."""

    def __init__(self, workers: int | None = None) -> None:
        count = (os.cpu_count() or 1) if workers is None else workers
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ConfigError("workers", f"must be an integer >= 1, got {workers!r}")
        self.workers = count
        self.executor = ProcessPoolExecutor(
            max_workers=count, mp_context=_context(), initializer=init_worker
        )

    def __enter__(self) -> LocalPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers (after the runs they have started)."""
        self.executor.shutdown(wait=True, cancel_futures=True)


def _local(
    document: dict[str, Any],
    path: str,
    runs: Chunk,
    time_limit: float | None,
    pool: LocalPool,
    own: bool,
    chunk_size: int | None,
) -> Iterator[list[Row]]:
    chunks = chunked(runs, pool.workers, chunk_size)
    executor = pool.executor
    pending: dict[Future[list[Row]], Chunk] = {}
    queue = iter(chunks)

    def submit(chunk: Chunk) -> None:
        pending[executor.submit(run_chunk, document, path, chunk, time_limit)] = chunk

    try:
        for chunk in list(itertools.islice(queue, pool.workers * 2)):
            submit(chunk)
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                chunk = pending.pop(future)
                try:
                    rows = future.result()
                except Exception as exc:  # BrokenProcessPool: a worker died
                    _log.warning("sweep_chunk_lost", runs=len(chunk), error=repr(exc))
                    rows = _lost(chunk, exc)
                yield rows
                following = next(queue, None)
                if following is not None:
                    try:
                        submit(following)
                    except Exception as exc:  # the pool broke: the rest is lost, resumable
                        for lost in (following, *queue):
                            yield _lost(lost, exc)
    finally:
        # Interrupted or done: drop what has not started; a started run ends by itself
        # (bounded by the time limit) and its worker exits after it.
        for future in pending:
            future.cancel()
        if own:
            executor.shutdown(wait=not pending, cancel_futures=True)


def _dask(
    document: dict[str, Any],
    path: str,
    runs: Chunk,
    time_limit: float | None,
    scheduler: Any,
    chunk_size: int | None,
) -> Iterator[list[Row]]:
    try:
        from distributed import Client, as_completed
    except ImportError as exc:  # pragma: no cover - the dev extra installs it
        raise ConfigError(
            "executor", "'dask' needs Dask: pip install 'mabeam[dask]'", allowed="local, serial"
        ) from exc
    own = not isinstance(scheduler, Client)
    client = Client(scheduler) if own else scheduler  # type: ignore[no-untyped-call]
    futures: dict[Any, Chunk] = {}
    try:
        threads = sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values())
        chunks = chunked(runs, max(1, threads), chunk_size)
        # One graph update for all the chunks: a submit per chunk costs the scheduler (in
        # the process of a LocalCluster) an update each. The chunks still start in run
        # order. The scenario document travels with each chunk, as plain data.
        count = len(chunks)
        submitted = client.map(
            run_chunk,
            [document] * count,
            [path] * count,
            chunks,
            [time_limit] * count,
            pure=False,
        )
        futures.update(zip(submitted, chunks, strict=True))
        for future in as_completed(submitted):  # type: ignore[no-untyped-call]
            chunk = futures.pop(future)
            try:
                rows = future.result()
            except Exception as exc:  # a worker died or left with the task
                _log.warning("sweep_chunk_lost", runs=len(chunk), error=repr(exc))
                rows = _lost(chunk, exc)
            yield rows
    finally:
        if futures:
            client.cancel(list(futures))
        if own:
            client.close()

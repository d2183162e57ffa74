"""Running a sweep: the journal that makes it resumable, the progress bar, the tables.

With an output directory, every finished run is appended to ``runs.jsonl`` as soon as it
comes back (one JSON object per line, flushed). A sweep started again on the same
directory reads it and runs only what is missing, so an interrupted sweep (Ctrl-C, a
lost machine) goes on where it stopped, and the final tables are the same as if it had
never stopped. ``sweep.json`` records which scenario the directory belongs to.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import msgspec

from .._errors import ConfigError
from .._log import get_logger
from ._executors import LocalPool, execute
from ._spec import Run, Sweep
from ._worker import Row

__all__ = ["SweepResult", "run_sweep"]

_log = get_logger("mabeam.experiments")

JOURNAL = "runs.jsonl"
META = "sweep.json"
FAILED = ("error", "timeout", "invalid")
"""Statuses counted as failed runs (``not_ok`` is an outcome: no agreement)."""


@dataclass
class SweepResult:
    """What a sweep produced: rows in run order (finished runs only if interrupted)."""

    sweep: Sweep
    rows: list[Row]
    interrupted: bool = False
    resumed: int = 0
    """Rows taken from the output directory's journal instead of being run again."""
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Every run of the sweep has a row."""
        return len(self.rows) == self.sweep.total

    @property
    def failed(self) -> int:
        """Runs that errored, timed out or were invalid."""
        return sum(row["status"] in FAILED for row in self.rows)

    @property
    def params(self) -> list[str]:
        """The swept settings, in grid order."""
        return list(self.sweep.settings)

    def table(self) -> Any:
        """The results as a polars DataFrame, one row per run."""
        from ._table import results_frame

        return results_frame(self.rows, self.params)

    def summary(self) -> Any:
        """Count, ok rate, failures, means and percentiles per combination (polars)."""
        from ._table import summary_frame

        return summary_frame(self.table(), self.params)

    def write(self, out: str | os.PathLike[str]) -> dict[str, Path]:
        """Write ``results.csv``, ``results.parquet``, ``summary.csv`` and
        ``summary.parquet`` into the directory ``out``."""
        directory = Path(out)
        directory.mkdir(parents=True, exist_ok=True)
        table = self.table()
        summary = self.summary() if self.rows else None
        files = {
            "results.csv": directory / "results.csv",
            "results.parquet": directory / "results.parquet",
        }
        table.write_csv(files["results.csv"])
        table.write_parquet(files["results.parquet"])
        if summary is not None:
            files["summary.csv"] = directory / "summary.csv"
            files["summary.parquet"] = directory / "summary.parquet"
            summary.write_csv(files["summary.csv"])
            summary.write_parquet(files["summary.parquet"])
        self.files.update(files)
        return files

    def plot(
        self, field: str, against: str | None = None, path: str | os.PathLike[str] = "plot.png"
    ) -> Path:
        """A PNG of ``field`` against a swept setting (default: the first); needs the
        ``plot`` extra (matplotlib)."""
        from ._table import plot

        if against is None:
            if not self.params:
                raise ConfigError("against", "the sweep has no swept setting to plot against")
            against = self.params[0]
        written = plot(self.table(), self.params, field, against, Path(path))
        self.files[written.name] = written
        return written


@contextmanager
def _ctrl_c_after() -> Iterator[None]:
    """Hold a Ctrl-C that comes inside the block until the block ends, then raise it.

    Filing a finished row (in the rows kept for the tables, and in the journal) must not
    stop halfway: the tables would hold a row the journal does not, or the other way
    round. Only where Ctrl-C raises KeyboardInterrupt (Python's own handler, in the
    main thread); any other handler is left as it is.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    held: list[int] = []
    signal.signal(signal.SIGINT, lambda number, frame: held.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if held:
        raise KeyboardInterrupt


class _Journal:
    """``runs.jsonl`` in the output directory: read what is done, append what finishes."""

    def __init__(self, directory: Path, sweep: Sweep) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        meta_path, self.path = directory / META, directory / JOURNAL
        meta = {"scenario": sweep.path, "fingerprint": sweep.fingerprint}
        if meta_path.exists():
            try:
                known = msgspec.json.decode(meta_path.read_bytes())
            except msgspec.DecodeError as exc:
                raise ConfigError("out", f"{meta_path} is not a sweep record: {exc}") from exc
            if not isinstance(known, dict) or known.get("fingerprint") != sweep.fingerprint:
                problem = (
                    f"{directory} holds the results of another scenario "
                    f"({known.get('scenario') if isinstance(known, dict) else '?'}); "
                    "choose another output directory or remove it"
                )
                raise ConfigError("out", problem)
        else:
            meta_path.write_bytes(msgspec.json.encode(meta) + b"\n")
        self.done: dict[str, Row] = {}
        self._read()
        self._file: IO[bytes] = self.path.open("ab")

    def _read(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        good = 0
        for line in data.splitlines(keepends=True):
            try:
                row = msgspec.json.decode(line)
            except msgspec.DecodeError:
                break  # a line cut short by a kill: dropped, its run runs again
            if not line.endswith(b"\n"):
                break
            good += len(line)
            if isinstance(row, dict) and row.get("error_code") != "executor_error":
                self.done[row["key"]] = row
        if good != len(data):
            with self.path.open("r+b") as file:
                file.truncate(good)

    def append(self, row: Row) -> None:
        self._file.write(msgspec.json.encode(row) + b"\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class _Progress:
    """runs done, failed and ETA on stderr (tqdm), only on a terminal and unless quiet."""

    def __init__(self, total: int, initial: int, failed: int, enabled: bool | None) -> None:
        if enabled is None:
            enabled = sys.stderr.isatty()
        self._bar: Any = None
        self.failed = failed
        if enabled:
            try:
                from tqdm import tqdm  # type: ignore[import-untyped]
            except ModuleNotFoundError:  # pragma: no cover - mabeam[experiments] brings it
                return  # a progress bar is a nicety: no tqdm, no bar
            self._bar = tqdm(
                total=total, initial=initial, unit="run", file=sys.stderr, dynamic_ncols=True
            )
            self._bar.set_postfix(failed=failed, refresh=False)

    def update(self, rows: list[Row]) -> None:
        self.failed += sum(row["status"] in FAILED for row in rows)
        if self._bar is not None:
            self._bar.set_postfix(failed=self.failed, refresh=False)
            self._bar.update(len(rows))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def run_sweep(
    sweep: Sweep,
    *,
    out: str | os.PathLike[str] | None = None,
    executor: str | LocalPool = "local",
    workers: int | None = None,
    scheduler: Any = None,
    progress: bool | None = False,
    chunk_size: int | None = None,
    on_rows: Callable[[list[Row]], None] | None = None,
) -> SweepResult:
    """Run every run of ``sweep`` and return the rows (and write the tables to ``out``).

    ``executor``: ``local`` (worker processes, ``workers`` of them, default all cores;
    or a :class:`LocalPool` to keep its workers across sweeps),
    ``dask`` (``scheduler``: an address such as ``tcp://host:8786``, or a
    ``distributed.Client``) or ``serial`` (in this process). ``out``: a directory for
    the journal and tables; an existing one is resumed. ``progress``: a bar on stderr
    (None: when stderr is a terminal). ``on_rows`` is called with each batch of
    finished rows. Ctrl-C (KeyboardInterrupt) stops the sweep: the rows so far are kept
    (and written) and the result says ``interrupted``.
    """
    runs = sweep.runs()
    journal = _Journal(Path(out), sweep) if out is not None else None
    by_index: dict[int, Row] = {}
    todo: list[Run] = []
    for run in runs:
        known = journal.done.get(run.key) if journal is not None else None
        if known is not None:
            by_index[run.index] = {**known, "run": run.index}
        else:
            todo.append(run)
    resumed = len(by_index)
    if resumed:
        _log.info("sweep_resumed", done=resumed, remaining=len(todo))
    meta = {run.index: run for run in todo}
    bar = _Progress(
        len(runs), resumed, sum(r["status"] in FAILED for r in by_index.values()), progress
    )
    interrupted = False
    try:
        batches = execute(
            executor,
            sweep.document,
            sweep.path,
            [(run.index, run.params, run.seed) for run in todo],
            time_limit=sweep.time_limit,
            workers=workers,
            scheduler=scheduler,
            chunk_size=chunk_size,
        )
        try:
            for rows in batches:
                finished = []
                with _ctrl_c_after():  # each row filed in both places, or in neither
                    for row in rows:
                        run = meta[row["run"]]
                        full = {"key": run.key, "run": run.index, "params": run.params, **row}
                        by_index[run.index] = full
                        if journal is not None:
                            journal.append(full)
                        finished.append(full)
                bar.update(finished)
                if on_rows is not None:
                    on_rows(finished)
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()
    except KeyboardInterrupt:
        interrupted = True
        _log.warning("sweep_interrupted", done=len(by_index), total=len(runs))
    finally:
        bar.close()
        if journal is not None:
            journal.close()
    result = SweepResult(sweep, [by_index[i] for i in sorted(by_index)], interrupted, resumed)
    if out is not None:
        result.write(out)
    return result

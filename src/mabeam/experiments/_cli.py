"""``mabeam sweep FILE --seeds 0..999 --set KEY=V1,V2 ... [--out DIR]``.

Exit codes: 0 every run finished (whatever its outcome); 1 some run errored or timed
out (its row says why, the others are kept); 2 the sweep or a combination is invalid
(one line on stderr naming the field); 130 interrupted (the rows so far are written,
and the same command resumes).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .._errors import ConfigError
from ._executors import EXECUTORS
from ._spec import Sweep, parse_seeds, parse_values
from ._sweep import SweepResult, run_sweep

__all__ = ["add_parser", "main"]


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Register ``sweep`` on the CLI's subparsers; returns its parser."""
    sweep: argparse.ArgumentParser = commands.add_parser(
        "sweep",
        help="run a scenario over seeds and settings (local cores or a Dask cluster)",
        description="Run FILE for every combination of --set values times every seed.",
    )
    sweep.add_argument("file", type=Path, help="scenario file (.toml or .json)")
    sweep.add_argument("--seeds", default=None, help="e.g. 0..999 (inclusive) or 1,5,9")
    sweep.add_argument(
        "--set",
        action="append",
        default=[],
        dest="settings",
        metavar="KEY=V1,V2",
        help="sweep a setting, e.g. network.drop_rate=0,0.1 or agents.seller.strategy=boulware",
    )
    sweep.add_argument("--out", type=Path, default=None, help="output directory (resumable)")
    sweep.add_argument("--executor", choices=EXECUTORS, default="local")
    sweep.add_argument("--workers", type=int, default=None, help="local processes (all cores)")
    sweep.add_argument("--scheduler", default=None, help="Dask scheduler address (host:port)")
    sweep.add_argument("--time-limit", type=float, default=None, help="wall seconds per run")
    sweep.add_argument("--plot", default=None, metavar="FIELD", help="plot FIELD (needs [plot])")
    sweep.add_argument("--against", default=None, help="the setting --plot uses as x axis")
    shown = sweep.add_mutually_exclusive_group()
    shown.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    shown.add_argument(
        "--progress", action="store_true", help="a progress bar even when stderr is no terminal"
    )
    return sweep


def _settings(pairs: list[str]) -> dict[str, list[Any]]:
    grid: dict[str, list[Any]] = {}
    for pair in pairs:
        key, sep, values = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError("--set", f"expected KEY=V1,V2,..., got {pair!r}")
        grid[key.strip()] = parse_values(values)
    return grid


def main(args: argparse.Namespace) -> int:
    """Run the sweep the parsed arguments describe; print where the tables went."""
    try:
        if args.plot is None and args.against is not None:
            raise ConfigError("--against", "only used with --plot")
        limit = args.time_limit
        if limit is not None and not limit > 0:
            raise ConfigError("--time-limit", f"must be a number of seconds > 0, got {limit:g}")
        sweep = Sweep(
            args.file,
            seeds=None if args.seeds is None else parse_seeds(args.seeds, where="--seeds"),
            grid=_settings(args.settings),
            time_limit=args.time_limit,
        )
        out = args.out if args.out is not None else Path(f"{Path(args.file).stem}.sweep")
        result = run_sweep(
            sweep,
            out=out,
            executor=args.executor,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=True if args.progress else False if args.quiet else None,
        )
        if args.plot is not None:
            result.plot(args.plot, args.against, out / f"plot-{args.plot}.png")
    except ConfigError as exc:
        sys.stderr.write(f"mabeam: error: {exc}\n")
        return 2
    sys.stdout.write(_report(result) + "\n")
    if result.interrupted:
        return 130
    return 1 if result.failed else 0


def _report(result: SweepResult) -> str:
    done = len(result.rows)
    lines = [
        f"sweep: {done} of {result.sweep.total} runs"
        + (f" ({result.resumed} from an earlier run)" if result.resumed else "")
        + (", interrupted: run the same command to resume" if result.interrupted else "")
        + (f", {result.failed} failed" if result.failed else "")
    ]
    if result.rows:
        summary = result.summary()
        keys = [*result.params, "count", "ok_rate", "failed"]
        for record in summary.select(keys).iter_rows(named=True):
            shown = ", ".join(
                f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()
            )
            lines.append(f"  {shown}")
    lines.extend(f"wrote {path}" for path in result.files.values())
    return "\n".join(lines)

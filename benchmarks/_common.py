"""What the benchmark suites share: logging set-up, timing, figures, ratios and targets."""

from __future__ import annotations

import gc
import logging
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any, Literal, TypeAlias

import structlog

Json: TypeAlias = dict[str, Any]
"""A JSON object as the suites build it."""

REPEATS = 3
"""Each timed measurement runs this many times; the best (shortest) run is reported."""

QUICK_DIVISOR = 100
"""``--quick`` divides every count by this."""


def configure_logging() -> None:
    """Drop structlog events below WARNING cheaply, as an application would configure it.

    The library never configures structlog; without this, every debug event it emits
    would be formatted and printed, and the benchmark would measure the console.
    """
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        cache_logger_on_first_use=True,
    )


def progress(message: str) -> None:
    """One line of progress on stderr (stdout carries only the JSON document)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def environment() -> tuple[str, Json]:
    """The ``python`` and ``machine`` fields of the report."""
    python = f"{platform.python_implementation()} {platform.python_version()}"
    machine: Json = {
        "platform": platform.platform(),
        "arch": platform.machine(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or None,
    }
    return python, machine


def scaled(count: int, quick: bool) -> int:
    """``count``, or ``count / QUICK_DIVISOR`` (at least 1) for a quick smoke run."""
    return max(1, count // QUICK_DIVISOR) if quick else count


Figures: TypeAlias = dict[str, float]
"""What one run of a sample measured: seconds per named phase (e.g. spawn, shutdown)."""


def best_of_rounds(
    samples: dict[str, Callable[[], Figures]], repeats: int = REPEATS, *, label: str
) -> dict[str, Figures]:
    """Run each sample ``repeats`` times, interleaved round by round; keep each figure's min.

    A sample times itself (so set-up and tear-down stay out of its figures). Interleaving
    spreads the slow spells of a busy 2-core machine across all contenders instead of
    penalising whichever one ran during them.
    """
    best: dict[str, Figures] = {}
    for round_no in range(1, repeats + 1):
        for name, sample in samples.items():
            gc.collect()
            figures = sample()
            shown = ", ".join(f"{k} {v:.4f} s" for k, v in figures.items())
            progress(f"{label}: {name} round {round_no}/{repeats}: {shown}")
            kept = best.setdefault(name, dict(figures))
            for key, seconds in figures.items():
                kept[key] = min(kept[key], seconds)
    return best


def timer() -> float:
    """The clock the suites time with."""
    return time.perf_counter()


def throughput(count: int, seconds: float) -> Json:
    """Raw figures for something that moves ``count`` items in ``seconds``."""
    return {
        "count": count,
        "seconds": round(seconds, 6),
        "per_second": round(count / seconds, 1),
    }


def latency(count: int, seconds: float) -> Json:
    """Raw figures for ``count`` sequential operations that took ``seconds`` in all."""
    return {
        "count": count,
        "seconds": round(seconds, 6),
        "us_per_op": round(seconds / count * 1e6, 3),
        "per_second": round(count / seconds, 1),
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator`` to 3 decimals, or None when either is missing."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return round(numerator / denominator, 3)


Op = Literal[">=", "<="]


def check(what: str, value: float | None, op: Op, bound: float) -> Json:
    """One target: ``met`` is None when ``value`` could not be measured (e.g. no Pykka)."""
    met: bool | None = None
    if value is not None:
        met = value >= bound if op == ">=" else value <= bound
    return {"what": what, "value": value, "target": f"{op} {bound:g}", "met": met}


def verdict(checks: list[Json]) -> Json:
    """The ``target`` / ``met`` pair of a measurement, from its checks.

    ``met`` is True when every check that could be evaluated is met; a check that could
    not (its contender is missing) is listed with ``met: null`` and does not count.
    """
    evaluated = [c["met"] for c in checks if c["met"] is not None]
    return {
        "target": " and ".join(f"{c['what']} {c['target']}" for c in checks),
        "met": bool(evaluated) and all(evaluated),
        "checks": checks,
    }

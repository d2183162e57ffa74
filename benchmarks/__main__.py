"""``python -m benchmarks [--suite NAME ...] [--quick]``: one JSON document on stdout.

Progress goes to stderr. To add a suite, write a module with ``run(quick: bool) -> dict``
and register it in :data:`SUITES`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from . import (
    auction,
    bargaining,
    chain,
    conflict,
    consensus,
    experiments,
    hierarchy,
    market,
    nats,
    pbft,
    runtime,
    sim,
    supervision,
)
from ._common import QUICK_DIVISOR, Json, configure_logging, environment, progress

SUITES: dict[str, Callable[[bool], Json]] = {
    "runtime": runtime.run,
    "sim": sim.run,
    "hierarchy": hierarchy.run,
    "consensus": consensus.run,
    "conflict": conflict.run,
    "auction": auction.run,
    "bargaining": bargaining.run,
    "market": market.run,
    "pbft": pbft.run,
    "chain": chain.run,
    "supervision": supervision.run,
    "experiments": experiments.run,
    "nats": nats.run,
}
"""Every suite by name, run in this order when no ``--suite`` is given."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run the mabeam benchmarks and print one JSON document on stdout.",
    )
    parser.add_argument(
        "--suite",
        action="append",
        dest="suites",
        choices=list(SUITES),
        metavar="NAME",
        help=f"run this suite (repeatable; default: all). Suites: {', '.join(SUITES)}",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"divide every count by {QUICK_DIVISOR}: a smoke test that runs in seconds",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging()
    selected = list(dict.fromkeys(args.suites or SUITES))
    python, machine = environment()
    suites: Json = {}
    for name in selected:
        progress(f"suite {name}{' (quick)' if args.quick else ''}")
        suites[name] = SUITES[name](args.quick)
    document: Json = {
        "python": python,
        "machine": machine,
        "quick": args.quick,
        "suites": suites,
    }
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

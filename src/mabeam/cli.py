"""The ``mabeam`` command line: ``mabeam run FILE [--json] [--seed N] [--trace FILE]``.

Exit codes (SCENARIOS.md): 0 an outcome was reached; 1 the protocol ended without
agreement; 2 the scenario (or the command line) is invalid — one line on stderr naming
the file, the field and what was expected, no traceback, no actor spawned.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any, NoReturn

import msgspec
import structlog

from ._errors import ScenarioError
from .experiments import _cli as experiments
from .scenario import RunReport, load_scenario, run_scenario


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"mabeam: error: {message}\n")


def _configure_logging(verbose: bool) -> None:
    """Logs go to stderr, so stdout carries only the result."""
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.DEBUG if verbose else logging.CRITICAL
        ),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        # No cache_logger_on_first_use: main() may run inside a host process (tests),
        # whose loggers must not stay bound to this configuration afterwards.
    )


def _summary(report: RunReport) -> str:
    lines = [f"scenario: {report.scenario}  (protocol {report.protocol}, seed {report.seed})"]
    if report.ok:
        lines.append("outcome: ok")
    elif report.error is not None:
        lines.append(f"outcome: {report.error.code}: {report.error.message}")
    if report.result is not None:
        lines.append("result:")
        for key, value in _items(report.result):
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                # Records (e.g. conflict resolutions): one line each.
                lines.append(f"  {key}:")
                lines.extend(f"    - {_short(record, limit=600)}" for record in value)
            else:
                lines.append(f"  {key}: {_short(value)}")
    stats = report.stats
    lines.append(
        f"messages: {stats.messages_sent} sent, {stats.messages_delivered} delivered, "
        f"{stats.messages_dropped} dropped; {stats.virtual_ms:g} virtual ms "
        f"in {stats.wall_ms:g} wall ms"
    )
    return "\n".join(lines)


def _items(result: Any) -> list[tuple[str, Any]]:
    if isinstance(result, dict):
        return list(result.items())
    return [("value", result)]


def _short(value: Any, limit: int = 200) -> str:
    text = msgspec.json.encode(value).decode()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _run(args: argparse.Namespace) -> int:
    path = str(args.file)
    try:
        scenario = load_scenario(path, seed=args.seed)
        report, network = run_scenario(scenario, path=path)
    except ScenarioError as exc:
        print(f"mabeam: error: {exc}", file=sys.stderr)
        return 2
    if args.trace is not None and network.trace is not None:
        with Path(args.trace).open("wb") as out:
            network.trace.write_jsonl(out)
    if args.mermaid is not None and network.trace is not None:
        Path(args.mermaid).write_text(network.trace.to_mermaid())
    if args.json:
        sys.stdout.write(msgspec.json.encode(report).decode() + "\n")
    else:
        print(_summary(report))
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mabeam`` console script."""
    parser = _Parser(prog="mabeam", description="mabeam: multi-agent coordination on actors")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a scenario file on the simulated network")
    run.add_argument("file", type=Path, help="scenario file (.toml or .json)")
    run.add_argument("--json", action="store_true", help="print one JSON document")
    run.add_argument("--seed", type=int, default=None, help="override the scenario's seed")
    run.add_argument("--trace", type=Path, default=None, help="write the trace as JSON lines")
    run.add_argument("--mermaid", type=Path, default=None, help="write a Mermaid diagram")
    run.add_argument("-v", "--verbose", action="store_true", help="log runtime events")
    experiments.add_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "sweep":
        return experiments.main(args)
    _configure_logging(args.verbose)
    if args.command == "run":
        return _run(args)
    parser.error(f"unknown command {args.command!r}")


if __name__ == "__main__":
    sys.exit(main())

"""The ``mabeam`` command line (also ``python -m mabeam``).

Commands, one function each (``_add_<name>`` declares it, ``_cmd_<name>`` runs it)::

    mabeam run FILE|- [--format toml|json] [--json] [--seed N] [--trace F] [--mermaid F]
                      [--timeline F] [--plot F.png|F.svg] [--report F.html]
                      [--time-limit SECONDS] [--quiet] [-v]
    mabeam run FILE --processes N [--nats URL] [--json] [--seed N] [-v]
    mabeam check FILE|- [--format toml|json]
    mabeam schema
    mabeam sweep FILE [--seeds 0..999] [--set KEY=V1,V2 ...] [--out DIR] [--executor ...]
    mabeam node --name N [--nats URL ...] [--allow module.Class ...] [--heartbeat S]
                [--down-after S] [--prefix P] [-v]
    mabeam --version

Exit codes: 0 an outcome was reached (``check``: the file is valid); 1 the protocol
ended without agreement; 2 the scenario, an output path or the command line is invalid
(one line on stderr naming the file, the field and what was expected; no traceback, no
actor spawned); 3 ``--time-limit`` ran out (the line says where the run was);
130 interrupted by Ctrl-C. After 3 and 130 the trace recorded so far is still written.
``node`` runs until SIGTERM or SIGINT and then exits 0 (1: the NATS server cannot be
reached; 2: a bad flag, such as an ``--allow`` class that cannot be imported).

Start-up matters for a command: this module imports only the standard library at the
top; each command imports what it uses (``rich`` only once a progress display starts).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from . import __version__
from .viz import _cli as viz

if TYPE_CHECKING:
    from .scenario import RunMonitor, RunReport, RunStatus, Scenario
    from .sim import SimNetwork

EXIT_OK = 0
EXIT_NO_AGREEMENT = 1
EXIT_INVALID = 2
EXIT_TIME_LIMIT = 3
EXIT_INTERRUPTED = 130

EXIT_CODES = f"""exit codes:
  {EXIT_OK}    an outcome was reached (check: the scenario is valid)
  {EXIT_NO_AGREEMENT}    the protocol ended without agreement
  {EXIT_INVALID}    invalid scenario, output path or command line (one line on stderr)
  {EXIT_TIME_LIMIT}    --time-limit ran out (the line says where the run was)
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)"""

PROGRESS_AFTER_S = 1.0
"""Runs shorter than this show no progress display."""
LIST_SHOWN = 20
"""Items of a long list the summary shows before saying how many more there are."""

_Format = Literal["toml", "json"]
_Command = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INVALID, f"mabeam: error: {message}\n")


class _Failure(Exception):
    """A command-line problem: printed as one line, exit 2."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mabeam`` console script and ``python -m mabeam``."""
    args = build_parser().parse_args(argv)
    handler: _Command = args.handler
    try:
        return handler(args)
    except _Failure as exc:
        print(f"mabeam: error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("mabeam: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def build_parser() -> argparse.ArgumentParser:
    """The parser with every command; a new command is one more ``_add_*`` here."""
    parser = _Parser(
        prog="mabeam",
        description="mabeam: multi-agent coordination on actors",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mabeam {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_run, _add_check, _add_schema, _add_sweep, _add_node):
        add(commands)
    return parser


def _subparser(
    commands: argparse._SubParsersAction[Any], name: str, handler: _Command, help_text: str
) -> argparse.ArgumentParser:
    sub: argparse.ArgumentParser = commands.add_parser(name, help=help_text, description=help_text)
    sub.set_defaults(handler=handler)
    return sub


def _add_scenario_input(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="scenario file (.toml or .json), or - for standard input")
    parser.add_argument(
        "--format",
        choices=("toml", "json"),
        default=None,
        help="the file's format (default: its extension; toml for standard input)",
    )


# ---------------------------------------------------------------- mabeam run


def _add_run(commands: argparse._SubParsersAction[Any]) -> None:
    run = _subparser(commands, "run", _cmd_run, "run a scenario on the simulated network")
    run.epilog, run.formatter_class = EXIT_CODES, argparse.RawDescriptionHelpFormatter
    _add_scenario_input(run)
    run.add_argument("--json", action="store_true", help="print one JSON document")
    run.add_argument("--seed", type=int, default=None, help="override the scenario's seed")
    run.add_argument("--trace", type=Path, default=None, help="write the trace as JSON lines")
    run.add_argument("--mermaid", type=Path, default=None, help="write a Mermaid diagram")
    viz.add_arguments(run)
    run.add_argument(
        "--time-limit",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help=f"stop a run that takes longer in wall time (exit {EXIT_TIME_LIMIT})",
    )
    run.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    run.add_argument("-v", "--verbose", action="store_true", help="log runtime events")
    run.add_argument(
        "--processes",
        type=_count,
        default=None,
        metavar="N",
        help="run the agents on N local node processes over NATS, in REAL TIME (not on the "
        f"simulated network): kinds {_DISTRIBUTED_KINDS}; no faults",
    )
    run.add_argument(
        "--nats",
        default=None,
        metavar="URL",
        help="with --processes: the NATS server to use (default: start a local nats-server)",
    )


_DISTRIBUTED_KINDS = "auction, bargaining, market, consensus (voting algorithms)"
_NOT_DISTRIBUTED = ("--trace", "--mermaid", "--timeline", "--plot", "--report", "--time-limit")
"""Outputs of the simulated network (and its monitor) that a run over processes lacks."""


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def _cmd_run(args: argparse.Namespace) -> int:
    _configure_logging(args.verbose)
    from .scenario import RunMonitor, RunStopped

    if args.processes is not None:
        return _run_processes(args)
    if args.nats is not None:
        raise _Failure("--nats: only with --processes N")
    if (problem := viz.check_arguments(args)) is not None:
        raise _Failure(problem)
    scenario, path = _load(args.file, args.format, args.seed)
    outputs = _outputs(args)  # checked before any actor starts
    for flag in ("--timeline", "--plot", "--report"):
        if (picture := getattr(args, flag[2:])) is not None:
            _check_writable(flag, picture)
    monitor = RunMonitor()
    with monitor.time_limit(args.time_limit), _progress(monitor, enabled=not args.quiet):
        try:
            report, network = _run_checked(scenario, path, monitor)
        except RunStopped as stopped:
            _write_outputs(outputs, stopped.network)
            print(_stopped_line(stopped.reason, stopped.status, args, outputs), file=sys.stderr)
            return EXIT_TIME_LIMIT if stopped.reason == "time_limit" else EXIT_INTERRUPTED
    _write_outputs(outputs, network)
    viz.write_outputs(args, report, network)
    if args.json:
        import msgspec

        sys.stdout.write(msgspec.json.encode(report).decode() + "\n")
    else:
        print(summary(report, scenario, network))
    return EXIT_OK if report.ok else EXIT_NO_AGREEMENT


def _run_processes(args: argparse.Namespace) -> int:
    """``run --processes N``: the coordinator here, the agents on N ``mabeam node``
    processes, over a nats-server this command starts (or ``--nats``), in real time."""
    from ._errors import NatsServerNotFoundError, NodeDownError, ScenarioError
    from .scenario._distributed import check_distributable, run_distributed

    for flag in _NOT_DISTRIBUTED:
        if getattr(args, flag[2:].replace("-", "_")) is not None:
            raise _Failure(f"{flag}: not available with --processes (no simulated network)")
    scenario, path = _load(args.file, args.format, args.seed)
    try:
        check_distributable(scenario, path)
    except ScenarioError as exc:
        raise _Failure(str(exc)) from None
    prefix = f"run{os.getpid()}"
    names = [f"node{i}" for i in range(1, args.processes + 1)]
    with contextlib.ExitStack() as stack:
        url = args.nats
        if url is None:
            from .transport._server import NatsServer

            try:
                url = stack.enter_context(NatsServer()).url
            except NatsServerNotFoundError as exc:
                raise _Failure(f"--processes: {exc}") from None
        nodes = stack.enter_context(_node_processes(names, url, prefix, verbose=args.verbose))
        try:
            report = run_distributed(scenario, [url], names, prefix=prefix, path=path)
        except NodeDownError as exc:
            print(f"mabeam: error: {exc}{nodes.failures()}", file=sys.stderr)
            return EXIT_NO_AGREEMENT
    if args.json:
        import msgspec

        sys.stdout.write(msgspec.json.encode(report).decode() + "\n")
    else:
        print(_processes_summary(report, scenario, args.processes))
    return EXIT_OK if report.ok else EXIT_NO_AGREEMENT


class _Nodes:
    """The ``mabeam node`` children of ``run --processes`` and their stderr files."""

    def __init__(self) -> None:
        self.children: list[tuple[str, Any, Any]] = []  # (name, Popen, stderr file)

    def failures(self) -> str:
        """What the nodes that already exited said last, for the error line."""
        said = []
        for name, process, log in self.children:
            if process.poll() is not None:
                log.seek(0)
                lines = log.read().decode(errors="replace").strip().splitlines()
                last = lines[-1] if lines else ""
                said.append(f"; {name} exited {process.returncode}: {last}")
        return "".join(said)


@contextmanager
def _node_processes(names: list[str], url: str, prefix: str, *, verbose: bool) -> Iterator[_Nodes]:
    """Start one ``mabeam node`` per name; SIGTERM them at the end (SIGKILL after 10 s)."""
    import subprocess
    import tempfile

    from .scenario._distributed import agent_classes

    allow = [
        arg for c in agent_classes() for arg in ("--allow", f"{c.__module__}:{c.__qualname__}")
    ]
    nodes = _Nodes()
    with contextlib.ExitStack() as files:
        try:
            for name in names:
                log = files.enter_context(tempfile.TemporaryFile())
                command = [sys.executable, "-m", "mabeam", "node", "--name", name, "--nats", url]
                command += ["--prefix", prefix, "--heartbeat", "0.5", "--down-after", "5"]
                command += [*allow, "-v"] if verbose else allow
                process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=None if verbose else log,
                )
                nodes.children.append((name, process, log))
            yield nodes
        finally:
            for _, process, _ in nodes.children:
                if process.poll() is None:
                    process.terminate()
            for _, process, _ in nodes.children:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _processes_summary(report: RunReport, scenario: Scenario, processes: int) -> str:
    """The summary of a run over processes: as ``run``'s, with the real-time line in
    place of the simulated network's message counts."""
    from .sim import SimNetwork

    lines = summary(report, scenario, SimNetwork()).splitlines()
    where = next(i for i, line in enumerate(lines) if line.startswith("messages: "))
    lines[where:] = [
        f"ran over NATS on {processes} node process{'' if processes == 1 else 'es'}, "
        f"in real time: "
        f"{report.stats.wall_ms:g} wall ms (messages are not counted across processes)"
    ]
    return "\n".join(lines)


def _run_checked(
    scenario: Scenario, path: str, monitor: RunMonitor
) -> tuple[RunReport, SimNetwork]:
    from ._errors import ScenarioError
    from .scenario import run_scenario

    try:
        return run_scenario(scenario, path=path, monitor=monitor)
    except ScenarioError as exc:
        raise _Failure(str(exc)) from None


def _stopped_line(
    reason: str, status: RunStatus | None, args: argparse.Namespace, outputs: dict[str, Path]
) -> str:
    what = (
        f"time limit of {args.time_limit:g} s reached" if reason == "time_limit" else "interrupted"
    )
    where = "before the run started"
    if status is not None:
        where = (
            f"at virtual time {status.virtual_ms:g} ms after {status.messages_sent} messages "
            f"({status.messages_delivered} delivered, {status.messages_dropped} dropped, "
            f"{status.in_flight} in flight)"
        )
    written = f"; {', '.join(map(str, outputs.values()))} written so far" if outputs else ""
    return f"mabeam: {what} {where}, no outcome{written}"


# ---------------------------------------------------------------- mabeam check


def _add_check(commands: argparse._SubParsersAction[Any]) -> None:
    check = _subparser(commands, "check", _cmd_check, "validate a scenario without running it")
    _add_scenario_input(check)


def _cmd_check(args: argparse.Namespace) -> int:
    scenario, path = _load(args.file, args.format, None)
    agents = len(scenario.agents)
    kind = type(scenario.protocol).__struct_config__.tag
    print(f"{path}: ok ({kind}, {agents} agent{'s' if agents != 1 else ''})")
    return EXIT_OK


# ---------------------------------------------------------------- mabeam schema


def _add_schema(commands: argparse._SubParsersAction[Any]) -> None:
    _subparser(commands, "schema", _cmd_schema, "print the JSON Schema of scenario files")


def _cmd_schema(args: argparse.Namespace) -> int:
    from .scenario import json_schema

    sys.stdout.write(json_schema())
    return EXIT_OK


# ---------------------------------------------------------------- mabeam sweep


def _add_sweep(commands: argparse._SubParsersAction[Any]) -> None:
    from .experiments import _cli as experiments

    experiments.add_parser(commands).set_defaults(handler=experiments.main)


# ---------------------------------------------------------------- mabeam node

NODE_READY = "ready"
"""The first word of the line ``mabeam node`` prints on stdout once it is up."""


def _add_node(commands: argparse._SubParsersAction[Any]) -> None:
    node = _subparser(
        commands,
        "node",
        _cmd_node,
        "run a node of a NATS cluster (an actor system other nodes can start allowed actors "
        "on) until SIGTERM or Ctrl-C",
    )
    node.epilog = (
        "It prints one line starting with 'ready' on stdout once it is connected, logs to "
        "stderr, and exits 0 after SIGTERM or SIGINT (1: the NATS server cannot be reached; "
        "2: a bad flag)."
    )
    node.add_argument(
        "--name", required=True, help="the node's name (letters, digits, '-', '_'), unique"
    )
    node.add_argument(
        "--nats",
        action="append",
        default=None,
        metavar="URL",
        help="NATS server URL; repeat for a server cluster (default nats://127.0.0.1:4222)",
    )
    node.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="module.Class",
        help="an actor class other nodes may start here (repeat); nothing else is started",
    )
    node.add_argument(
        "--heartbeat", type=_seconds, default=1.0, metavar="S", help="seconds between heartbeats"
    )
    node.add_argument(
        "--down-after",
        type=_seconds,
        default=5.0,
        metavar="S",
        help="a node not heard for this long is down (more than --heartbeat)",
    )
    node.add_argument(
        "--prefix", default="mabeam", help="first token of every NATS subject (the cluster's)"
    )
    node.add_argument("-v", "--verbose", action="store_true", help="log runtime events")


def _cmd_node(args: argparse.Namespace) -> int:
    _configure_logging(args.verbose, quiet=logging.WARNING)
    import asyncio

    from ._errors import ConfigError
    from .transport import NatsTransport

    if not re.fullmatch(r"[A-Za-z0-9_-]+", args.name):
        raise _Failure(f"--name {args.name!r}: must be letters, digits, '-' and '_'")
    allowed = [_actor_class("--allow", value) for value in args.allow]
    servers = args.nats or ["nats://127.0.0.1:4222"]
    try:
        transport = NatsTransport(
            servers=servers,
            allow=allowed,
            heartbeat=args.heartbeat,
            down_after=args.down_after,
            prefix=args.prefix,
        )
    except ConfigError as exc:
        flag = "--" + exc.field.replace("_", "-")
        raise _Failure(f"{flag}: {exc.problem}") from None
    return asyncio.run(_serve_node(args.name, transport, args.allow))


async def _serve_node(name: str, transport: Any, allowed: list[str]) -> int:
    """Run the node until SIGTERM or SIGINT; leaving the system stops its actors and
    says goodbye to the other nodes (they see it down at once)."""
    import asyncio
    import signal

    from ._errors import NodeDownError
    from .runtime import ActorSystem

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with ActorSystem(name, transport=transport):
            allowing = ", ".join(allowed) or "nothing"
            servers = ", ".join(transport.servers)
            print(f"{NODE_READY}: node {name} on {servers}, allowing {allowing}", flush=True)
            await stop.wait()
    except NodeDownError as exc:
        print(f"mabeam: error: --nats: {exc}", file=sys.stderr)
        return EXIT_NO_AGREEMENT
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    return EXIT_OK


def _actor_class(flag: str, value: str) -> type:
    """``module.Class`` (or ``module:Class``) imported and checked to be an Actor subclass."""
    import importlib

    from .runtime import Actor

    if ":" in value:
        module_name, _, qualname = value.partition(":")
    else:
        module_name, _, qualname = value.rpartition(".")
    if not module_name or not qualname:
        raise _Failure(f"{flag} {value}: expected module.Class (or module:Class)")
    try:
        found: Any = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, or whatever the module raised on import
        raise _Failure(f"{flag} {value}: cannot import module {module_name!r}: {exc}") from None
    for part in qualname.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise _Failure(f"{flag} {value}: module {module_name!r} has no {qualname!r}") from None
    if not (isinstance(found, type) and issubclass(found, Actor)):
        what = found.__name__ if isinstance(found, type) else type(found).__name__
        raise _Failure(f"{flag} {value}: not an Actor subclass ({what})")
    return found


# ---------------------------------------------------------------- shared steps


def _configure_logging(verbose: bool, quiet: int = logging.CRITICAL) -> None:
    """Logs go to stderr, so stdout carries only the result (``quiet``: the level logged
    without ``-v``)."""
    import structlog

    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG if verbose else quiet),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        # No cache_logger_on_first_use: main() may run inside a host process (tests),
        # whose loggers must not stay bound to this configuration afterwards.
    )


def _load(file: str, fmt: _Format | None, seed: int | None) -> tuple[Scenario, str]:
    """Read, decode and check the scenario (and that its protocol can run): exit 2 if not."""
    import msgspec

    from ._errors import ScenarioError
    from .scenario import check_runnable, load_scenario, parse_scenario

    try:
        if file == "-":
            path = "<stdin>"
            scenario = parse_scenario(sys.stdin.buffer.read(), path=path, fmt=fmt or "toml")
        elif fmt is not None:
            path = file
            try:
                data = Path(file).read_bytes()
            except OSError as exc:
                raise _Failure(f"{file}: cannot read: {exc.strerror or exc}") from None
            scenario = parse_scenario(data, path=path, fmt=fmt)
        else:
            path = file
            scenario = load_scenario(path)
        if seed is not None:
            scenario = msgspec.structs.replace(scenario, seed=seed)
        check_runnable(scenario, path)
    except ScenarioError as exc:
        raise _Failure(str(exc)) from None
    return scenario, path


def _outputs(args: argparse.Namespace) -> dict[str, Path]:
    """The output files asked for, each checked writable now (not after a long run)."""
    outputs = {
        flag: path
        for flag, path in (("--trace", args.trace), ("--mermaid", args.mermaid))
        if path is not None
    }
    for flag, path in outputs.items():
        _check_writable(flag, path)
    return outputs


def _check_writable(flag: str, path: Path) -> None:
    if path.is_dir():
        raise _Failure(f"{flag} {path}: is a directory (give a file name)")
    if not path.parent.is_dir():
        raise _Failure(f"{flag} {path}: folder {path.parent} does not exist")
    existed = path.exists()
    try:
        with path.open("ab"):  # appends nothing: an existing file is left as it is
            pass
    except OSError as exc:
        raise _Failure(f"{flag} {path}: cannot write: {exc.strerror or exc}") from None
    if not existed:
        path.unlink(missing_ok=True)


def _write_outputs(outputs: dict[str, Path], network: SimNetwork) -> None:
    trace = network.trace
    if trace is None:
        return
    if "--trace" in outputs:
        with outputs["--trace"].open("wb") as out:
            trace.write_jsonl(out)
    if "--mermaid" in outputs:
        outputs["--mermaid"].write_text(trace.to_mermaid())


@contextmanager
def _progress(monitor: RunMonitor, *, enabled: bool) -> Iterator[None]:
    """A one-line progress display on stderr, from :data:`PROGRESS_AFTER_S` on, while the
    run goes on; only when stderr is a terminal (never in a pipe or a log file)."""
    if not enabled or not sys.stderr.isatty():
        yield
        return
    display = _ProgressDisplay(monitor)
    timer = threading.Timer(PROGRESS_AFTER_S, display.start)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        display.stop()


class _ProgressDisplay:
    """rich's ``Live`` redraws ``status()`` a few times a second from its own thread."""

    def __init__(self, monitor: RunMonitor) -> None:
        self.monitor = monitor
        self.lock = threading.Lock()
        self.live: Any = None
        self.stopped = False

    def start(self) -> None:
        from rich.console import Console
        from rich.live import Live

        with self.lock:
            if self.stopped:
                return
            self.live = Live(
                self,
                console=Console(stderr=True),
                refresh_per_second=4,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self.live.start()

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
            if self.live is not None:
                self.live.stop()

    def __rich__(self) -> str:
        status = self.monitor.status()
        if status is None:
            return "starting..."
        return (
            f"running: virtual time {status.virtual_ms:,.0f} ms, "
            f"{status.messages_sent:,} messages sent, {status.messages_delivered:,} delivered, "
            f"{status.in_flight:,} in flight, {status.actors_alive:,} actors alive"
        )


# ---------------------------------------------------------------- the summary


def summary(report: RunReport, scenario: Scenario, network: SimNetwork) -> str:
    """The human-readable report: counts over the agents, ids in natural order, long lists
    shortened at an item (never inside a value), messages still in flight explained."""
    agents = [agent.id for agent in scenario.agents]
    lines = [
        f"scenario: {report.scenario}  (protocol {report.protocol}, seed {report.seed}, "
        f"{_plural(len(agents), 'agent')})"
    ]
    if report.ok:
        lines.append("outcome: ok")
    elif report.error is not None:
        lines.append(f"outcome: {report.error.code}: {report.error.message}")
    else:
        lines.append("outcome: no agreement")
    if report.result is not None:
        lines.append("result:")
        for key, value in _items(report.result):
            lines.extend(_field_lines(key, value, set(agents)))
    stats = report.stats
    lines.append(
        f"messages: {stats.messages_sent} sent, {stats.messages_delivered} delivered, "
        f"{stats.messages_dropped} dropped; {stats.virtual_ms:g} virtual ms "
        f"in {stats.wall_ms:g} wall ms"
    )
    in_flight = network.sent + network.duplicated - network.delivered - network.dropped
    if in_flight > 0:
        lines.append(
            f"  {_plural(in_flight, 'message')} still in flight when the outcome was reached "
            "(sent, not yet delivered: the protocol did not wait for them)"
        )
    if network.duplicated:
        lines.append(f"  {_plural(network.duplicated, 'message')} duplicated by the network")
    return "\n".join(lines)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _items(result: Any) -> list[tuple[str, Any]]:
    if isinstance(result, dict):
        return list(result.items())
    return [("value", result)]


def _field_lines(key: str, value: Any, agents: set[str]) -> list[str]:
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        # Records (e.g. conflict resolutions): one line each.
        shown = [f"    - {_compact(record, 600)}" for record in value[:LIST_SHOWN]]
        return [f"  {key}: {_plural(len(value), 'record')}", *shown, *_more(len(value))]
    if isinstance(value, list) and value and all(isinstance(v, str) and v in agents for v in value):
        ids: list[str] = value
        # A sorted list is a set of agents: show it in natural order (a2 before a10).
        ordered = sorted(ids, key=natural_key) if ids == sorted(ids) else ids
        listing = ", ".join(ordered[:LIST_SHOWN])
        rest = len(ordered) - LIST_SHOWN
        more = f", ... and {rest} more" if rest > 0 else ""
        return [f"  {key}: {len(ids)}/{len(agents)} agents: {listing}{more}"]
    if isinstance(value, list) and not value and key in ("answered", "unanswered"):
        return [f"  {key}: 0/{len(agents)} agents"]
    return [f"  {key}: {_compact(value, 200)}"]


def _more(total: int) -> list[str]:
    return [f"    ... and {total - LIST_SHOWN} more"] if total > LIST_SHOWN else []


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key putting ``a2`` before ``a10``: digit runs compare as numbers."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part
    )


def _compact(value: Any, budget: int) -> str:
    """JSON for ``value`` in about ``budget`` characters: a long list or table is cut
    between items (saying how many are left out), never inside a string or a number."""
    import msgspec

    encode = msgspec.json.encode
    if isinstance(value, list):
        parts: list[str] = []
        for index, item in enumerate(value):
            text = _compact(item, max(budget // 2, 40))
            if parts and sum(map(len, parts)) + len(text) > budget:
                return f"[{', '.join(parts)}, ... {len(value) - index} more]"
            parts.append(text)
        return f"[{', '.join(parts)}]"
    if isinstance(value, dict):
        pairs: list[str] = []
        for index, (key, item) in enumerate(value.items()):
            text = f"{encode(key).decode()}: {_compact(item, max(budget // 2, 40))}"
            if pairs and sum(map(len, pairs)) + len(text) > budget:
                return f"{{{', '.join(pairs)}, ... {len(value) - index} more}}"
            pairs.append(text)
        return f"{{{', '.join(pairs)}}}"
    return encode(value).decode()


if __name__ == "__main__":
    sys.exit(main())

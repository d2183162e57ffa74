"""What ``mabeam run FILE --timeline out.json --plot out.png --report out.html`` writes."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..sim import SimNetwork


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``run`` command's visualisation options."""
    parser.add_argument(
        "--timeline", type=Path, default=None, help="write a Trace Event Format timeline (Perfetto)"
    )
    parser.add_argument(
        "--plot", type=Path, default=None, help="draw the protocol's picture (.png or .svg)"
    )
    parser.add_argument("--report", type=Path, default=None, help="write an HTML report")


def check_arguments(args: argparse.Namespace) -> str | None:
    """A problem with the options (before the run), or None."""
    plot = getattr(args, "plot", None)
    if plot is not None and plot.suffix.lower() not in (".png", ".svg"):
        return f"argument --plot: {str(plot)!r}: the file name must end in .png or .svg"
    return None


def write_outputs(args: argparse.Namespace, report: Any, network: SimNetwork) -> None:
    """Write the files the options ask for, from the run's report and trace."""
    trace = network.trace
    if trace is None:
        return
    if getattr(args, "timeline", None) is not None:
        from .timeline import write_timeline

        write_timeline(trace, args.timeline, name=report.scenario)
    if getattr(args, "plot", None) is not None:
        from .plots import plot

        plot(report, trace, args.plot)
    if getattr(args, "report", None) is not None:
        from .report import report as write_report

        write_report(report, trace, args.report)

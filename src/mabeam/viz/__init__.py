"""See what happened: timelines, plots, readable diagrams, reports and OTel spans.

Everything is built from the trace a :class:`~mabeam.sim.SimNetwork` records and the
run's result. Importing this package is cheap: matplotlib (the ``mabeam[plot]`` extra)
and OpenTelemetry are imported only when a plot or a span is asked for.

- :func:`timeline` / :func:`write_timeline`: the Trace Event Format (Perfetto,
  ``chrome://tracing``);
- :func:`plot`: each protocol's natural picture (matplotlib);
- :func:`sequence_svg`: the sequence diagram as plain SVG (no renderer needed);
- :func:`report`: one self-contained HTML page;
- :func:`milestones`: leader elected, auction round, offer, block final...;
- :mod:`mabeam.viz.otel`: OpenTelemetry spans for asks and runs.
"""

from __future__ import annotations

from ._milestones import Milestone, derive_milestones, label_of
from .plots import plot
from .report import report
from .sequence import sequence_svg
from .timeline import timeline, write_timeline

milestones = derive_milestones

__all__ = [
    "Milestone",
    "label_of",
    "milestones",
    "plot",
    "report",
    "sequence_svg",
    "timeline",
    "write_timeline",
]

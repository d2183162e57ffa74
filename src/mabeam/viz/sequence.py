"""The sequence diagram as plain SVG text: no renderer, no script, nothing to fetch.

It draws the rows of :meth:`Trace.diagram <mabeam.sim._trace.Trace.diagram>`, the same
rows :meth:`~mabeam.sim._trace.Trace.to_mermaid` writes, so both diagrams always agree:
one lifeline per lane, one numbered arrow per delivery (a drop ends in a cross), notes for
role changes and faults, and notes saying which participants were folded into ``others``
and how many events were not drawn past the cap.

The layout is computed from character counts in a monospace font, so the bytes depend
only on the trace (same seed, same picture) and the picture is sized to its content,
drawn at its natural size (about 110 pixels per lane) to stay readable at 24 lanes.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from ..sim._trace import Diagram, DiagramRow, Trace

FONT: Final = "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace"
FONT_SIZE: Final = 11
CHAR_W: Final = 0.6 * FONT_SIZE
"""Advance width of one monospace character: every text extent is estimated from it."""
LABEL_MAX: Final = 90
"""Longer labels are cut (the whole label is the arrow's tooltip)."""
MARGIN: Final = 16
LANE_MIN: Final = 110
HEAD_H: Final = 28
ROW_H: Final = 26
NOTE_H: Final = 18
NOTE_ROW_H: Final = 26

_COLOURS: Final = {
    "deliver": "#37474f",
    "drop": "#c62828",
    "fault": ("#ffebee", "#c62828"),
    "role": ("#e3f2fd", "#1565c0"),
    "info": ("#fff8e1", "#f9a825"),
}
_ARROW: Final = "mabeam-seq-arrow"
_CROSS: Final = "mabeam-seq-cross"


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _width(text: str) -> int:
    return math.ceil(len(text) * CHAR_W)


def _cut(text: str) -> str:
    return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1] + "…"


def _text(x: int, y: int, text: str, *, anchor: str = "start", cls: str = "label") -> str:
    """Text; labels get a white halo, so lifelines crossing them do not strike them out."""
    halo = ' stroke="#ffffff" stroke-width="3" paint-order="stroke"' if cls == "label" else ""
    return f'<text class="{cls}" x="{x}" y="{y}" text-anchor="{anchor}"{halo}>{_esc(text)}</text>'


def _note(x: int, y: int, text: str, style: str, *, centre: bool, cls: str = "note") -> str:
    """A note box with its top at ``y``: centred on ``x``, or starting at ``x``."""
    fill, stroke = _COLOURS[style]
    w = _width(text) + 12
    left = max(MARGIN, x - w // 2) if centre else x
    return (
        f'<g class="{cls}"><rect x="{left}" y="{y}" width="{w}" height="{NOTE_H}" rx="3" '
        f'fill="{fill}" stroke="{stroke}"/>'
        f"{_text(left + 6, y + NOTE_H - 5, text)}</g>"
    )


def _note_right(x: int, text: str, *, centre: bool) -> int:
    w = _width(text) + 12
    return max(MARGIN, x - w // 2) + w if centre else x + w


def sequence_svg(trace: Trace, *, max_events: int = 400, max_participants: int = 24) -> str:
    """The trace's sequence diagram as an SVG document (text, deterministic bytes).

    ``max_events`` and ``max_participants`` cap the diagram exactly as in
    :meth:`~mabeam.sim._trace.Trace.to_mermaid` (a note says what was left out).
    """
    return render(trace.diagram(max_events=max_events, max_participants=max_participants))


def render(diagram: Diagram) -> str:
    """Draw the rows of a :class:`~mabeam.sim._trace.Diagram` as SVG."""
    lanes = diagram.participants
    lane_w = max([LANE_MIN, *(_width(p) + 24 for p in lanes)])
    x_of = {name: MARGIN + lane_w // 2 + i * lane_w for i, name in enumerate(lanes)}
    right = MARGIN + lane_w * max(len(lanes), 1)
    body: list[str] = []
    y = MARGIN + HEAD_H + 10
    if diagram.fold_note is not None:
        body.append(_note(MARGIN, y, diagram.fold_note, "info", centre=False, cls="note info"))
        right = max(right, _note_right(MARGIN, diagram.fold_note, centre=False))
        y += NOTE_ROW_H
    if not diagram.rows:
        body.append(_text(MARGIN, y + 12, "No messages were delivered or dropped."))
        right = max(right, MARGIN + _width("No messages were delivered or dropped."))
        y += NOTE_ROW_H
    number = 0
    for row in diagram.rows:
        if row.kind in ("fault", "role"):
            x = x_of[row.src]
            text = f"{row.t_ms} ms {row.text}"
            body.append(_note(x, y, text, row.kind, centre=True, cls=f"note {row.kind}"))
            right = max(right, _note_right(x, text, centre=True))
            y += NOTE_ROW_H
            continue
        number += 1
        svg, extent = _message(number, row, x_of, y + ROW_H - 8)
        body.append(svg)
        right = max(right, extent)
        y += ROW_H
    if diagram.truncation_note is not None:
        y += 4
        body.append(
            _note(MARGIN, y, diagram.truncation_note, "fault", centre=False, cls="note truncated")
        )
        right = max(right, _note_right(MARGIN, diagram.truncation_note, centre=False))
        y += NOTE_ROW_H
    bottom = y + 6
    height = bottom + HEAD_H + MARGIN
    width = right + MARGIN
    head: list[str] = []
    for name, x in x_of.items():
        head.append(
            f'<line class="lifeline" x1="{x}" y1="{MARGIN + HEAD_H}" x2="{x}" y2="{bottom}" '
            'stroke="#b0bec5" stroke-dasharray="4 3"/>'
        )
        head.extend(
            f'<g class="participant"><rect x="{x - lane_w // 2 + 6}" y="{top}" '
            f'width="{lane_w - 12}" height="{HEAD_H}" rx="4" fill="#eceff1" '
            f'stroke="#78909c"/>{_text(x, top + 18, name, anchor="middle", cls="name")}</g>'
            for top in (MARGIN, bottom)
        )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="mabeam-sequence" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" font-family="{FONT}" '
        f'font-size="{FONT_SIZE}" role="img" aria-label="Sequence diagram">',
        "<defs>"
        f'<marker id="{_ARROW}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse">'
        f'<path d="M0,0 L10,5 L0,10 z" fill="{_COLOURS["deliver"]}"/></marker>'
        f'<marker id="{_CROSS}" viewBox="0 0 10 10" refX="5" refY="5" markerWidth="10" '
        'markerHeight="10" orient="0">'
        f'<path d="M1,1 L9,9 M9,1 L1,9" stroke="{_COLOURS["drop"]}" stroke-width="2"/></marker>'
        "</defs>",
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        *head,
        *body,
        "</svg>",
    ]
    return "\n".join(parts) + "\n"


def _message(number: int, row: DiagramRow, x_of: dict[str, int], y: int) -> tuple[str, int]:
    """One numbered arrow on the line ``y``; returns the SVG and its right edge."""
    a, b = x_of[row.src], x_of[row.dst]
    drop = row.kind == "drop"
    colour = _COLOURS["drop" if drop else "deliver"]
    marker = _CROSS if drop else _ARROW
    label = f"{row.t_ms} ms {row.text}"
    if a == b:  # to itself: a small loop to the right
        line = (
            f'<path d="M{a},{y - 6} h30 v12 h-30" fill="none" stroke="{colour}" '
            f'marker-end="url(#{marker})"/>'
        )
        end = a + 30
    else:
        line = (
            f'<line x1="{a}" y1="{y}" x2="{b}" y2="{y}" stroke="{colour}" '
            f'marker-end="url(#{marker})"/>'
        )
        end = max(a, b)
    shown = _cut(label)
    left = a + 36 if a == b else min(a, b) + 12
    if b < a and a - 12 - _width(shown) >= b:  # leftwards: end the label before the badge
        left = a - 12 - _width(shown)
    tooltip = f"<title>{_esc(label)}</title>" if len(label) > LABEL_MAX else ""
    svg = (
        f'<g class="message {row.kind}">{tooltip}{line}{_text(left, y - 8, shown)}'
        f'<circle cx="{a}" cy="{y}" r="7.5" fill="{colour}"/>'
        f'<text class="number" x="{a}" y="{y + 3}" text-anchor="middle" fill="#ffffff" '
        f'font-size="8">{number}</text></g>'
    )
    return svg, max(end + 10, left + _width(shown))

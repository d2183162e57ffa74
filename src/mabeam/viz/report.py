"""One self-contained HTML page about a run: nothing to fetch, no script, opens anywhere.

The page has the run's summary (outcome, result, message counts), the protocol's picture
as inline SVG, the protocol milestones, the fault schedule as applied, and for small
runs the sequence diagram, drawn as inline SVG by :mod:`mabeam.viz.sequence` (at its
natural size, scrolling, so 24 lanes stay readable), with its Mermaid source below it in
a collapsed block to copy.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ._milestones import derive_milestones

if TYPE_CHECKING:
    from ..sim._trace import Trace

MERMAID_MAX_EVENTS: Final = 400
"""Runs with more deliveries, drops and faults than this get no sequence diagram."""
MILESTONES_SHOWN: Final = 200

_STYLE: Final = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1000px; color: #263238; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.5em; }
table { border-collapse: collapse; } td, th { padding: 2px 10px; border-bottom: 1px solid #eceff1;
  text-align: left; vertical-align: top; font-size: 0.9em; }
.ok { color: #2e7d32; font-weight: bold; } .failed { color: #c62828; font-weight: bold; }
pre { background: #f5f7f8; padding: 1em; overflow: auto; font-size: 0.8em; max-height: 40em; }
figure { margin: 0; } figure svg { width: 100%; height: auto; }
.sequence { overflow: auto; max-height: 60em; border: 1px solid #eceff1; }
.sequence svg { display: block; } summary { cursor: pointer; margin: 0.5em 0; }
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _short(value: Any, limit: int = 300) -> str:
    import msgspec

    from ..sim._trace import encode_payload

    text = msgspec.json.encode(encode_payload(value)).decode()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _inline_svg(svg: str) -> str:
    """An SVG document as an element to inline in HTML (no XML prolog, no DOCTYPE)."""
    svg = re.sub(r"<\?xml[^>]*\?>", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>", "", svg)
    return svg.strip()


def render(run: Any, trace: Trace, *, plot: bool = True) -> str:
    """The HTML page, as a string (see :func:`report` to write it)."""
    import msgspec

    data: dict[str, Any] = run if isinstance(run, dict) else msgspec.to_builtins(run)
    title = f"mabeam run: {data.get('scenario', '')}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_esc(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_esc(title)}</h1>",
        '<section id="summary"><h2>Summary</h2><table>',
    ]
    ok = bool(data.get("ok"))
    outcome = "ok" if ok else "no agreement"
    error = data.get("error")
    if error:
        outcome = f"{error.get('code')}: {error.get('message')}"
    rows = [
        ("scenario", data.get("scenario")),
        ("protocol", data.get("protocol")),
        ("seed", data.get("seed")),
    ]
    parts.extend(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows)
    parts.append(
        f'<tr><th>outcome</th><td class="{"ok" if ok else "failed"}">{_esc(outcome)}</td></tr>'
    )
    result = data.get("result")
    if isinstance(result, dict):
        parts.extend(
            f"<tr><th>{_esc(k)}</th><td><code>{_esc(_short(v))}</code></td></tr>"
            for k, v in result.items()
        )
    elif result is not None:
        parts.append(f"<tr><th>result</th><td><code>{_esc(_short(result))}</code></td></tr>")
    stats = data.get("stats") or {}
    parts.append(
        "<tr><th>messages</th><td>"
        f"{_esc(stats.get('messages_sent'))} sent, {_esc(stats.get('messages_delivered'))} "
        f"delivered, {_esc(stats.get('messages_dropped'))} dropped; "
        f"{_esc(stats.get('virtual_ms'))} virtual ms</td></tr>"
    )
    parts.append("</table></section>")
    if plot:
        from .plots import choose, to_svg
        from .plots import plot as draw

        name, _ = choose(data)
        svg = _inline_svg(to_svg(draw(data, trace)))
        parts.append(
            f'<section id="plot"><h2>Picture ({_esc(name.replace("_", " "))})</h2>'
            f"<figure>{svg}</figure></section>"
        )
    milestones = derive_milestones(trace)
    parts.append('<section id="milestones"><h2>Milestones</h2>')
    if milestones:
        parts.append("<table><tr><th>ms</th><th>node</th><th>milestone</th></tr>")
        parts.extend(
            f"<tr><td>{m.t * 1000.0:.3f}</td><td>{_esc(m.node)}</td><td>{_esc(m.label)}</td></tr>"
            for m in milestones[:MILESTONES_SHOWN]
        )
        parts.append("</table>")
        if len(milestones) > MILESTONES_SHOWN:
            parts.append(f"<p>{len(milestones) - MILESTONES_SHOWN} more not shown.</p>")
    else:
        parts.append("<p>None recorded.</p>")
    parts.append("</section>")
    faults = [r for r in trace.records() if r[1] == "fault"]
    parts.append('<section id="faults"><h2>Fault schedule</h2>')
    if faults:
        parts.append("<table><tr><th>ms</th><th>fault</th><th>target</th><th>detail</th></tr>")
        parts.extend(
            f"<tr><td>{r[0] * 1000.0:.3f}</td><td>{_esc(r[6])}</td><td>{_esc(r[4])}</td>"
            f"<td>{_esc(r[7] or '')}</td></tr>"
            for r in faults
        )
        parts.append("</table>")
    else:
        parts.append("<p>No faults were injected.</p>")
    parts.append("</section>")
    events = sum(1 for r in trace.records() if r[1] != "send")
    parts.append('<section id="sequence"><h2>Sequence diagram</h2>')
    if events <= MERMAID_MAX_EVENTS:
        from .sequence import sequence_svg

        parts.append(
            f'<div class="sequence">{sequence_svg(trace, max_events=MERMAID_MAX_EVENTS)}</div>'
        )
        parts.append(
            "<details><summary>Mermaid source (to paste into any Mermaid viewer)</summary>"
            f'<pre class="mermaid">{_esc(trace.to_mermaid())}</pre></details>'
        )
    else:
        parts.append(
            f"<p>Not drawn: {events} events is more than {MERMAID_MAX_EVENTS}. Use "
            "<code>mabeam run FILE --timeline out.json</code> and open it in Perfetto, or "
            "<code>--mermaid</code> for a capped diagram.</p>"
        )
    parts.append("</section></body></html>")
    return "\n".join(parts) + "\n"


def report(run: Any, trace: Trace, path: str | Path, *, plot: bool = True) -> int:
    """Write the run's HTML page to ``path``; returns its size in bytes.

    ``run`` is the :class:`~mabeam.scenario.RunReport` (or its JSON as a dict);
    ``plot=False`` leaves the picture out (no matplotlib needed).
    """
    data = render(run, trace, plot=plot).encode()
    Path(path).write_bytes(data)
    return len(data)

"""The HTML report: summary, inline SVG picture and sequence diagram, fault schedule,
nothing external."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import structlog

from mabeam.cli import main
from mabeam.viz import report

from ._support import big_run, gallery_run

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ping.toml"


class Page(HTMLParser):
    """Collects sections, tags, text and every URL-bearing attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.section: str | None = None
        self.text: dict[str, list[str]] = {}
        self.urls: list[str] = []
        self.stack: list[str] = []
        self.open: list[str] = []
        self.pre_inside: list[list[str]] = []

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag) :]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "pre":
            self.pre_inside.append(list(self.open))
        if tag not in ("line", "rect", "circle", "path", "meta", "br", "stop", "use"):
            self.open.append(tag)
        if tag == "section":
            self.section = attributes.get("id")
        for key in ("src", "href", "xlink:href", "action", "data"):
            value = attributes.get(key)
            if value is not None:
                self.urls.append(value)
        style = attributes.get("style") or ""
        if "url(" in style:
            self.urls.append(style)

    def handle_data(self, data: str) -> None:
        if self.section is not None:
            self.text.setdefault(self.section, []).append(data)


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text())
    page.close()
    return page


def check_self_contained(page: Page, path: Path | None = None) -> None:
    tags = {tag for tag, _ in page.tags}
    assert "script" not in tags
    assert "link" not in tags
    assert "iframe" not in tags
    for url in page.urls:
        assert url.startswith("#"), url
    if path is not None:  # every url(...), in attributes too (markers), points into the page
        assert re.findall(r"url\((?!#)", path.read_text()) == []


def test_report_has_summary_plot_diagram_and_faults(tmp_path: Path) -> None:
    run, network = gallery_run("raft")
    assert network.trace is not None
    size = report(run, network.trace, tmp_path / "raft.html")
    assert size == (tmp_path / "raft.html").stat().st_size
    page = parse(tmp_path / "raft.html")
    check_self_contained(page, tmp_path / "raft.html")
    summary = " ".join(page.text["summary"])
    assert "consensus" in summary
    assert "ok" in summary
    assert "delivered" in summary
    # Two inline SVGs: the protocol's picture and the drawn sequence diagram.
    assert sum(1 for tag, _ in page.tags if tag == "svg") == 2
    assert any(tag == "path" for tag, _ in page.tags)
    html_text = (tmp_path / "raft.html").read_text()
    start = html_text.index('<svg xmlns="http://www.w3.org/2000/svg" class="mabeam-sequence"')
    svg_text = html_text[start : html_text.index("</svg>", start) + 6]
    assert re.findall(r"https?://[^\s\"]+", svg_text) == ["http://www.w3.org/2000/svg"]
    diagram_svg = ET.fromstring(svg_text)
    mermaid = network.trace.to_mermaid()
    arrows = sum(1 for line in mermaid.splitlines() if "->>" in line or "-x" in line)
    numbers = [e.text for e in diagram_svg.iter() if e.get("class") == "number"]
    assert numbers == [str(n) for n in range(1, arrows + 1)]
    # The Mermaid source is still there to copy, folded away below the drawing.
    pre = [a for tag, a in page.tags if tag == "pre"]
    assert {"class": "mermaid"} in pre
    assert page.pre_inside == [["html", "body", "section", "details"]]
    assert html_text.index("mabeam-sequence") < html_text.index('<pre class="mermaid">')
    diagram = "".join(page.text["sequence"])
    assert "sequenceDiagram" in diagram
    assert "autonumber" in diagram
    assert "Mermaid source" in diagram
    faults = " ".join(page.text["faults"])
    assert "crash" in faults
    assert "leader t=" in " ".join(page.text["milestones"])


def test_a_big_run_gets_no_diagram_but_says_why(tmp_path: Path) -> None:
    run, network = big_run()
    assert network.trace is not None
    report(run, network.trace, tmp_path / "big.html", plot=False)
    page = parse(tmp_path / "big.html")
    check_self_contained(page, tmp_path / "big.html")
    assert "Not drawn" in " ".join(page.text["sequence"])
    assert "No faults were injected." in " ".join(page.text["faults"])
    assert not any(tag == "svg" for tag, _ in page.tags)


@pytest.fixture(autouse=True)
def _restore_structlog() -> Any:
    yield
    structlog.reset_defaults()


def test_cli_writes_timeline_plot_and_report(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    timeline, picture, page = tmp_path / "t.json", tmp_path / "p.svg", tmp_path / "r.html"
    code = main(
        [
            "run",
            str(EXAMPLE),
            "--json",
            "--timeline",
            str(timeline),
            "--plot",
            str(picture),
            "--report",
            str(page),
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is True
    assert json.loads(timeline.read_bytes())["traceEvents"]
    assert picture.read_text().lstrip().startswith("<?xml")
    parsed = parse(page)
    check_self_contained(parsed, page)
    assert 'class="mabeam-sequence"' in page.read_text()
    assert "ping with faults" in " ".join(parsed.text["summary"])
    assert "partition" in " ".join(parsed.text["faults"])


def test_cli_refuses_a_plot_it_cannot_write(capsys: pytest.CaptureFixture[str]) -> None:
    """A picture name it cannot draw exits 2 with one line, before the run."""
    assert main(["run", str(EXAMPLE), "--plot", "out.gif"]) == 2
    err = capsys.readouterr().err
    assert (
        err == "mabeam: error: argument --plot: 'out.gif': the file name must end in .png or .svg\n"
    )

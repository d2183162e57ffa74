"""Each protocol's picture renders to a real PNG / SVG file of sensible size."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from mabeam.viz import plot
from mabeam.viz.plots import choose

from ._support import gallery_run

PICTURES = {
    "english": "clock_auction",
    "dutch": "clock_auction",
    "sealed": "sealed_bids",
    "bargaining": "bargaining",
    "call_market": "call_market",
    "order_book": "order_book",
    "raft": "raft",
    "pbft": "pbft",
    "chain": "chain",
    "hierarchy": "hierarchy",
}


def check_png(path: Path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        image.load()
        assert image.format == "PNG"
        assert 600 <= image.width <= 2000
        assert 250 <= image.height <= 1500
        # Not blank: the picture uses many colours.
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is not None
        assert len(colours) > 20


def check_svg(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert float(root.attrib["width"].removesuffix("pt")) > 300
    assert float(root.attrib["height"].removesuffix("pt")) > 150
    assert len(list(root.iter())) > 50
    return root


@pytest.mark.parametrize("name", sorted(PICTURES))
def test_each_protocol_picture_renders(name: str, tmp_path: Path) -> None:
    report, network = gallery_run(name)
    assert choose(report)[0] == PICTURES[name]
    figure = report.plot(network.trace, tmp_path / f"{name}.png")
    check_png(tmp_path / f"{name}.png")
    assert figure.axes
    assert figure.axes[0].get_title() or figure.get_suptitle()


def test_svg_output_is_valid_and_deterministic(tmp_path: Path) -> None:
    report, network = gallery_run("raft")
    assert network.trace is not None
    plot(report, network.trace, tmp_path / "a.svg")
    plot(report, network.trace, tmp_path / "b.svg")
    check_svg(tmp_path / "a.svg")
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()


def test_other_runs_get_messages_over_time(tmp_path: Path) -> None:
    from mabeam.scenario import load_scenario, run_scenario

    example = Path(__file__).resolve().parents[2] / "examples" / "ping.toml"
    report, network = run_scenario(load_scenario(str(example)))
    assert choose(report)[0] == "messages"
    report.plot(network.trace, tmp_path / "ping.svg")
    check_svg(tmp_path / "ping.svg")


def test_bad_plot_file_name_and_missing_trace_are_refused(tmp_path: Path) -> None:
    report, network = gallery_run("sealed")
    assert network.trace is not None
    with pytest.raises(ValueError, match=r"\.png or \.svg"):
        plot(report, network.trace, tmp_path / "x.gif")
    with pytest.raises(ValueError, match="no trace"):
        report.plot(None)


def test_matplotlib_is_not_imported_with_mabeam() -> None:
    import subprocess

    code = "import sys, mabeam, mabeam.viz, mabeam.cli; print('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"

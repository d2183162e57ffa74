"""The sequence diagram as SVG: the same rows as the Mermaid text, drawn, deterministic."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET

import pytest

from mabeam.sim import SimNetwork
from mabeam.sim._trace import OTHERS
from mabeam.viz.sequence import sequence_svg

from ._support import big_run, gallery_run, trace_of

SVG = "{http://www.w3.org/2000/svg}"


def classes(element: ET.Element) -> set[str]:
    return set((element.get("class") or "").split())


def find(root: ET.Element, cls: str) -> list[ET.Element]:
    return [e for e in root.iter() if cls in classes(e)]


def mermaid_arrows(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(r"    \w+(->>|-x)\w+: ", line)]


@pytest.mark.parametrize("name", ["raft", "pbft", "bargaining", "english"])
def test_one_lifeline_per_lane_and_one_numbered_arrow_per_message(name: str) -> None:
    trace = trace_of(name)
    root = ET.fromstring(sequence_svg(trace))
    assert root.tag == f"{SVG}svg"
    mermaid = trace.to_mermaid(max_events=400)
    lanes = [ln[16:] for ln in mermaid.splitlines() if ln.startswith("    participant ")]
    lifelines = find(root, "lifeline")
    assert len(lifelines) == len(lanes)
    names = [e.text for e in find(root, "name")]
    assert names[::2] == lanes  # a box at the top and one at the bottom of each lifeline
    messages = find(root, "message")
    arrows = mermaid_arrows(mermaid)
    assert len(messages) == len(arrows) > 0
    numbers = [int(e.text or "") for e in find(root, "number")]
    assert numbers == list(range(1, len(arrows) + 1))
    # Each arrow carries the Mermaid line's label, in the same order.
    labels = [next(e.text for e in m.iter() if "label" in classes(e)) for m in messages]
    assert [line.split(": ", 1)[1] for line in arrows] == [
        (label or "").replace(";", ",").replace("#", "no.") for label in labels
    ]
    for message in messages:
        drawn = [e for e in message if e.tag in (f"{SVG}line", f"{SVG}path")]
        assert len(drawn) == 1
        assert drawn[0].get("marker-end") in ("url(#mabeam-seq-arrow)", "url(#mabeam-seq-cross)")
    width, height = int(root.get("width") or 0), int(root.get("height") or 0)
    assert root.get("viewBox") == f"0 0 {width} {height}"
    assert height > 26 * len(arrows)


def test_notes_show_role_changes_and_faults_and_drops_end_in_a_cross() -> None:
    root = ET.fromstring(sequence_svg(trace_of("raft")))
    roles = ["".join(n.itertext()) for n in find(root, "role")]
    assert any(re.fullmatch(r"[\d.]+ ms leader t=1", text) for text in roles)
    assert any(re.fullmatch(r"[\d.]+ ms candidate t=1", text) for text in roles)
    faults = ["".join(n.itertext()) for n in find(root, "fault")]
    assert any(text.endswith(" ms crash") for text in faults)
    assert not find(root, "truncated")
    root = ET.fromstring(sequence_svg(trace_of("pbft")))
    drops = find(root, "drop")
    assert len(drops) == 62  # the byzantine replica's interceptor drops them
    for drop in drops:
        line = next(e for e in drop if e.tag in (f"{SVG}line", f"{SVG}path"))
        assert line.get("marker-end") == "url(#mabeam-seq-cross)"
        assert " dropped" in "".join(drop.itertext())


def test_truncation_note_when_capped() -> None:
    trace = trace_of("raft")
    drawable = sum(1 for e in trace.events() if e.event != "send")
    root = ET.fromstring(sequence_svg(trace, max_events=10))
    (note,) = find(root, "truncated")
    assert "".join(note.itertext()) == (
        f"truncated: 10 of {drawable} events shown, {drawable - 10} more not drawn (max_events=10)"
    )
    assert len(find(root, "message")) <= 10


def test_twenty_four_lanes_with_others_stay_readable() -> None:
    """1,001 participants: 24 lifelines (the rest folded into others), each 110 px apart."""
    _, network = big_run()
    assert network.trace is not None
    root = ET.fromstring(sequence_svg(network.trace))
    lifelines = find(root, "lifeline")
    assert len(lifelines) == 24
    xs = [int(e.get("x1") or 0) for e in lifelines]
    assert min(b - a for a, b in itertools.pairwise(xs)) >= 110
    names = [e.text for e in find(root, "name")]
    assert "coordinator" in names
    assert OTHERS in names
    (fold,) = find(root, "info")
    assert "1001 participants, the 23 busiest shown; 978 folded" in "".join(fold.itertext())
    assert len(find(root, "message")) == len(mermaid_arrows(network.trace.to_mermaid()))
    assert int(root.get("width") or 0) >= xs[-1]


def test_deterministic_and_escaped() -> None:
    one = sequence_svg(gallery_run("pbft")[1].trace)
    assert one == sequence_svg(gallery_run("pbft")[1].trace)
    network = SimNetwork(seed=1)
    assert network.trace is not None
    network.trace.record(0.001, "deliver", 1, "a<b>", 'c&"d', "tell", "x < y & z")
    network.trace.fault(0.002, "crash", 'c&"d', "<why>")
    text = sequence_svg(network.trace)
    root = ET.fromstring(text)
    assert [e.text for e in find(root, "name")][::2] == ["a<b>", 'c&"d']
    assert "<b>" not in text
    assert "".join(find(root, "fault")[0].itertext()) == "2.0 ms crash (<why>)"


def test_an_empty_trace_is_a_small_valid_picture() -> None:
    network = SimNetwork(seed=1)
    assert network.trace is not None
    root = ET.fromstring(sequence_svg(network.trace))
    assert not find(root, "lifeline")
    assert "No messages" in "".join(root.itertext())


def test_bad_caps_are_refused() -> None:
    with pytest.raises(ValueError, match="max_events"):
        sequence_svg(trace_of("raft"), max_events=0)

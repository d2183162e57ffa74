"""The docs' pictures are generated: the gallery script writes every one of them."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mabeam.viz.gallery import GALLERY, main


def test_gallery_writes_every_picture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path)]) == 0
    listed = capsys.readouterr().out.split()
    for name in GALLERY:
        picture = tmp_path / f"{name}.svg"
        assert str(picture) in listed
        assert ET.parse(picture).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    assert (tmp_path / "raft.mmd").read_text().startswith("sequenceDiagram\n    autonumber\n")
    assert str(tmp_path / "raft-sequence.svg") in listed
    sequence = ET.parse(tmp_path / "raft-sequence.svg").getroot()
    assert sequence.get("class") == "mabeam-sequence"
    assert json.loads((tmp_path / "raft-timeline.json").read_bytes())["traceEvents"]
    assert "<svg" in (tmp_path / "raft-report.html").read_text()
    assert (tmp_path / "raft-report.png").exists() == (shutil.which("chromium") is not None)


def test_the_docs_show_every_picture() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs"
    page = (docs / "observability.md").read_text()
    for name in GALLERY:
        assert f"(images/{name}.svg)" in page, name
        assert (docs / "images" / f"{name}.svg").exists(), name
    assert "(images/raft-sequence.svg)" in page
    assert (docs / "images" / "raft-sequence.svg").exists()

"""``make run``: the demo tells the temperature story with its winner, compromise and count."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

DEMO = Path(__file__).resolve().parents[3] / "examples" / "demo.py"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The demo configures structlog; give the next test the defaults."""
    yield
    structlog.reset_defaults()


def test_demo_tells_the_temperature_story(capsys: pytest.CaptureFixture[str]) -> None:
    """The auction's winner, the compromise value and the message counts are printed."""
    spec = importlib.util.spec_from_file_location("mabeam_demo", DEMO)
    assert spec is not None
    assert spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    demo.main()
    out = capsys.readouterr().out
    story = out[out.index("the temperature story") :]
    assert "creative_writer wins and sets temperature 1.2, paying 5.0" in story
    assert "(6 messages: a call for bids and a bid per agent)" in story
    assert "weighted_average, the reviewer weighing 2 -> temperature 0.675" in story
    assert "12 messages in all, 0 lost" in story

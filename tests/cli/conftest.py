"""Shared set-up of the command-line tests: scenario files and a clean structlog."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

REPO = Path(__file__).resolve().parents[2]
PING = REPO / "examples" / "ping.toml"

#: An English auction between two bidders who never stop raising by 0.001 below 1e9,
#: with a billion rounds allowed: it runs for hours unless stopped.
ENDLESS = """\
name = "endless english"
[protocol]
kind = "auction"
auction_type = "english"
increment = 0.001
max_rounds = 1000000000
[[agents]]
id = "a"
max_bid = 1e9
[[agents]]
id = "b"
max_bid = 1e9
"""


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """main() configures structlog for the command line; give the next test the defaults."""
    yield
    structlog.reset_defaults()


@pytest.fixture
def endless(tmp_path: Path) -> Path:
    path = tmp_path / "endless.toml"
    path.write_text(ENDLESS)
    return path


def ping_scenario(count: int, *, crash_all: bool = False) -> str:
    """A ping scenario over agents a1..a<count> (all crashed at 0 ms with ``crash_all``)."""
    agents = "".join(f'[[agents]]\nid = "a{i}"\n' for i in range(1, count + 1))
    faults = (
        "".join(f'[[faults]]\nat_ms = 0\ncrash = "a{i}"\n' for i in range(1, count + 1))
        if crash_all
        else ""
    )
    return f'name = "many"\n[protocol]\nkind = "ping"\n{agents}{faults}'

"""Run this directory's ``slow`` tests only when asked for (``-m slow``), as the marker says."""

from __future__ import annotations

from pathlib import Path

import pytest

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="heavy randomized run: select it with -m slow")
    for item in items:
        if item.get_closest_marker("slow") is not None and _HERE in item.path.parents:
            item.add_marker(skip)

"""The ``mabeam`` command line (filled in by the simulator)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mabeam`` console script."""
    print("mabeam: no commands yet", file=sys.stderr)
    return 2

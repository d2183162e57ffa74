"""Figure 8 unreliable (R14) on the pure Raft harness, for ``benchmarks/consensus.py``.

``run_figure8(iterations, seed)`` runs 6.824's ``TestFigure8Unreliable2C`` on five pure
``RaftNode``s over ``mabeam.testing.raft``'s in-memory network (virtual time, labrpc's
loss, delay and long reordering), checking H1-H4 after every event and H5 at the end, and
returns its counts and wall time. Issue target: 1,000 iterations in under 10 s of wall time.
``python -m benchmarks.raft_figure8 [iterations] [seed]`` prints the result as JSON.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from mabeam.testing.raft_figure8 import run_figure8 as _run_figure8
from mabeam.testing.raft_figure8 import run_figure8_crashes as _run_figure8_crashes
from mabeam.testing.raft_figure8 import run_figure8_targeted as _run_figure8_targeted


def run_figure8(iterations: int = 1000, seed: int = 0) -> dict[str, Any]:
    """R14 for ``iterations`` iterations; raises on a safety violation; counts and wall_s."""
    return _run_figure8(iterations, seed)


def run_figure8_crashes(iterations: int = 1000, seed: int = 0) -> dict[str, Any]:
    """6.824's ``TestFigure82C`` (every leader crashes) for ``iterations`` iterations."""
    return _run_figure8_crashes(iterations, seed)


def run_figure8_targeted() -> dict[str, Any]:
    """The paper's Figure 8, (a)-(d) and (a)-(c),(e), driven step by step."""
    return {
        "overwrite": _run_figure8_targeted(),
        "safe_ending": _run_figure8_targeted(safe_ending=True),
    }


if __name__ == "__main__":
    args = [int(arg) for arg in sys.argv[1:3]]
    print(
        json.dumps(
            {
                "unreliable": run_figure8(*args),
                "crashes": run_figure8_crashes(*args),
                "targeted": run_figure8_targeted(),
            }
        )
    )

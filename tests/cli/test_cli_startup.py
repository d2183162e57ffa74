"""Start-up: the command imports nothing it does not use (no numpy/scipy for ping)."""

from __future__ import annotations

import os
import subprocess
import sys

from .conftest import PING

HEAVY = ("numpy", "scipy")


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, check=True, timeout=60
    )


def test_version_and_a_ping_run_import_no_numpy_or_scipy() -> None:
    """`mabeam --version` and `mabeam run examples/ping.toml` leave numpy and scipy
    unimported: they are for the combinatorial solver only, imported on its first solve."""
    probe = (
        "import sys\n"
        "from mabeam.cli import main\n"
        "try:\n"
        "    main(['--version'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"before = sorted(m for m in sys.modules if m.split('.')[0] in {set(HEAVY)!r})\n"
        f"main(['run', {str(PING)!r}, '--json'])\n"
        f"after = sorted(m for m in sys.modules if m.split('.')[0] in {set(HEAVY)!r})\n"
        "print(before, after, file=sys.stderr)\n"
    )
    done = _python("-c", probe)
    assert done.stderr.strip() == "[] []"


def test_version_starts_in_well_under_300_ms() -> None:
    """`python -X importtime -m mabeam --version`: mabeam's own imports take under 0.3 s
    (the best of three runs, so a busy machine does not fail it)."""
    best = min(_import_seconds() for _ in range(3))
    assert best < 0.3, f"importing mabeam took {best:.3f} s"


def _import_seconds() -> float:
    # As a user starts it: without the coverage measurement `make test` adds to every
    # Python subprocess (whose own imports would be counted here).
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE")}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mabeam", "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=env,
    )
    assert done.stdout.startswith("mabeam ")
    total = 0
    for line in done.stderr.splitlines():
        # "import time: self [us] | cumulative | imported package"; top-level lines only.
        fields = line.split("|")
        if len(fields) == 3 and fields[1].strip().isdigit() and not fields[2].startswith("  "):
            total += int(fields[1])
    return total / 1e6

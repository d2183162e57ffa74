"""``mabeam run --processes N --nats URL`` on a server the test runs: the summary says
the run was in real time over NATS, and no node process is left behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mabeam.transport._server import NatsServer

SCENARIO = Path(__file__).resolve().parents[2] / "tests" / "scenarios" / "consensus-majority.toml"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def test_a_run_on_a_given_server_prints_the_summary(nats_server_module: NatsServer) -> None:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "mabeam", "run", str(SCENARIO)),
            *("--processes", "2", "--nats", nats_server_module.url),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:3] == [
        "scenario: majority  (protocol consensus, seed 1, 5 agents)",
        "outcome: ok",
        "result:",
    ]
    assert "  consensus: 0.7" in lines
    assert lines[-1].startswith("ran over NATS on 2 node processes, in real time: ")
    assert lines[-1].endswith(" wall ms (messages are not counted across processes)")

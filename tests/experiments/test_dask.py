"""``--executor dask`` on a real Dask ``LocalCluster``.

The cluster and the sweep run in a child process: Dask's scheduler, worker and client
poll on the wall clock with asyncio sleeps, which this suite's conftest forbids inside
the test process (and its warnings-as-errors setting is not Dask's). The child starts a
``LocalCluster`` (one worker, two threads: runs execute in worker threads, so the
time limit's thread path is exercised too) and runs ``mabeam sweep --executor dask
--scheduler ADDRESS`` against its address, as a user would against a remote cluster.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from mabeam.experiments import DASK_SWEEP_CONFIG, Sweep, run_sweep

pytest.importorskip("distributed")

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "bargaining-sweep.toml"
CHILD = """
import sys
from distributed import LocalCluster
from mabeam.cli import main

with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                  dashboard_address=None) as cluster:
    code = main(["sweep", *sys.argv[1:], "--executor", "dask",
                 "--scheduler", cluster.scheduler_address, "-q"])
sys.exit(code)
"""
SETTINGS = ["--set", "protocol.n_steps=100,1000000", "--set", "network.drop_rate=0.2"]
TIMING = ["run", "elapsed_ms", "stats.wall_ms"]


def test_a_sweep_on_a_dask_local_cluster_equals_the_local_one(tmp_path: Path) -> None:
    """Same rows as the in-process executor; each run of a million steps outlives its
    time limit and is a timeout row (interrupted in a Dask worker thread), the others
    are kept."""
    out = tmp_path / "dask"
    args = [str(EXAMPLE), "--seeds", "0..1", *SETTINGS, "--time-limit", "2", "--out", str(out)]
    child = subprocess.run(
        [sys.executable, "-c", CHILD, *args], capture_output=True, text=True, timeout=120
    )
    assert child.returncode == 1, child.stderr  # 1: some runs timed out, rows kept
    assert "sweep: 8 of 8 runs, 4 failed" in child.stdout
    table = pl.read_csv(out / "results.csv")
    status = dict(zip(table["protocol.n_steps"], table["status"], strict=False))
    assert (
        table.filter(pl.col("protocol.n_steps") == 1_000_000)["status"].to_list() == ["timeout"] * 4
    ), status
    short = table.filter(pl.col("protocol.n_steps") == 100)
    assert short["status"].to_list() == ["ok"] * 4

    sweep = Sweep(
        EXAMPLE, seeds="0..1", grid={"protocol.n_steps": [100], "network.drop_rate": [0.2]}
    )
    run_sweep(sweep, out=tmp_path / "serial", executor="serial")
    expected = pl.read_csv(tmp_path / "serial" / "results.csv")
    assert short.drop(TIMING).equals(expected.drop(TIMING))


CONFIG_CHILD = """
import json
import dask
from distributed import Client, LocalCluster
from mabeam.experiments import DASK_SWEEP_CONFIG

keys = list(DASK_SWEEP_CONFIG)
defaults = {key: dask.config.get(key) for key in keys}  # KeyError: not a Dask setting
with dask.config.set(DASK_SWEEP_CONFIG):
    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                           dashboard_address=None)
with cluster, Client(cluster.scheduler_address) as client:
    seen = client.run(lambda: {key: dask.config.get(key) for key in keys})
print(json.dumps({"defaults": defaults, "workers": list(seen.values())}))
"""


def test_the_sweep_config_names_dask_settings_and_reaches_worker_processes() -> None:
    """Every key of DASK_SWEEP_CONFIG is one of the installed Dask's own settings, each
    changes its default, and a process worker of a LocalCluster started under it runs
    with the values (the nanny hands the configuration to the process it spawns)."""
    child = subprocess.run(
        [sys.executable, "-c", CONFIG_CHILD], capture_output=True, text=True, timeout=120
    )
    assert child.returncode == 0, child.stderr
    report = json.loads(child.stdout.strip().splitlines()[-1])
    expected = dict(DASK_SWEEP_CONFIG)
    assert set(report["defaults"]) == set(expected)
    for key, value in expected.items():
        assert report["defaults"][key] != value, key  # a default the config changes
    assert report["workers"] == [expected]


ORDER_CHILD = """
import json
import sys
from distributed import Client, LocalCluster
from distributed.diagnostics.plugin import SchedulerPlugin
from mabeam.experiments import Sweep, run_sweep

class GraphUpdates(SchedulerPlugin):
    def __init__(self):
        self.sizes = []

    def update_graph(self, scheduler, *, keys, **kwargs):
        self.sizes.append(len(keys))

updates = GraphUpdates()
with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                  dashboard_address=None) as cluster, Client(cluster) as client:
    cluster.scheduler.add_plugin(updates)
    batches = []
    # The file's grid has 2 strategies: 2 x 4 seeds = 8 runs.
    sweep = Sweep(sys.argv[1], seeds="0..3", grid={"network.drop_rate": [0.2]})
    result = run_sweep(sweep, executor="dask", scheduler=client, chunk_size=2,
                       on_rows=lambda rows: batches.append([row["run"] for row in rows]))
print(json.dumps({"batches": batches, "updates": updates.sizes, "failed": result.failed}))
"""


def test_a_dask_sweep_sends_its_chunks_in_one_graph_update_and_runs_them_in_order() -> None:
    """All the chunks go to the scheduler at once (one graph update, not one per chunk:
    each update is scheduler work, which on a LocalCluster shares the runs' cores), and
    on one worker thread they run and come back in run order."""
    child = subprocess.run(
        [sys.executable, "-c", ORDER_CHILD, str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr
    report = json.loads(child.stdout.strip().splitlines()[-1])
    assert report["failed"] == 0
    assert report["updates"] == [4]  # 8 runs in chunks of 2
    assert report["batches"] == [[0, 1], [2, 3], [4, 5], [6, 7]]

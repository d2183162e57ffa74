"""Experiments: a scenario swept over settings and seeds, on local cores or a Dask cluster.

>>> sweep = Sweep("examples/bargaining-sweep.toml", seeds=range(100),
...               grid={"agents.seller.strategy": ["boulware", "conceder"]})
>>> result = run_sweep(sweep, out="results/")   # resumable; writes CSV and Parquet
>>> result.summary()                            # per combination: count, ok rate, ...

Each run is exactly what ``mabeam run FILE --seed N --json`` prints for the scenario with
the settings applied. See ``docs/experiments.md``.
"""

from ._executors import DASK_SWEEP_CONFIG as DASK_SWEEP_CONFIG
from ._executors import EXECUTORS as EXECUTORS
from ._executors import LocalPool as LocalPool
from ._spec import Run as Run
from ._spec import Sweep as Sweep
from ._spec import parse_seeds as parse_seeds
from ._spec import parse_values as parse_values
from ._sweep import SweepResult as SweepResult
from ._sweep import run_sweep as run_sweep

__all__ = [
    "DASK_SWEEP_CONFIG",
    "EXECUTORS",
    "LocalPool",
    "Run",
    "Sweep",
    "SweepResult",
    "parse_seeds",
    "parse_values",
    "run_sweep",
]

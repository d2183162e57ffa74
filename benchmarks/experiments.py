"""Experiments: 1,000 runs of a two-agent bargaining scenario, one after another in one
process (the baseline) against a sweep on the local executor (2 worker processes) and on
a Dask LocalCluster (2 worker processes, one thread each), measured in the same run.

The Dask cluster is set up for sweeps as docs/experiments.md advises, with
``mabeam.experiments.DASK_SWEEP_CONFIG``: its workers' statistical profiler off (it
samples every thread's stack every 10 ms), the event-loop health check every 500 ms
instead of 20 ms and the memory monitor every second instead of 100 ms. On 2 cores that
housekeeping (in the workers, and in the scheduler and nannies, which a LocalCluster runs
in this process) takes time from the runs. The same sweep on a LocalCluster with Dask's
defaults is measured beside it (``dask_default``) and reported, not checked.

The scenario: a boulware seller against a conceder buyer over outcomes 0..100 in 100
steps, on a network with 1-20 ms latency and 5% loss; one run is a few milliseconds of
work. The baseline is the plain loop a user would write: ``run_scenario`` per seed on a
scenario parsed once. Each round starts a Dask cluster and warms it up before the clock
starts (``--scheduler`` names a running cluster) and closes it after its sample, so no
cluster idles beside the other contenders' runs. The local executor's figure is its
steady state on a :class:`LocalPool` whose workers are up; ``local_cold`` (a sweep
that starts and stops its own workers) and the start-up it costs are reported beside
it. Per-run overhead: the sweep machinery in one process (``executor="serial"``: apply
the settings, validate, encode the report, build the row) against the plain loop, and
each parallel executor's worker-seconds per run beyond the baseline's.

``machine_two_process_ceiling`` is measured in the same rounds: the same pure-Python
work run twice in one process against once in each of two processes at the same time.
On an idle 2-core machine it is about 2; on a machine shared with other work it is what
the second core still gives, and bounds what any executor can reach
(``local_vs_ceiling``).

Targets (issue 19): local >= 1.7x the baseline's throughput; Dask >= 0.9x the local
executor's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import msgspec

from mabeam.experiments import DASK_SWEEP_CONFIG, LocalPool, Sweep, run_sweep
from mabeam.scenario import parse_scenario, run_scenario

from ._common import Figures, Json, best_of_rounds, check, progress, ratio, scaled, timer, verdict

RUNS = 1000
DASK_DEFAULTS: Mapping[str, object] = {}  # no setting changed
WORKERS = 2
SCENARIO: dict[str, Any] = {
    "name": "bargaining benchmark",
    "seed": 0,
    "protocol": {
        "kind": "bargaining",
        "outcome_range": [0, 100],
        "n_steps": 100,
        "reply_timeout_ms": 50,
    },
    "agents": [
        {"id": "seller", "utility": {"ideal": 100, "worst": 0}, "strategy": "boulware"},
        {"id": "buyer", "utility": {"ideal": 0, "worst": 100}, "strategy": "conceder"},
    ],
    "network": {"latency_ms": [1, 20], "drop_rate": 0.05},
}


def _baseline(runs: int) -> float:
    scenario = parse_scenario(msgspec.json.encode(SCENARIO), path="bench", fmt="json")
    start = timer()
    for seed in range(runs):
        report, _ = run_scenario(msgspec.structs.replace(scenario, seed=seed), path="bench")
        assert report.ok
    return timer() - start


def _sweep(runs: int, **options: Any) -> float:
    sweep = Sweep(SCENARIO, seeds=range(runs))
    start = timer()
    result = run_sweep(sweep, **options)
    elapsed = timer() - start
    assert result.complete, result.rows[:1]
    assert result.failed == 0, result.rows[:1]
    return elapsed


def _dask(runs: int, config: Mapping[str, object]) -> Figures:
    """The sweep on a LocalCluster of 2 worker processes started under ``config``: the
    cluster is up and warmed up before the clock starts (as a cluster named by
    ``--scheduler`` is), and closed after it, so it does not idle beside the other
    contenders' runs."""
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set(config):
        cluster = LocalCluster(
            n_workers=WORKERS, threads_per_worker=1, processes=True, dashboard_address=None
        )
    with cluster, Client(cluster.scheduler_address) as client:
        _sweep(WORKERS * 4, executor="dask", scheduler=client)
        return {"seconds": _sweep(runs, executor="dask", scheduler=client)}


def _spin(count: int) -> int:
    """Pure-Python work with no I/O and no allocation to speak of."""
    total = 0
    for i in range(count):
        total += i * i % 7
    return total


def _ceiling(pool: ProcessPoolExecutor, count: int) -> Figures:
    """What 2 cores give right now: the same pure-Python work twice in one process, then
    once in each of 2 worker processes at the same time. On a machine shared with other
    work the second core is partly taken, and no executor can beat this ratio."""
    start = timer()
    _spin(count)
    _spin(count)
    one = timer() - start
    start = timer()
    list(pool.map(_spin, [count] * WORKERS))
    return {"one_process": one, "two_processes": timer() - start}


def run(quick: bool) -> Json:
    runs = scaled(RUNS, quick) * (10 if quick else 1)  # --quick: 100 runs
    _baseline(3)  # imports the protocol modules outside the clock
    with LocalPool(WORKERS) as pool, ProcessPoolExecutor(WORKERS) as spinners:
        list(spinners.map(_spin, [1] * WORKERS))  # both workers up
        _sweep(WORKERS * 4, executor=pool)  # the pool's workers are up
        spin = 2_000_000 if quick else 10_000_000
        samples: dict[str, Callable[[], Figures]] = {
            "ceiling": lambda: _ceiling(spinners, spin),
            "baseline": lambda: {"seconds": _baseline(runs)},
            "serial": lambda: {"seconds": _sweep(runs, executor="serial")},
            "local": lambda: {"seconds": _sweep(runs, executor=pool)},
            "local_cold": lambda: {"seconds": _sweep(runs, executor="local", workers=WORKERS)},
        }
        try:
            import distributed  # noqa: F401

            samples["dask"] = lambda: _dask(runs, DASK_SWEEP_CONFIG)
            samples["dask_default"] = lambda: _dask(runs, DASK_DEFAULTS)
        except ImportError:
            progress("experiments: Dask is not installed; its figure is not measured")
        best = best_of_rounds(samples, repeats=1 if quick else 3, label="experiments")
    ceiling_figures = best.pop("ceiling")
    ceiling = ratio(ceiling_figures["one_process"], ceiling_figures["two_processes"])
    seconds = {name: figures["seconds"] for name, figures in best.items()}
    per_second = {name: round(runs / s, 1) for name, s in seconds.items()}
    base = seconds["baseline"]
    overhead_us = {
        "serial": round((seconds["serial"] - base) / runs * 1e6, 1),
        **{
            name: round((seconds[name] * WORKERS - base) / runs * 1e6, 1)
            for name in ("local", "dask", "dask_default")
            if name in seconds
        },
    }
    local_speedup = ratio(base, seconds["local"])
    dask_vs_local = ratio(seconds["local"], seconds.get("dask"))
    dask_default_vs_local = ratio(seconds["local"], seconds.get("dask_default"))
    startup = round(seconds["local_cold"] - seconds["local"], 3)
    progress(
        f"experiments: {runs} runs, {base / runs * 1e3:.2f} ms each alone; per-run overhead "
        + ", ".join(f"{k} {v:g} us" for k, v in overhead_us.items())
        + f"; local {local_speedup}x one process ({ratio(base, seconds['local_cold'])}x with "
        + f"{startup} s of worker start-up), dask {dask_vs_local}x local "
        + f"({dask_default_vs_local}x with Dask's defaults); "
        + f"2 processes of pure Python on this machine now: {ceiling}x one"
    )
    return {
        "runs": runs,
        "workers": WORKERS,
        "seconds": {k: round(v, 4) for k, v in seconds.items()},
        "runs_per_second": per_second,
        "per_run_ms_alone": round(base / runs * 1e3, 3),
        "per_run_overhead_us": overhead_us,
        "local_startup_s": startup,
        "local_vs_baseline": local_speedup,
        "local_cold_vs_baseline": ratio(base, seconds["local_cold"]),
        "dask_vs_local": dask_vs_local,
        "dask_default_vs_local": dask_default_vs_local,
        "machine_two_process_ceiling": ceiling,
        "local_vs_ceiling": ratio(local_speedup, ceiling),
        **verdict(
            [
                check("local executor / one process", local_speedup, ">=", 1.7),
                check("dask LocalCluster / local executor", dask_vs_local, ">=", 0.9),
            ]
        ),
    }

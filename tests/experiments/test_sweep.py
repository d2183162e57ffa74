"""Running sweeps: rows equal single runs byte for byte, failures and time limits are rows,
an interrupted sweep resumes without repeating a run, and the tables and summary."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import polars as pl
import pytest

from mabeam.cli import main
from mabeam.experiments import LocalPool, Sweep, run_sweep
from mabeam.experiments._sweep import _ctrl_c_after
from mabeam.scenario import Outcome, ScenarioRun, _ping
from mabeam.scenario import _run as run_module
from mabeam.scenario._kind import with_kinds

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "bargaining-sweep.toml"
GRID = {"agents.seller.strategy": ["boulware", "conceder"], "network.drop_rate": [0, 0.2]}
TIMING = ("elapsed_ms", "stats.wall_ms")


def without_wall_time(report: str) -> str:
    """A report with its one wall-clock figure blanked (it differs from run to run)."""
    return re.sub(r'"wall_ms":[0-9.e+-]+', '"wall_ms":0', report)


def comparable(path: Path) -> pl.DataFrame:
    return pl.read_csv(path).drop(TIMING)


def test_rows_are_exactly_what_mabeam_run_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A sample of rows from worker processes (each ran several runs) matches separate
    `mabeam run --seed N --json` runs of the scenario with the settings, byte for byte
    (but for wall_ms, the one wall-clock figure)."""
    sweep = Sweep(EXAMPLE, seeds="0..4", grid=GRID)
    with LocalPool(2) as pool:  # workers kept across sweeps
        again = run_sweep(Sweep(EXAMPLE, seeds=[0], grid=GRID), executor=pool)
        result = run_sweep(sweep, executor=pool, chunk_size=3)
    assert [without_wall_time(row["report"]) for row in again.rows] == [
        without_wall_time(result.rows[i]["report"]) for i in (0, 5, 10, 15)
    ]
    assert result.complete
    assert not result.interrupted
    assert result.failed == 0
    assert [row["run"] for row in result.rows] == list(range(20))
    for row in (result.rows[i] for i in (0, 7, 13, 19)):
        scenario_file = tmp_path / f"run{row['run']}.json"
        scenario_file.write_bytes(msgspec.json.encode(sweep.document_for(row["params"])))
        code = main(["run", str(scenario_file), "--json", "--seed", str(row["seed"])])
        out = capsys.readouterr().out
        assert code == row["exit_code"]
        assert without_wall_time(out) == without_wall_time(row["report"]) + "\n"
    strategies = {row["params"]["agents.seller.strategy"] for row in result.rows}
    assert strategies == {"boulware", "conceder"}


def test_tables_and_summary(tmp_path: Path) -> None:
    """One row per run with settings, seed, status and the flattened result; a summary per
    combination with count, ok rate, and mean / percentiles equal to numpy's."""
    result = run_sweep(Sweep(EXAMPLE, seeds="0..9", grid=GRID), out=tmp_path, executor="serial")
    table = pl.read_parquet(tmp_path / "results.parquet")
    assert table.height == 40
    assert table.columns[:5] == ["run", *GRID, "seed", "status"]
    assert {"result.agreed_value", "result.agreement", "stats.messages_sent"} <= set(table.columns)
    assert pl.read_csv(tmp_path / "results.csv").columns == table.columns
    summary = pl.read_parquet(tmp_path / "summary.parquet")
    assert summary.height == 4
    assert summary["count"].to_list() == [10] * 4
    assert summary["ok_rate"].to_list() == [1.0] * 4
    assert summary["result.agreement.rate"].to_list() == [1.0] * 4
    group = table.filter(
        (pl.col("agents.seller.strategy") == "boulware") & (pl.col("network.drop_rate") == 0.2)
    )["result.offers"].to_numpy()
    row = summary.row(1, named=True)
    assert (row["agents.seller.strategy"], row["network.drop_rate"]) == ("boulware", 0.2)
    import numpy as np

    assert row["result.offers.mean"] == pytest.approx(group.mean())
    assert row["result.offers.p50"] == pytest.approx(np.percentile(group, 50))
    assert row["result.offers.p95"] == pytest.approx(np.percentile(group, 95))
    plot = result.plot("result.agreed_value", path=tmp_path / "p.png")
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_a_run_over_the_time_limit_is_a_row_and_the_others_are_kept(tmp_path: Path) -> None:
    """A run cut at the wall-time limit is a ``timeout`` row; its neighbours still ran."""
    sweep = Sweep(
        EXAMPLE,
        seeds=[0],
        grid={
            "agents.seller.strategy": ["hardliner"],
            "agents.buyer.strategy": ["hardliner"],
            "network.drop_rate": [0],
            "protocol.n_steps": [10, 1_000_000, 12],
        },
        time_limit=1.0,
    )
    result = run_sweep(sweep, out=tmp_path, executor="serial")
    assert [row["status"] for row in result.rows] == ["not_ok", "timeout", "not_ok"]
    timed_out = result.rows[1]
    assert timed_out["error_code"] == "timeout"
    assert "time limit of 1 s" in timed_out["error"]
    assert result.rows[2]["error_code"] == "no_agreement"
    assert result.failed == 1
    assert pl.read_csv(tmp_path / "summary.csv")["failed"].to_list() == [0, 1, 0]


@pytest.fixture
def crashing_ping(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ping driver that raises for agent lists of three: a run that fails for real."""
    original = _ping.KIND

    async def driver(run: ScenarioRun) -> Outcome:
        if len(run.agent_ids) == 3:
            raise RuntimeError("driver broke")
        return await original.drive(run)

    crashing = dataclasses.replace(original, drive=driver)
    monkeypatch.setattr(run_module, "KINDS", with_kinds(run_module.KINDS, [crashing]))


def test_a_run_that_raises_is_an_error_row(crashing_ping: None) -> None:
    document = {"name": "p", "protocol": {"kind": "ping"}, "agents": [{"id": "a"}, {"id": "b"}]}
    sweep = Sweep(
        document,
        seeds="0..1",
        grid={"agents": [[{"id": "a"}], [{"id": "a"}, {"id": "b"}, {"id": "c"}]]},
    )
    result = run_sweep(sweep, executor="serial")
    assert [row["status"] for row in result.rows] == ["ok", "ok", "error", "error"]
    assert "RuntimeError: driver broke" in result.rows[2]["error"]
    assert result.rows[2]["report"] is None


def test_an_interrupted_sweep_resumes_without_repeating_a_run(tmp_path: Path) -> None:
    """Ctrl-C after some rows keeps them in the journal; the same sweep on the same output
    runs only the rest, and the final tables equal those of an uninterrupted sweep."""
    sweep = Sweep(EXAMPLE, seeds="0..5", grid=GRID)
    out = tmp_path / "out"
    seen: list[int] = []

    def interrupt_after_seven(rows: list[dict[str, Any]]) -> None:
        seen.extend(row["run"] for row in rows)
        if len(seen) >= 7:
            raise KeyboardInterrupt

    first = run_sweep(
        sweep, out=out, executor="local", workers=2, chunk_size=1, on_rows=interrupt_after_seven
    )
    assert first.interrupted
    assert not first.complete
    journal = (out / "runs.jsonl").read_bytes().splitlines()
    assert len(journal) == len(first.rows) >= 7
    assert pl.read_csv(out / "results.csv").height == len(first.rows)
    done = {row["run"] for row in first.rows}

    ran: list[int] = []
    second = run_sweep(
        sweep,
        out=out,
        executor="local",
        workers=2,
        on_rows=lambda rows: ran.extend(row["run"] for row in rows),
    )
    assert second.complete
    assert not second.interrupted
    assert second.resumed == len(done)
    assert not done & set(ran)  # nothing finished before ran again
    assert sorted(done | set(ran)) == list(range(24))
    keys = [json.loads(line)["key"] for line in (out / "runs.jsonl").read_bytes().splitlines()]
    assert len(keys) == len(set(keys)) == 24

    fresh = tmp_path / "fresh"
    run_sweep(sweep, out=fresh, executor="serial")
    assert comparable(out / "results.csv").equals(comparable(fresh / "results.csv"))
    summary = pl.read_csv(out / "summary.csv").select("count", "ok_rate", "result.offers.mean")
    assert summary.equals(
        pl.read_csv(fresh / "summary.csv").select("count", "ok_rate", "result.offers.mean")
    )


def test_a_journal_line_cut_short_is_run_again(tmp_path: Path) -> None:
    sweep = Sweep(EXAMPLE, seeds="0..2", grid={"network.drop_rate": [0]})
    run_sweep(sweep, out=tmp_path, executor="serial")
    journal = tmp_path / "runs.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(lines[0] + lines[1][:20])  # killed while writing the second row
    ran: list[int] = []
    result = run_sweep(
        sweep,
        out=tmp_path,
        executor="serial",
        on_rows=lambda rows: ran.extend(r["run"] for r in rows),
    )
    assert ran == [1, 2, 3, 4, 5]
    assert result.resumed == 1
    assert result.complete
    assert len(journal.read_bytes().splitlines()) == 6


def test_an_output_directory_of_another_scenario_is_refused(tmp_path: Path) -> None:
    run_sweep(
        Sweep(EXAMPLE, seeds=[0], grid={"network.drop_rate": [0]}), out=tmp_path, executor="serial"
    )
    other = {"name": "p", "protocol": {"kind": "ping"}, "agents": [{"id": "a"}]}
    with pytest.raises(ValueError, match="holds the results of another scenario"):
        run_sweep(Sweep(other, seeds=[0]), out=tmp_path, executor="serial")


def test_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main(
        [
            "sweep",
            str(EXAMPLE),
            "--seeds",
            "0..2",
            "--set",
            "network.drop_rate=0,0.1",
            "--set",
            "agents.seller.strategy=conceder",
            "--out",
            str(out),
            "--executor",
            "serial",
            "--plot",
            "result.agreed_value",
            "-q",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "sweep: 6 of 6 runs" in captured.out
    assert (
        "agents.seller.strategy=conceder, network.drop_rate=0.1, count=3, ok_rate=1" in captured.out
    )
    assert (out / "plot-result.agreed_value.png").exists()
    assert pl.read_csv(out / "results.csv").height == 6
    # the same command again: everything comes from the journal
    assert (
        main(
            [
                "sweep",
                str(EXAMPLE),
                "--seeds",
                "0..2",
                "--set",
                "network.drop_rate=0,0.1",
                "--set",
                "agents.seller.strategy=conceder",
                "--out",
                str(out),
                "-q",
            ]
        )
        == 0
    )
    assert "(6 from an earlier run)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "network.drop_rate=0,2"], "network.drop_rate: must be a number >= 0 and <= 1"),
        (["--set", "network.drop_rate"], "--set: expected KEY=V1,V2"),
        (["--seeds", "9..1"], "--seeds: range '9..1' needs lo <= hi"),
        (["--executor", "dask"], "scheduler: required with executor 'dask'"),
        (["--time-limit", "-1"], "--time-limit: must be a number of seconds > 0"),
        (["--against", "x"], "--against: only used with --plot"),
    ],
)
def test_bad_command_lines_exit_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code = main(["sweep", str(EXAMPLE), "--seeds", "0", "--out", str(tmp_path), "-q", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert err.count("\n") == 1


def test_ctrl_c_keeps_the_rows_and_the_same_command_resumes(tmp_path: Path) -> None:
    """A real SIGINT to `mabeam sweep` (local worker processes) once the progress bar shows
    finished runs: exit 130, the rows so far in the journal and tables; the same command
    then runs only the rest."""
    out = tmp_path / "out"
    command = [str(EXAMPLE), "--seeds", "0..39", "--out", str(out), "--workers", "2"]
    child = subprocess.Popen(
        [sys.executable, "-m", "mabeam.cli", "sweep", *command, "--progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stderr is not None
    seen = b""
    while not re.search(rb"\b([1-9]\d*)/240\b", seen):  # the bar shows some runs done
        chunk = os.read(child.stderr.fileno(), 4096)  # blocks until the bar is redrawn
        assert chunk, seen
        seen += chunk
    child.send_signal(signal.SIGINT)
    stdout, _ = child.communicate(timeout=60)
    assert child.returncode == 130, stdout
    assert b"interrupted: run the same command to resume" in stdout
    kept = len((out / "runs.jsonl").read_bytes().splitlines())
    assert 0 < kept < 240
    assert pl.read_csv(out / "results.csv").height == kept

    ran: list[int] = []
    sweep = Sweep(EXAMPLE, seeds="0..39")
    result = run_sweep(
        sweep, out=out, workers=2, on_rows=lambda rows: ran.extend(r["run"] for r in rows)
    )
    assert result.complete
    assert result.resumed == kept
    assert len(ran) == 240 - kept
    keys = [json.loads(line)["key"] for line in (out / "runs.jsonl").read_bytes().splitlines()]
    assert len(keys) == len(set(keys)) == 240


def test_a_ctrl_c_while_a_row_is_filed_waits_until_the_row_is_in_both_places() -> None:
    """What keeps the journal and the tables equal when Ctrl-C lands between the two."""
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    filed: list[str] = []

    def file_a_row() -> None:
        with _ctrl_c_after():
            filed.append("tables")
            os.kill(os.getpid(), signal.SIGINT)  # handled at once: it is held
            filed.append("journal")

    with pytest.raises(KeyboardInterrupt):
        file_a_row()
    assert filed == ["tables", "journal"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with _ctrl_c_after():  # no Ctrl-C: nothing raised
        filed.append("again")
    assert filed[-1] == "again"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_handler_of_the_applications_own_is_left_to_handle_ctrl_c() -> None:
    seen: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: seen.append(number))
    try:
        with _ctrl_c_after():
            os.kill(os.getpid(), signal.SIGINT)
            assert seen == [signal.SIGINT]  # its own handler ran, inside the block
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"executor": "cloud"},
            r"executor: invalid value 'cloud' \(allowed: local, dask, serial\)",
        ),
        ({"executor": "local", "workers": 0}, "workers: must be an integer >= 1, got 0"),
        (
            {"executor": "local", "scheduler": "tcp://x:1"},
            "scheduler: only used with executor 'dask'",
        ),
    ],
)
def test_bad_executor_options_name_the_option(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        run_sweep(Sweep(EXAMPLE, seeds=[0]), **options)

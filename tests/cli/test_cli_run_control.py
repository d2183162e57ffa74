"""Stopping a run: --time-limit (exit 3), Ctrl-C (exit 130), and the progress display."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mabeam.cli import EXIT_INTERRUPTED, EXIT_TIME_LIMIT, main


def _valid_jsonl(path: Path) -> int:
    """Every line is a whole JSON object (the file was closed properly); the line count."""
    data = path.read_bytes()
    assert data.endswith(b"\n")
    lines = data.splitlines()
    for line in lines:
        json.loads(line)
    return len(lines)


def test_time_limit_stops_an_endless_run_with_exit_3_and_says_where_it_was(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, endless: Path
) -> None:
    """A billion-round auction is stopped after --time-limit: exit 3, one line saying the
    virtual time and message counts reached, and the trace so far, written whole."""
    trace = tmp_path / "trace.jsonl"
    code = main(["run", str(endless), "--json", "--time-limit", "0.3", "--trace", str(trace)])
    assert code == EXIT_TIME_LIMIT == 3
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("mabeam: time limit of 0.3 s reached at virtual time ")
    assert " messages (" in err
    assert str(trace) in err
    assert _valid_jsonl(trace) > 0


@pytest.mark.parametrize("value", ["0", "-1", "inf", "soon"])
def test_time_limit_must_be_a_positive_number(
    capsys: pytest.CaptureFixture[str], value: str
) -> None:
    """A bad --time-limit is a usage error (exit 2) naming the option."""
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "x.toml", "--time-limit", value])
    assert exit_info.value.code == 2
    assert "--time-limit" in capsys.readouterr().err


def test_ctrl_c_exits_130_with_one_line_and_a_whole_trace(tmp_path: Path, endless: Path) -> None:
    """A real SIGINT to a running `mabeam run`: exit 130, one line, no traceback, and the
    trace recorded so far written and closed (every line whole)."""
    trace = tmp_path / "trace.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "mabeam", "run", str(endless), "-v", "--trace", str(trace)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        # -v logs runtime events: once the coordinator is spawned, the auction is running.
        for line in process.stderr:
            if "actor_spawned" in line and "coordinator" in line:
                break
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == EXIT_INTERRUPTED == 130
    assert out == ""
    assert "Traceback" not in err
    assert "KeyboardInterrupt" not in err
    last = err.splitlines()[-1]
    assert last.startswith("mabeam: interrupted at virtual time ")
    assert str(trace) in last
    assert _valid_jsonl(trace) > 0


def _run_on_a_terminal(*args: str) -> tuple[int, str]:
    """Run `python -m mabeam *args` with stderr on a pseudo-terminal: (exit, what it showed)."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "mabeam", *args],
        stdout=subprocess.DEVNULL,
        stderr=terminal,
        env={**os.environ, "COLUMNS": "200", "TERM": "xterm"},
    )
    os.close(terminal)
    shown = b""
    try:
        while select.select([controller], [], [], 60)[0]:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal closed: the process has exited
                break
            if not chunk:
                break
            shown += chunk
        code = process.wait(timeout=60)
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
            process.wait()
    return code, shown.decode(errors="replace")


def test_progress_shows_on_a_terminal_for_a_long_run(endless: Path) -> None:
    """With stderr a terminal, a run longer than a second shows where it is (virtual time,
    messages, actors); the final line still says why it stopped."""
    code, text = _run_on_a_terminal("run", str(endless), "--time-limit", "1.8")
    assert code == EXIT_TIME_LIMIT
    assert "running: virtual time" in text
    assert "messages sent" in text
    assert "actors alive" in text
    assert "mabeam: time limit of 1.8 s reached" in text


def test_quiet_shows_no_progress_even_on_a_terminal(endless: Path) -> None:
    """--quiet: nothing but the final line, even past a second on a terminal."""
    code, text = _run_on_a_terminal("run", str(endless), "--time-limit", "1.5", "--quiet")
    assert code == EXIT_TIME_LIMIT
    assert "running:" not in text
    assert text.strip().startswith("mabeam: time limit of 1.5 s reached")


def test_a_short_run_shows_no_progress(capsys: pytest.CaptureFixture[str]) -> None:
    """stderr not a terminal (here: captured): no progress, nothing on stderr."""
    from .conftest import PING

    assert main(["run", str(PING)]) == 0
    assert capsys.readouterr().err == ""

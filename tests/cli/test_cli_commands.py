"""`mabeam --version`, `check`, `schema`, `run -` (stdin, --format) and output paths."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mabeam import __version__
from mabeam.cli import main
from mabeam.scenario import json_schema

from .conftest import PING, REPO

SCHEMA_FILE = REPO / "docs" / "scenario.schema.json"


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    """--version prints the package version and exits 0."""
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"mabeam {__version__}\n"


def test_python_dash_m_mabeam_runs_the_cli() -> None:
    """`python -m mabeam` is the same command line as `mabeam`."""
    done = subprocess.run(
        [sys.executable, "-m", "mabeam", "check", str(PING)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{PING}: ok (ping, 6 agents)\n"


def test_help_lists_the_commands_and_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    """--help names every command and documents each exit code."""
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for word in ("run", "check", "schema", "--version", "130", "--time-limit ran out"):
        assert word in out


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """No command: exit 2 naming what is missing."""
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


def test_check_accepts_a_valid_file_without_running_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """check exits 0 with one line and runs nothing (no messages, no summary)."""
    assert main(["check", str(PING)]) == 0
    out, err = capsys.readouterr()
    assert out == f"{PING}: ok (ping, 6 agents)\n"
    assert err == ""


@pytest.mark.parametrize(
    ("document", "mentions"),
    [
        pytest.param(
            'name = "x"\n[protocol]\nkind = "ping"\n[[agents]]\nid = "a"\n[network]\n'
            "drop_rate = 2.0\n",
            ["network.drop_rate", "<= 1"],
            id="out-of-range",
        ),
        pytest.param(
            'name = "x"\n[protocol]\nkind = "auction"\nauction_type = "sealed"\n'
            '[[agents]]\nid = "a"\n',
            ["protocol.auction_type", "sealed_bid, english, dutch, combinatorial"],
            id="enum",
        ),
    ],
)
def test_check_refuses_an_invalid_file_with_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, document: str, mentions: list[str]
) -> None:
    """check exits 2 with one line naming the file, the field and what is allowed."""
    path = tmp_path / "bad.toml"
    path.write_text(document)
    assert main(["check", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"mabeam: error: {path}: ")
    for word in mentions:
        assert word in err


def test_run_reads_the_scenario_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`run -` reads TOML from standard input: the same result as from the file."""
    assert main(["run", str(PING), "--json"]) == 0
    from_file = json.loads(capsys.readouterr().out)
    _stdin(monkeypatch, PING.read_bytes())
    assert main(["run", "-", "--json"]) == 0
    from_stdin = json.loads(capsys.readouterr().out)
    assert from_stdin["result"] == from_file["result"]
    assert from_stdin["stats"]["messages_sent"] == from_file["stats"]["messages_sent"]


def test_run_reads_json_from_stdin_with_format(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--format json decodes standard input as JSON; errors name <stdin>."""
    document = {"name": "j", "protocol": {"kind": "ping"}, "agents": [{"id": "a1"}]}
    _stdin(monkeypatch, json.dumps(document).encode())
    assert main(["run", "-", "--format", "json", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["result"]["answered"] == ["a1"]
    _stdin(monkeypatch, json.dumps(document).encode())
    assert main(["run", "-", "--json"]) == 2  # read as TOML by default
    assert capsys.readouterr().err.startswith("mabeam: error: <stdin>: <document>: invalid TOML")


def test_format_overrides_the_extension(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--format decodes a file whatever its extension; an unreadable file is exit 2."""
    path = tmp_path / "scenario.txt"
    path.write_bytes(PING.read_bytes())
    assert main(["check", str(path), "--format", "toml"]) == 0
    assert main(["check", str(tmp_path / "none.txt"), "--format", "toml"]) == 2
    assert "none.txt: cannot read" in capsys.readouterr().err


def test_schema_is_generated_from_the_types_and_the_committed_copy_is_current(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`mabeam schema` prints the JSON Schema msgspec derives from the Scenario types,
    with the constraints of the fields; docs/scenario.schema.json is that output
    (regenerate it with `make schema`)."""
    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    assert printed == json_schema()
    schema = json.loads(printed)
    assert schema["$ref"] == "#/$defs/Scenario"
    network = schema["$defs"]["NetworkSpec"]["properties"]
    assert network["drop_rate"]["maximum"] == 1
    assert network["drop_rate"]["minimum"] == 0
    auction = schema["$defs"]["AuctionOptions"]["properties"]
    assert set(auction["auction_type"]["enum"]) == {
        "sealed_bid",
        "english",
        "dutch",
        "combinatorial",
    }
    assert schema["$defs"]["AgentSpec"]["properties"]["id"]["pattern"] == r"\S"  # not blank
    assert SCHEMA_FILE.read_text() == printed, "docs/scenario.schema.json is stale: make schema"


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("missing/trace.jsonl", id="missing-folder"),
        pytest.param(".", id="directory"),
        pytest.param("file.txt/trace.jsonl", id="folder-is-a-file"),
        pytest.param("/proc/version", id="unwritable"),
    ],
)
@pytest.mark.parametrize("flag", ["--trace", "--mermaid"])
def test_output_paths_are_checked_before_the_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, flag: str, target: str
) -> None:
    """A bad output path is exit 2 with one line naming the flag, before anything runs."""
    (tmp_path / "file.txt").write_text("x")
    path = target if target.startswith("/") else str(tmp_path / target)
    assert main(["run", str(PING), "--json", flag, path]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # no run: no report
    assert err.count("\n") == 1
    assert err.startswith(f"mabeam: error: {flag} {path}: ")
    assert "Traceback" not in err


def test_a_good_output_path_is_not_left_behind_by_the_check(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Checking a new output path creates no file when the scenario then fails."""
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n')
    trace = tmp_path / "trace.jsonl"
    assert main(["run", str(bad), "--trace", str(trace)]) == 2
    assert not trace.exists()

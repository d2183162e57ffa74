"""`mabeam run`: output, exit codes, --json, --seed, --trace, and the shared scenarios."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from mabeam.cli import main
from mabeam.scenario import _run as run_module
from mabeam.scenario import protocol_kinds
from mabeam.scenario._kind import with_kinds
from mabeam.scenario._ping import PingOptions

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "tests" / "scenarios"
EXAMPLE = REPO / "examples" / "ping.toml"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """main() configures structlog for the command line; give the next test the defaults."""
    yield
    structlog.reset_defaults()


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["run", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_output_is_one_document_with_the_contract_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--json prints exactly one JSON document with the SCENARIOS.md fields; exit 0."""
    code, out, err = run_cli(capsys, str(EXAMPLE), "--json")
    assert code == 0
    document = json.loads(out)
    assert out.count("\n") == 1
    assert list(document) == ["scenario", "protocol", "seed", "ok", "result", "error", "stats"]
    assert document["protocol"] == "ping"
    assert document["ok"] is True
    assert document["seed"] == 4
    assert set(document["result"]) == {"answered", "unanswered"}
    assert "a2" in document["result"]["unanswered"]  # crashed at 0 ms
    assert err == ""


def test_summary_output_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --json the summary names the scenario, the outcome and the message counts."""
    code, out, _ = run_cli(capsys, str(EXAMPLE))
    assert code == 0
    assert "scenario: ping with faults" in out
    assert "outcome: ok" in out
    assert "messages:" in out


def test_seed_flag_overrides_the_file(capsys: pytest.CaptureFixture[str]) -> None:
    """--seed replaces the file's seed in the run and in the output."""
    code, out, _ = run_cli(capsys, str(EXAMPLE), "--json", "--seed", "9")
    assert code == 0
    assert json.loads(out)["seed"] == 9


def test_trace_file_is_identical_for_the_same_seed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--trace writes JSON lines; the same seed writes the same bytes, another seed not."""
    first, second, third = tmp_path / "1.jsonl", tmp_path / "2.jsonl", tmp_path / "3.jsonl"
    run_cli(capsys, str(EXAMPLE), "--json", "--trace", str(first))
    run_cli(capsys, str(EXAMPLE), "--json", "--trace", str(second))
    run_cli(capsys, str(EXAMPLE), "--json", "--trace", str(third), "--seed", "5")
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() != third.read_bytes()
    lines = [json.loads(line) for line in first.read_text().splitlines()]
    assert {line["event"] for line in lines} == {"fault", "send", "deliver", "drop"}
    for line in lines:
        assert {"t_ms", "event", "from", "to", "type"} <= set(line)


def test_mermaid_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--mermaid writes a sequence diagram of the run."""
    target = tmp_path / "run.mmd"
    run_cli(capsys, str(EXAMPLE), "--mermaid", str(target))
    text = target.read_text()
    assert text.startswith("sequenceDiagram\n")
    assert "coordinator->>a1" in text


@pytest.mark.parametrize(
    ("document", "mentions"),
    [
        pytest.param(
            'name = "x"\n[protocol]\nkind = "ping"\nreply_timeout = 5\n[[agents]]\nid = "a"\n',
            ["protocol.reply_timeout"],
            id="unknown-field",
        ),
        pytest.param(
            'name = "x"\n[protocol]\nkind = "ping"\n[[agents]]\nid = "a"\n[[agents]]\nid = "a"\n',
            ["agents[1].id", "duplicate"],
            id="duplicate-id",
        ),
        pytest.param(
            'name = "x"\n[protocol]\nkind = "ping"\n[[agents]]\nid = "a"\n'
            '[[faults]]\nat_ms = 1\ncrash = "zz"\n',
            ["faults[0].crash", "zz"],
            id="unknown-fault-target",
        ),
        pytest.param(
            'name = "x"\n[protocol]\nkind = "ping"\n[[agents]]\nid = "a"\n'
            "[network]\ndrop_rate = 2.0\n",
            ["network.drop_rate"],
            id="bad-rate",
        ),
        pytest.param('name = "x"\n[protocol\n', ["line"], id="syntax"),
    ],
)
def test_invalid_scenarios_exit_2_with_one_line_naming_file_and_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, document: str, mentions: list[str]
) -> None:
    """An invalid scenario exits 2 with one stderr line naming the file and the field."""
    path = tmp_path / "bad.toml"
    path.write_text(document)
    code, out, err = run_cli(capsys, str(path), "--json")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "bad.toml" in err
    for word in mentions:
        assert word in err


def test_missing_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A scenario file that does not exist is an exit-2 error naming it."""
    code, _, err = run_cli(capsys, str(tmp_path / "nope.toml"))
    assert code == 2
    assert "nope.toml" in err


def test_bad_command_line_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A bad flag is exit 2 with a message, no traceback."""
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(EXAMPLE), "--seed", "many"])
    assert exit_info.value.code == 2
    assert "--seed" in capsys.readouterr().err


def test_no_agreement_exits_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A protocol that ends without agreement exits 1 with ok false and its error code."""

    async def failing(run: run_module.ScenarioRun) -> run_module.Outcome:
        return run_module.Outcome(
            ok=False, error=run_module.RunFailure(code="no_quorum", message="no live majority")
        )

    failing_ping = run_module.Kind(options=PingOptions, drive=failing)
    monkeypatch.setattr(run_module, "KINDS", with_kinds(run_module.KINDS, [failing_ping]))
    code, out, _ = run_cli(capsys, str(EXAMPLE), "--json")
    assert code == 1
    document = json.loads(out)
    assert document["ok"] is False
    assert document["result"] is None
    assert document["error"] == {"code": "no_quorum", "message": "no live majority"}


def test_console_script_prints_no_traceback_on_invalid_input(tmp_path: Path) -> None:
    """The installed command, in a fresh process, exits 2 with a single line, no traceback."""
    path = tmp_path / "typo.toml"
    path.write_text('name = "x"\n[protocol]\nkind = "pingg"\n[[agents]]\nid = "a"\n')
    done = subprocess.run(
        [sys.executable, "-m", "mabeam.cli", "run", str(path), "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert "protocol.kind" in done.stderr


def _shared_cases() -> list[Any]:
    if not SCENARIOS.is_dir():
        return [pytest.param(None, id="shared-scenarios-missing")]
    return [pytest.param(path, id=path.stem) for path in sorted(SCENARIOS.glob("*.toml"))]


def _subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and _subset(value, actual[key]) for key, value in expected.items()
        )
    if isinstance(expected, list) and any(isinstance(item, dict) for item in expected):
        # A list of records (conflict resolutions): same length, each a subset of its match.
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(_subset(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return bool(expected == actual)


@pytest.mark.parametrize("path", _shared_cases())
def test_shared_scenarios(capsys: pytest.CaptureFixture[str], path: Path | None) -> None:
    """Each shared scenario gives its expected exit, ok and result fields when its protocol
    is implemented, and is refused with exit 2 (naming protocol.kind) until then."""
    assert path is not None, f"the shared scenarios are missing: expected them in {SCENARIOS}"
    expect = json.loads(path.with_suffix(".expect.json").read_text())
    code, out, err = run_cli(capsys, str(path), "--json")
    kind = _kind(path)
    if expect["exit"] != 2 and kind not in protocol_kinds():
        assert code == 2
        assert "protocol.kind" in err
        assert "not implemented yet" in err
        return
    assert code == expect["exit"], err
    if code == 2:
        for word in expect.get("stderr_mentions", []):
            assert word in err
        return
    document = json.loads(out)
    assert document["ok"] is expect["ok"]
    if "result" in expect:
        assert _subset(expect["result"], document["result"]), document["result"]
    if "error" in expect:
        assert _subset(expect["error"], document["error"]), document["error"]
    if "deterministic" in expect.get("checks", []):
        again = run_cli(capsys, str(path), "--json")[1]
        assert json.loads(again)["result"] == document["result"]


def _kind(path: Path) -> str:
    import tomllib

    kind = tomllib.loads(path.read_text())["protocol"]["kind"]
    assert isinstance(kind, str)
    return kind


@pytest.mark.parametrize(
    "path", [pytest.param(p, id=p.stem) for p in sorted((REPO / "examples").glob("*.toml"))]
)
def test_example_scenarios_run_and_replay_byte_for_byte(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, path: Path
) -> None:
    """Every example scenario reaches an outcome (exit 0); the same seed gives the same
    result and the same trace file, byte for byte."""
    first, second = tmp_path / "1.jsonl", tmp_path / "2.jsonl"
    code, out, err = run_cli(capsys, str(path), "--json", "--trace", str(first))
    assert code == 0, err
    again = run_cli(capsys, str(path), "--json", "--trace", str(second))[1]
    assert json.loads(out)["result"] == json.loads(again)["result"]
    assert first.read_bytes() == second.read_bytes()

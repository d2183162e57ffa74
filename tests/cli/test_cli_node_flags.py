"""``mabeam node`` refuses bad flags before it connects: exit 2, one line naming the flag."""

from __future__ import annotations

import pytest

from mabeam.cli import main


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (
            "no_such_module.Thing",
            "cannot import module 'no_such_module': No module named 'no_such_module'",
        ),
        ("mabeam.runtime.NoSuchActor", "module 'mabeam.runtime' has no 'NoSuchActor'"),
        ("mabeam.cli.main", "not an Actor subclass (function)"),
        ("mabeam.runtime.ActorSystem", "not an Actor subclass (ActorSystem)"),
        ("Thing", "expected module.Class (or module:Class)"),
    ],
)
def test_a_bad_allow_is_exit_2_naming_the_flag_and_the_value(
    value: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["node", "--name", "n1", "--allow", "mabeam.runtime.Supervisor", "--allow", value])
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"mabeam: error: --allow {value}: {problem}\n"


def test_a_bad_name_or_timing_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["node", "--name", "a.b"]) == 2
    assert capsys.readouterr().err == (
        "mabeam: error: --name 'a.b': must be letters, digits, '-' and '_'\n"
    )
    assert main(["node", "--name", "n1", "--heartbeat", "2", "--down-after", "1"]) == 2
    assert capsys.readouterr().err.startswith("mabeam: error: --down-after: must be longer")


def test_node_needs_a_name(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["node"])
    assert exit_info.value.code == 2
    assert "--name" in capsys.readouterr().err

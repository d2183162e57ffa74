"""The human summary at scale: counts, natural order, whole values, in-flight messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mabeam.cli import LIST_SHOWN, _compact, main, natural_key

from .conftest import ping_scenario


def _run(capsys: pytest.CaptureFixture[str], path: Path, *args: str) -> tuple[int, str]:
    code = main(["run", str(path), *args])
    return code, capsys.readouterr().out


def test_agent_lists_are_counts_in_natural_order(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """12 agents who all answer: "12/12 agents", a2 before a10 (the JSON stays sorted)."""
    path = tmp_path / "twelve.toml"
    path.write_text(ping_scenario(12))
    code, out = _run(capsys, path)
    assert code == 0
    assert "(protocol ping, seed 0, 12 agents)" in out
    expected = ", ".join(f"a{i}" for i in range(1, 13))
    assert f"  answered: 12/12 agents: {expected}\n" in out
    assert "  unanswered: []" in out or "  unanswered: 0/12 agents" in out
    code, document = _run(capsys, path, "--json")
    assert json.loads(document)["result"]["answered"][:3] == ["a1", "a10", "a11"]


def test_a_thousand_agents_read_as_a_count_and_the_first_ids(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """1,000 agents: one line with "1000/1000 agents", the first ids and how many more."""
    path = tmp_path / "thousand.toml"
    path.write_text(ping_scenario(1000))
    code, out = _run(capsys, path)
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith("  answered:"))
    first = ", ".join(f"a{i}" for i in range(1, LIST_SHOWN + 1))
    assert line == f"  answered: 1000/1000 agents: {first}, ... and {1000 - LIST_SHOWN} more"
    assert len(out.splitlines()) < 10


def test_ping_is_not_ok_when_nobody_answered(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Every agent crashed: exit 1, ok false, error no_answers, the result still shown."""
    path = tmp_path / "silent.toml"
    path.write_text(ping_scenario(3, crash_all=True))
    code, out = _run(capsys, path, "--json")
    assert code == 1
    document = json.loads(out)
    assert document["ok"] is False
    assert document["error"]["code"] == "no_answers"
    assert document["result"] == {"answered": [], "unanswered": ["a1", "a2", "a3"]}
    code, out = _run(capsys, path)
    assert "outcome: no_answers: none of the 3 agents answered within 1 s" in out
    assert "  answered: 0/3 agents" in out
    assert "  unanswered: 3/3 agents: a1, a2, a3" in out


def test_messages_in_flight_at_the_end_are_explained(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A reply that arrives after the timeout is still in flight when ping ends: said so."""
    path = tmp_path / "slow.toml"
    path.write_text(
        ping_scenario(2).replace('kind = "ping"', 'kind = "ping"\nreply_timeout_ms = 5')
        + "[network]\nlatency_ms = 10\n"
    )
    code, out = _run(capsys, path)
    assert code == 1  # nobody answered within 5 ms
    assert "still in flight when the outcome was reached" in out


def test_natural_key_orders_digit_runs_as_numbers() -> None:
    """a2 < a10 < b1; node-2-x < node-10-a."""
    names = ["a10", "b1", "a2", "node-10-a", "a1", "node-2-x"]
    assert sorted(names, key=natural_key) == ["a1", "a2", "a10", "b1", "node-2-x", "node-10-a"]


@given(st.lists(st.text(alphabet="0123456789abcdef", min_size=64, max_size=64), max_size=40))
def test_long_values_are_cut_between_items_never_inside_one(hashes: list[str]) -> None:
    """A list of 64-character hashes is shortened at an item: every hash shown is whole,
    and the text says how many were left out."""
    text = _compact({"blocks": hashes}, 200)
    shown = [part for part in text.replace('"', " ").split() if len(part.strip(",[]{}")) >= 8]
    whole = [part.strip(",[]{}") for part in shown]
    assert all(part in hashes for part in whole if part != "blocks:")
    if len(text) > 400:
        pytest.fail(f"not shortened: {len(text)} characters")
    left_out = len(hashes) - len([p for p in whole if p in hashes])
    if left_out:
        assert f"... {left_out} more" in text

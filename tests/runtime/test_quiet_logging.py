"""Quiet by default: nothing below WARNING unless the application asks; crash reports once.

These tests route through the standard library (structlog left unconfigured), as a
user who configured nothing gets; ``test_logging.py`` covers the structlog route.
"""

from __future__ import annotations

import io
import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
import structlog

import mabeam._log
from mabeam import (
    Actor,
    ActorCrashedError,
    ActorSystem,
    ChildSpec,
    ConfigError,
    Supervisor,
    configure_logging,
)

from ._support import Crash, Events, Recorder

REPO = Path(__file__).resolve().parents[2]


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def events(self, level: int = logging.DEBUG) -> list[str]:
        return [getattr(r, "event", "") for r in self.records if r.levelno >= level]


@pytest.fixture
def stdlib_route() -> Iterator[_Records]:
    """structlog unconfigured, a recording handler on ``mabeam``; everything restored after."""
    structlog.reset_defaults()
    logger = logging.getLogger("mabeam")
    saved = (logger.level, logger.propagate, list(logger.handlers), mabeam._log._force_stdlib)
    handler = _Records()
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        logger.handlers[:] = saved[2]
        mabeam._log._force_stdlib = saved[3]
        structlog.reset_defaults()


def _readme_quickstart() -> tuple[str, str]:
    """The README's first Python block and the output block shown right after it."""
    text = (REPO / "README.md").read_text()
    match = re.search(r"```python\n(.*?)```\n\nIt prints:\n\n```text\n(.*?)```", text, re.S)
    assert match is not None, "README.md: the quickstart must be followed by its output"
    return match.group(1), match.group(2)


def test_readme_quickstart_prints_exactly_what_the_readme_shows(tmp_path: Path) -> None:
    """Run as a user would, configuring nothing: stdout is the README's lines, nothing more;
    stderr carries the one crash report (WARNING and up), and no debug or info event."""
    code, shown = _readme_quickstart()
    script = tmp_path / "quickstart.py"
    script.write_text(code)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == shown
    reports = [line for line in done.stderr.splitlines() if line.startswith("actor_crashed")]
    assert reports == ["actor_crashed actor=c actor_id=4 reason=\"RuntimeError('asked to crash')\""]
    for quiet in ("actor_spawned", "child_exited", "child_restarted", "system_started"):
        assert quiet not in done.stderr


async def test_unconfigured_events_below_warning_are_not_emitted(stdlib_route: _Records) -> None:
    """The ``mabeam`` logger's level is not set: debug and info events never reach a handler."""
    async with ActorSystem() as system:
        ref = await system.spawn(Recorder, Events(), name="r")
        await ref.stop()
    assert logging.getLogger("mabeam").getEffectiveLevel() == logging.WARNING
    assert stdlib_route.records == []


async def test_stdlib_level_opts_in_with_structured_records(stdlib_route: _Records) -> None:
    """Setting a level on ``mabeam`` turns events on, each with ``event`` and ``fields``."""
    logging.getLogger("mabeam").setLevel(logging.DEBUG)
    async with ActorSystem() as system:
        ref = await system.spawn(Recorder, Events(), name="r")
    spawned = [r for r in stdlib_route.records if getattr(r, "event", None) == "actor_spawned"]
    assert [(r.name, r.levelno, r.fields) for r in spawned] == [  # type: ignore[attr-defined]
        ("mabeam.runtime", logging.DEBUG, {"actor": "r", "actor_id": ref.id, "parent": "root"})
    ]
    assert spawned[0].getMessage() == f"actor_spawned actor=r actor_id={ref.id} parent=root"


async def test_a_crash_is_reported_once_at_error_with_actor_and_reason(
    stdlib_route: _Records,
) -> None:
    """Unconfigured, a crash still reaches the application: one ERROR record, with the actor,
    the reason and the exception (for the traceback), and nothing else at WARNING or up."""
    async with ActorSystem() as system:
        ref = await system.spawn(Recorder, Events(), name="r")
        ref.tell(Crash("kaput"))
        with anyio.fail_after(5):
            await ref.join()
    errors = [r for r in stdlib_route.records if r.levelno >= logging.WARNING]
    assert [(r.levelno, getattr(r, "event", None)) for r in errors] == [
        (logging.ERROR, "actor_crashed")
    ]
    fields = errors[0].fields  # type: ignore[attr-defined]
    assert fields["actor"] == "r"
    assert "kaput" in fields["reason"]
    assert errors[0].exc_info is not None


class _Crasher(Actor):
    async def receive(self, message: object) -> object:
        raise RuntimeError("always")


async def test_a_supervisor_giving_up_is_reported_at_error(stdlib_route: _Records) -> None:
    """Past its intensity the supervisor's escalation is an ERROR with the child and cause."""
    async with ActorSystem() as system:
        sup = await system.spawn(
            Supervisor, [ChildSpec(id="c", actor=_Crasher, name="c")], intensity=0
        )
        with pytest.raises(ActorCrashedError):
            await system.whereis("c").ask("x")  # type: ignore[union-attr]
        with anyio.fail_after(5):
            await sup.join()
    escalated = [
        r for r in stdlib_route.records if getattr(r, "event", "") == "supervisor_escalated"
    ]
    assert len(escalated) == 1
    assert escalated[0].levelno == logging.ERROR
    assert escalated[0].fields["child"] == "c"  # type: ignore[attr-defined]


async def test_configure_logging_human_readable(stdlib_route: _Records) -> None:
    """One line turns events on at a level, on a stream of the caller's choice."""
    stream = io.StringIO()
    configure_logging("debug", stream=stream)
    async with ActorSystem() as system:
        ref = await system.spawn(Recorder, Events(), name="r")
    lines = stream.getvalue().splitlines()
    assert any(
        line.endswith(
            f"DEBUG   mabeam.runtime: actor_spawned actor=r actor_id={ref.id} parent=root"
        )
        for line in lines
    ), lines


async def test_configure_logging_json_lines_even_with_structlog_configured(
    stdlib_route: _Records,
) -> None:
    """``json=True`` writes one object per line; the helper wins over a structlog set-up."""
    structlog.configure(processors=[structlog.processors.JSONRenderer()])
    stream = io.StringIO()
    configure_logging("info", json=True, stream=stream)
    async with ActorSystem() as system:
        ref = await system.spawn(Recorder, Events(), name="r")
        ref.tell(Crash("kaput"))
        with anyio.fail_after(5):
            await ref.join()
    documents = [json.loads(line) for line in stream.getvalue().splitlines()]
    crashed = [d for d in documents if d["event"] == "actor_crashed"]
    assert len(crashed) == 1
    assert crashed[0]["level"] == "error"
    assert crashed[0]["logger"] == "mabeam.runtime"
    assert crashed[0]["actor"] == "r"
    assert crashed[0]["exception"].endswith("Boom: kaput")
    assert not any(d["event"] == "actor_spawned" for d in documents)  # debug < info


def test_configure_logging_again_replaces_its_handler(stdlib_route: _Records) -> None:
    """Calling the helper twice leaves one handler of its own, not two."""
    configure_logging("info", stream=io.StringIO())
    handler = configure_logging("warning", stream=io.StringIO())
    ours = [h for h in logging.getLogger("mabeam").handlers if not isinstance(h, _Records)]
    assert ours == [handler]
    assert logging.getLogger("mabeam").level == logging.WARNING


@pytest.mark.parametrize("level", ["verbose", "", "INFO2"])
def test_configure_logging_rejects_an_unknown_level(level: str) -> None:
    with pytest.raises(ConfigError, match=r"^level: unknown level .* \(allowed: debug, info,"):
        configure_logging(level)


def test_configure_logging_rejects_a_level_of_the_wrong_type() -> None:
    with pytest.raises(TypeError, match="level must be a level name"):
        configure_logging(2.5)  # type: ignore[arg-type]

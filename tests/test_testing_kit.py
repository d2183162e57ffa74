"""mabeam.testing, the pytest plugin users get: its marker, fixtures and event capture."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest
import structlog

import mabeam._log
from mabeam import Actor, ActorSystem, configure_logging
from mabeam.sim import VirtualEventLoop, is_virtual
from mabeam.testing import capture_events

pytest_plugins = ["pytester"]


@pytest.fixture
def restore_logging() -> Iterator[None]:
    logger = logging.getLogger("mabeam")
    saved = (logger.level, logger.propagate, list(logger.handlers), mabeam._log._force_stdlib)
    structlog.reset_defaults()
    try:
        yield
    finally:
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        logger.handlers[:] = saved[2]
        mabeam._log._force_stdlib = saved[3]
        structlog.reset_defaults()


@pytest.mark.virtual_time
async def test_the_marker_runs_the_test_on_a_virtual_loop() -> None:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualEventLoop)
    before = loop.time()
    await asyncio.sleep(3600)  # an hour, at once
    assert loop.time() - before == pytest.approx(3600)


async def test_the_fixture_runs_the_test_on_a_virtual_loop(
    virtual_time: asyncio.AbstractEventLoop,
) -> None:
    assert virtual_time is asyncio.get_running_loop()
    assert is_virtual(virtual_time)


async def test_unmarked_tests_keep_asyncio_s_loop() -> None:
    assert not is_virtual()


async def test_actor_system_is_running_and_stops_after(actor_system: ActorSystem) -> None:
    ref = await actor_system.spawn(_Echo, name="echo")
    assert await ref.ask("hi") == "hi"
    assert actor_system.whereis("echo") is ref


def test_events_are_captured_on_the_stdlib_route(restore_logging: None) -> None:
    async def main() -> None:
        async with ActorSystem() as system:
            await system.spawn(_Echo, name="echo")

    with capture_events() as events:
        asyncio.run(main())
    spawned = events.find("actor_spawned", actor="echo")
    assert spawned
    assert spawned[0]["level"] == "debug"
    assert logging.getLogger("mabeam").level == logging.NOTSET  # restored


def test_capture_leaves_configure_logging_on_the_stdlib_route(restore_logging: None) -> None:
    structlog.configure(processors=[structlog.processors.KeyValueRenderer()])
    configure_logging("warning")  # forces stdlib even though structlog is configured
    with capture_events("info") as events:
        mabeam._log.get_logger("mabeam.runtime").info("hello", n=1)
        mabeam._log.get_logger("mabeam.runtime").debug("hidden")
    assert events == [{"event": "hello", "level": "info", "n": 1}]
    assert logging.getLogger("mabeam").level == logging.WARNING


def test_events_are_captured_on_the_structlog_route(restore_logging: None) -> None:
    seen: list[str] = []

    def application_processor(_logger: object, _method: str, event_dict: dict) -> str:
        seen.append(event_dict["event"])
        return "line"

    structlog.configure(processors=[application_processor])
    log = mabeam._log.get_logger("mabeam.runtime").bind(actor="a")
    with capture_events() as events:
        log.info("started", n=2)
        assert events.names() == ["started"]  # live, while the block runs
        log.debug("detail")
    assert events.find("started", actor="a", n=2) == [
        {"event": "started", "level": "info", "actor": "a", "n": 2}
    ]
    assert events.names() == ["started", "detail"]
    assert seen == []  # captured instead of reaching the application's processors
    log.info("after")
    assert seen == ["after"]  # and the application's configuration is back


def test_the_plugin_is_registered_for_users(pytester: pytest.Pytester) -> None:
    """A user's project, with no conftest: the marker and the fixtures come by entry point."""
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function")
    pytester.makepyfile(
        """
        import asyncio
        import pytest
        from mabeam.sim import is_virtual

        @pytest.mark.virtual_time
        async def test_marked():
            assert is_virtual()
            await asyncio.sleep(60)

        async def test_system(actor_system, mabeam_events):
            assert actor_system.whereis("nobody") is None
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=2)


class _Echo(Actor):
    async def receive(self, message: object) -> object:
        return message

"""mabeam's pytest plugin (entry point ``pytest11``), documented in :mod:`mabeam.testing`.

A top-level module, outside the ``mabeam`` package, and importing mabeam only when a test
uses one of its fixtures or the ``virtual_time`` marker: pytest loads entry-point plugins
before coverage starts, and importing ``mabeam`` here would hide its module-level code
from a project's coverage measurement.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mabeam import ActorSystem
    from mabeam.testing import CapturedEvents

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the marker still registers; async fixtures need it
    pytest_asyncio = None  # type: ignore[assignment]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "virtual_time: run this async test on mabeam's VirtualEventLoop (virtual clock)",
    )


def _wants_virtual_time(item: pytest.Item) -> bool:
    if item.get_closest_marker("virtual_time") is not None:
        return True
    return "virtual_time" in getattr(item, "fixturenames", ())


@pytest.hookimpl(optionalhook=True)
def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Tests marked ``virtual_time`` (or using the fixture) run on a VirtualEventLoop.

    pytest-asyncio asks for a non-empty mapping for every async test once any plugin
    implements this hook, so other tests get asyncio's default loop.
    """
    if _wants_virtual_time(item):
        from mabeam.sim import VirtualEventLoop

        return {"virtual": VirtualEventLoop}
    return {"asyncio": asyncio.new_event_loop}


@pytest.fixture
def mabeam_events() -> Iterator[CapturedEvents]:
    """Every event mabeam logs during the test, from debug up (see ``capture_events``)."""
    from mabeam.testing import capture_events

    with capture_events("debug") as events:
        yield events


if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def virtual_time() -> asyncio.AbstractEventLoop:
        """The test runs on a VirtualEventLoop; this is that loop (``loop.time()`` is the
        virtual clock, in seconds)."""
        from mabeam.sim import is_virtual

        loop = asyncio.get_running_loop()
        if not is_virtual(loop):  # pragma: no cover - another loop-factory hook won
            raise RuntimeError(
                "virtual_time: the test's loop is not virtual; another "
                "pytest_asyncio_loop_factories hook chose its loop"
            )
        return loop

    @pytest_asyncio.fixture
    async def actor_system() -> AsyncIterator[ActorSystem]:
        """An :class:`~mabeam.ActorSystem` for the test, stopped (every actor, in reverse
        order) when the test ends."""
        from mabeam import ActorSystem

        async with ActorSystem(name="test") as system:
            yield system

else:  # pragma: no cover

    def _missing(*_args: Any) -> Any:
        raise RuntimeError(
            "mabeam.testing's async fixtures need pytest-asyncio: pip install 'mabeam[testing]'"
        )

    virtual_time = pytest.fixture(name="virtual_time")(_missing)
    actor_system = pytest.fixture(name="actor_system")(_missing)

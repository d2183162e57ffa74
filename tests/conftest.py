"""Run async tests marked ``virtual_time`` on a :class:`VirtualEventLoop`.

pytest-asyncio 1.x removed the ``event_loop`` fixture and deprecates overriding
``event_loop_policy`` (a ``PytestDeprecationWarning``, an error under
``filterwarnings = ["error"]``); its supported way to choose a loop is the
``pytest_asyncio_loop_factories`` hook. The hook must return a non-empty mapping for
every async test in its scope, so unmarked tests get asyncio's default loop.
Mark a test, class, or module (``pytestmark = pytest.mark.virtual_time``) to opt in.

Tests never sleep on the wall clock: :func:`_no_wall_clock_sleep` fails any test whose
code sleeps a positive delay on a loop that is not virtual. Timed behaviour runs on
virtual time; anything else waits on events.
"""

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from mabeam.sim._clock import VirtualEventLoop, is_virtual

# Wall-clock deadlines make property tests flaky on a loaded 2-core CI machine; the
# pytest-timeout bound still catches a hung example.
settings.register_profile("mabeam", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("mabeam")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "virtual_time: run this async test on a VirtualEventLoop (virtual clock)"
    )


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    if item.get_closest_marker("virtual_time") is not None:
        return {"virtual": VirtualEventLoop}
    return {"asyncio": asyncio.new_event_loop}


_real_sleep = asyncio.sleep


async def _guarded_sleep(delay: float, result: Any = None) -> Any:
    if delay > 0 and not is_virtual():
        raise AssertionError(
            f"a test slept {delay} s on the wall clock: mark it virtual_time or wait on an event"
        )
    return await _real_sleep(delay, result)


@pytest.fixture(autouse=True)
def _no_wall_clock_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """asyncio.sleep and anyio.sleep with a positive delay need a virtual loop."""
    from anyio._backends import _asyncio as anyio_asyncio

    monkeypatch.setattr(asyncio, "sleep", _guarded_sleep)
    monkeypatch.setattr(anyio_asyncio, "sleep", _guarded_sleep)

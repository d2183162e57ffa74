"""The project's own test settings.

The ``virtual_time`` marker (an async test runs on a :class:`VirtualEventLoop`) comes
from mabeam's pytest plugin, :mod:`mabeam.testing` (entry point ``pytest11``), which
users get too. Mark a test, class, or module (``pytestmark = pytest.mark.virtual_time``).

Tests never sleep on the wall clock: :func:`_no_wall_clock_sleep` fails any test whose
code sleeps a positive delay on a loop that is not virtual. Timed behaviour runs on
virtual time; anything else waits on events.
"""

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from mabeam.sim._clock import is_virtual

# Wall-clock deadlines make property tests flaky on a loaded 2-core CI machine; the
# pytest-timeout bound still catches a hung example.
settings.register_profile("mabeam", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("mabeam")


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

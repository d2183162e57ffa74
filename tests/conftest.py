"""Run async tests marked ``virtual_time`` on a :class:`VirtualEventLoop`.

pytest-asyncio 1.x removed the ``event_loop`` fixture and deprecates overriding
``event_loop_policy`` (a ``PytestDeprecationWarning``, an error under
``filterwarnings = ["error"]``); its supported way to choose a loop is the
``pytest_asyncio_loop_factories`` hook. The hook must return a non-empty mapping for
every async test in its scope, so unmarked tests get asyncio's default loop.
Mark a test, class, or module (``pytestmark = pytest.mark.virtual_time``) to opt in.
"""

import asyncio
from collections.abc import Callable, Mapping

import pytest
from hypothesis import HealthCheck, settings

from mabeam.sim._clock import VirtualEventLoop

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

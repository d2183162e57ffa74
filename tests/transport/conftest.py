"""Fixtures for the NATS transport's tests: a real ``nats-server`` on a free loopback port.

- ``nats_server``: a fresh server per test (it can be stopped and restarted freely);
- ``nats_jetstream_server``: the same with JetStream, its store in a temporary directory;
- ``nats_server_module``: one server shared by a module's tests (started without an event
  loop, so it does not tie the tests to one loop). Don't stop it in a test.

The wall-clock guard of ``tests/conftest.py`` is kept, with one exception: nats-py's own
timers (its ping interval, its back-off between reconnect attempts) sleep on the wall
clock inside the library, as a network client must. Only sleeps that nats-py's modules
call are let through; the tests and ``mabeam.transport`` still wait on events, each wait
bounded by ``anyio.fail_after``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from mabeam.sim._clock import is_virtual
from mabeam.transport._server import NatsServer

_real_sleep = asyncio.sleep  # captured at import, before any test's guard replaces it


async def _guarded_sleep(delay: float, result: Any = None) -> Any:
    caller = sys._getframe(1).f_globals.get("__name__", "")
    if delay > 0 and not is_virtual() and not caller.startswith("nats."):
        raise AssertionError(
            f"a test slept {delay} s on the wall clock ({caller}): wait on an event instead"
        )
    return await _real_sleep(delay, result)


@pytest.fixture(autouse=True)
def _no_wall_clock_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """Overrides tests/conftest.py's guard: the same, except for nats-py's own timers."""
    from anyio._backends import _asyncio as anyio_asyncio

    monkeypatch.setattr(asyncio, "sleep", _guarded_sleep)
    monkeypatch.setattr(anyio_asyncio, "sleep", _guarded_sleep)


@pytest.fixture
async def nats_server() -> AsyncIterator[NatsServer]:
    """A running ``nats-server`` of the test's own; stopped (no process left) afterwards."""
    async with NatsServer() as server:
        yield server


@pytest.fixture
async def nats_jetstream_server() -> AsyncIterator[NatsServer]:
    """A running ``nats-server`` with JetStream; its store is removed afterwards."""
    async with NatsServer(jetstream=True) as server:
        yield server


@pytest.fixture(scope="module")
def nats_server_module() -> Iterator[NatsServer]:
    """One running ``nats-server`` for a whole test module."""
    with NatsServer() as server:
        yield server

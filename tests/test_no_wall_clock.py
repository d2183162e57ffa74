"""The suite's promise: no test sleeps on the wall clock (tests/conftest.py guards it)."""

from __future__ import annotations

import asyncio

import anyio
import pytest


async def test_a_positive_sleep_on_a_real_loop_fails_the_test() -> None:
    """asyncio.sleep and anyio.sleep of a positive delay on a real loop raise at once."""
    with pytest.raises(AssertionError, match="wall clock"):
        await asyncio.sleep(0.01)
    with pytest.raises(AssertionError, match="wall clock"):
        await anyio.sleep(0.01)
    await asyncio.sleep(0)  # yielding a turn is not waiting


@pytest.mark.virtual_time
async def test_sleeping_on_virtual_time_is_allowed() -> None:
    """On a virtual loop a long sleep passes and takes no wall time."""
    await asyncio.sleep(3600)
    await anyio.sleep(60)
    assert asyncio.get_running_loop().time() == 3660
